"""Who we are and what we talk to: credentials, library clients, and Cloud vs Data Center detection.

We use atlassian-python-api for its session and authentication only; which client class we build and
with which options is decided here (docs/atlassian-behaviours.md, "The client library").
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import structlog
from atlassian import Jira
from atlassian.confluence import ConfluenceServer
from atlassian.rest_client import AtlassianRestAPI
from pydantic import SecretStr

from sync.atlassian.memory import SiteMemory
from sync.atlassian.transport import RestChannel, is_absolute
from sync.ports import AtlassianError, AuthFailed, DeploymentKind, PermissionDenied

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Credentials:
    """What can authenticate us: Cloud basic (email + API token) and/or a Data Center PAT."""

    email: str | None = None
    api_token: SecretStr | None = None
    pat: SecretStr | None = None
    product: str = "jira"  # whose settings these are, for the message when they cannot work

    def client_auth(self, deployment: DeploymentKind) -> dict[str, str]:
        """Client keyword arguments: Bearer PAT on Data Center when set, else basic auth."""
        if deployment == "datacenter" and self.pat:
            return {"token": self.pat.get_secret_value()}
        if self.email and self.api_token:
            return {"username": self.email, "password": self.api_token.get_secret_value()}
        if deployment == "datacenter" and self.product == "confluence":
            raise AuthFailed("Confluence on Data Center needs its own personal access token: set confluence.pat "
                             "(or confluence.pat_file); tokens are per product and Jira's is never sent to Confluence")
        needed = "email and api_token" if deployment == "cloud" else "pat (or email and api_token)"
        raise AuthFailed(f"{deployment} needs {needed}; none configured")

    def auth_options(self, likely: DeploymentKind = "cloud") -> list[dict[str, str]]:
        """Every configured way to authenticate, the likely deployment's first (no Cloud token to a DC server)."""
        options = []
        for deployment in (likely, "datacenter" if likely == "cloud" else "cloud"):
            try:
                auth = self.client_auth(deployment)
            except AuthFailed:
                continue
            if auth not in options:
                options.append(auth)
        return options


@dataclass(frozen=True)
class ClientOptions:
    """How library clients are built: TLS verification and timeout; library retries always off."""

    verify_ssl: bool = True
    timeout: int = 30

    def jira(self, url: str, deployment: DeploymentKind, auth: dict[str, Any]) -> Jira:
        """A Jira client (REST v2 paths are given explicitly by the adapter)."""
        return Jira(url, cloud=deployment == "cloud", **self._common(), **auth)

    def confluence(self, url: str, deployment: DeploymentKind, auth: dict[str, Any]) -> ConfluenceServer:
        """The v1 server client, also on Cloud at <site>/wiki (the Cloud class lacks page methods)."""
        # The library's ConfluenceServer.__init__(url, *args, **kwargs) has no annotations.
        return ConfluenceServer(url, cloud=deployment == "cloud", **self._common(), **auth)  # type: ignore[no-untyped-call]

    def _common(self) -> dict[str, Any]:
        # backoff_and_retry re-sends POSTs; retry_with_header gives up after one 429 (sync.retry decides)
        return {
            "verify_ssl": self.verify_ssl,
            "timeout": self.timeout,
            "backoff_and_retry": False,
            "retry_with_header": False,
        }


class Connection:
    """A library client built on first use, once the deployment is known; constructing it does no I/O.

    `url` is where REST calls go (the site, or Atlassian's API gateway for a scoped token); `site` is
    the site as people open it in a browser, which every link we write points at.
    """

    def __init__(
        self,
        url: str,
        deployment: DeploymentKind | Callable[[], DeploymentKind],
        build: Callable[[str, DeploymentKind], AtlassianRestAPI],
        *,
        site: str | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.site = (site or url).rstrip("/")
        self._deployment = deployment
        self._build = build
        self._client: AtlassianRestAPI | None = None
        self._lock = threading.RLock()

    @property
    def deployment(self) -> DeploymentKind:
        """cloud or datacenter, resolved once."""
        with self._lock:
            if callable(self._deployment):
                self._deployment = self._deployment()
            return self._deployment

    @property
    def client(self) -> AtlassianRestAPI:
        """The authenticated client for the resolved deployment."""
        with self._lock:
            if self._client is None:
                self._client = self._build(self.url, self.deployment)
            return self._client

    def browse_base(self, announced: str | None) -> str:
        """Where links people click start: the base an answer announces when it is on the site, else the site."""
        if announced and urlsplit(announced).netloc == urlsplit(self.site).netloc:
            return announced.rstrip("/")
        return self.site

    def api_link(self, link: str) -> str:
        """A next link as a URL on our REST base: relative ones appended, the site's moved onto the gateway."""
        if not is_absolute(link):
            return self.url + "/" + link.lstrip("/")
        if link.startswith(self.site + "/") and self.site != self.url:
            return self.url + link[len(self.site):]
        if urlsplit(link).netloc != urlsplit(self.url).netloc:
            raise AtlassianError("Confluence returned a next link to another host; refusing to follow it")
        return link


def remembered_deployment(memory: SiteMemory, url: str, detect: Callable[[], DeploymentKind]) -> DeploymentKind:
    """The deployment remembered for url, else detected now and remembered."""
    known = memory.recall(url).get("deployment")
    if known in ("cloud", "datacenter"):
        log.info("deployment_remembered", deployment=known)
        return known  # type: ignore[return-value]
    deployment = detect()
    memory.remember(url, deployment=deployment)
    return deployment


def anonymous_server_info(url: str, channel: RestChannel, options: ClientOptions) -> dict[str, Any]:
    """Jira's serverInfo asked without credentials: both deployments answer it anonymously."""
    with options.jira(url, "datacenter", {}) as client:
        return channel.send(client, "GET", "rest/api/2/serverInfo", idempotent=True) or {}


def deployment_of(info: dict[str, Any]) -> DeploymentKind:
    """cloud or datacenter, as a serverInfo document says (`deploymentType` Cloud, or Server/Data Center)."""
    return "cloud" if str(info.get("deploymentType", "")).lower() == "cloud" else "datacenter"


def detect_deployment(
    url: str, credentials: Credentials, channel: RestChannel, options: ClientOptions
) -> DeploymentKind:
    """Ask Jira's serverInfo which deployment this is: anonymously first, then with each credential."""
    likely: DeploymentKind = "cloud" if (urlsplit(url).hostname or "").endswith(".atlassian.net") else "datacenter"
    for auth in [{}, *credentials.auth_options(likely)]:
        try:
            with options.jira(url, "cloud" if "username" in auth else "datacenter", auth) as client:
                info = channel.send(client, "GET", "rest/api/2/serverInfo", idempotent=True) or {}
        except (AuthFailed, PermissionDenied):
            continue
        deployment: DeploymentKind = "cloud" if str(info.get("deploymentType", "")).lower() == "cloud" else "datacenter"
        log.info("deployment_detected", deployment=deployment)
        return deployment
    raise AuthFailed("Jira rejected every configured credential when asked for serverInfo: check the email "
                     "and API token (Cloud) or the PAT (Data Center); jira.deployment skips this detection",
                     status=401)
