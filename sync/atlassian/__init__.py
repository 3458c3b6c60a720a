"""Thin adapters implementing `sync.ports` over atlassian-python-api; Cloud/Data Center differences live here.

- `transport`: `RestChannel`, the one way a call goes out (pacer, retry policy, counting, errors, scrubbing);
- `connection`: credentials, library clients, REST base vs browse URL, and Cloud vs Data Center detection;
- `memory`: what was learnt about a site (its deployment, Confluence v1's retirement), kept between runs;
- `jira` / `jira_json`: the Jira adapter, and Jira's JSON to and from our models;
- `confluence`: the Confluence adapter, which picks an API generation per call: `pages_v1`, `pages_v2`.

The library's own retries are off, and its convenience methods are avoided where they are wrong
(docs/atlassian-behaviours.md, "The client library"): we call explicit `/rest/...` paths. Queries
are built in `sync.query`, never here.
"""

from __future__ import annotations

from collections.abc import Callable

from sync.atlassian.confluence import ConfluenceAdapter
from sync.atlassian.connection import (
    ClientOptions,
    Connection,
    Credentials,
    anonymous_server_info,
    detect_deployment,
    remembered_deployment,
)
from sync.atlassian.jira import JiraAdapter
from sync.atlassian.memory import MetaStore, SiteMemory, contradicts_deployment
from sync.atlassian.transport import RestChannel
from sync.ports import AtlassianError, DeploymentKind
from sync.retry import Pacer, RetryPolicy
from sync.settings import RetrySettings, Settings
from sync.settings.section import gateway_product

__all__ = ["ClientOptions", "ConfluenceAdapter", "JiraAdapter", "make_adapters", "retry_policy"]


def retry_policy(settings: RetrySettings) -> RetryPolicy:
    """The retry policy configured in `[retry]`."""
    return RetryPolicy(
        max_attempts=settings.max_attempts,
        max_total_seconds=settings.max_total_seconds,
        cap_seconds=settings.backoff_cap_seconds,
    )


def make_adapters(
    settings: Settings, *, policy: RetryPolicy | None = None, pacer: Pacer | None = None,
    memory: MetaStore | None = None,
) -> tuple[JiraAdapter, ConfluenceAdapter]:
    """Adapters sharing one pacer and retry policy; deployment detection waits for the first call.

    With `memory` (the state), what is learnt about the sites is kept there for the next run: a
    `once` every few minutes then detects the deployment once, not every time.
    """
    pacer = pacer or Pacer(settings.sync.max_requests_per_second)
    policy = policy or retry_policy(settings.retry)
    secrets = settings.secret_values()
    sites = SiteMemory(memory)
    jira_base = settings.jira.api_url or settings.jira.url

    def doubt(error: AtlassianError, operation: str) -> None:
        if contradicts_deployment(error, operation):
            sites.forget(jira_base)

    jira_channel = RestChannel(pacer=pacer, policy=policy, secrets=secrets, on_failure=doubt)
    jira_connection = _jira_connection(settings, jira_channel, sites)
    j = settings.jira
    jira = JiraAdapter(jira_connection, jira_channel, project=j.project, done_transition=j.done_transition,
                       done_resolution=j.done_resolution, removed_resolution=j.removed_resolution,
                       epic_issue_type=j.epic.issue_type if j.epic.enabled else None,
                       site_info=lambda: anonymous_server_info(jira_base, jira_channel, _client_options(settings)))
    confluence_channel = RestChannel(pacer=pacer, policy=policy, secrets=secrets)
    confluence = ConfluenceAdapter(_confluence_connection(settings, jira_connection), confluence_channel, sites)
    return jira, confluence


def _client_options(settings: Settings) -> ClientOptions:
    # jira.verify_ssl is documented as covering Confluence too; there is no confluence.verify_ssl.
    return ClientOptions(verify_ssl=settings.jira.verify_ssl, timeout=settings.sync.request_timeout_seconds)


def _jira_connection(settings: Settings, channel: RestChannel, sites: SiteMemory) -> Connection:
    """Jira's client: the configured deployment, Cloud behind the gateway, else remembered or asked on first use."""
    jira, options = settings.jira, _client_options(settings)
    credentials = Credentials(jira.email, jira.api_token, jira.pat)
    base = jira.api_url or jira.url
    deployment: DeploymentKind | Callable[[], DeploymentKind]
    if jira.deployment != "auto":
        deployment = jira.deployment
    elif gateway_product(base):
        deployment = "cloud"  # only Cloud sites are reached through the API gateway
    else:
        deployment = lambda: remembered_deployment(  # noqa: E731
            sites, base, lambda: detect_deployment(base, credentials, channel, options))
    build = lambda url, kind: options.jira(url, kind, credentials.client_auth(kind))  # noqa: E731
    return Connection(base, deployment, build, site=jira.url)


def _confluence_connection(settings: Settings, jira_connection: Connection) -> Connection:
    """Confluence's client: its own credentials, else Jira's email and API token (Cloud) but never Jira's personal
    access token (Data Center tokens are per product); an auto deployment follows Jira's (Cloud on the gateway)."""
    jira, confluence, options = settings.jira, settings.confluence, _client_options(settings)
    credentials = Credentials(confluence.email or jira.email, confluence.api_token or jira.api_token, confluence.pat,
                              product="confluence")
    base = confluence.api_url or confluence.url
    deployment: DeploymentKind | Callable[[], DeploymentKind]
    if confluence.deployment != "auto":
        deployment = confluence.deployment
    elif gateway_product(base):
        deployment = "cloud"
    else:
        deployment = lambda: jira_connection.deployment  # noqa: E731
    build = lambda url, kind: options.confluence(url, kind, credentials.client_auth(kind))  # noqa: E731
    return Connection(base, deployment, build, site=confluence.url)
