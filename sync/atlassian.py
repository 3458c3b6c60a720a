"""Thin adapters implementing `sync.ports` over atlassian-python-api; Cloud/Data Center differences live here.

Every HTTP call goes through one `RestChannel`: the shared pacer, the single retry policy
(`sync.retry`), a request counter, and the mapping of HTTP failures to port exceptions with
credentials scrubbed. The library's own retries are off, and its convenience methods are avoided
where they are wrong (docs/atlassian-behaviours.md, "The client library"): we call explicit `/rest/...` paths.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import structlog
from atlassian import Jira
from atlassian.confluence import ConfluenceServer
from atlassian.rest_client import AtlassianRestAPI
from pydantic import SecretStr

from sync.models import CreateResult, IssueFields, IssueSnapshot, Owner, Page
from sync.ports import (
    SNAPSHOT_FIELDS,
    AtlassianError,
    AuthFailed,
    CreateInterrupted,
    DeploymentKind,
    NotFound,
    PermissionDenied,
    RateLimited,
    VersionConflict,
)
from sync.retry import Pacer, RetryPolicy, server_wait_hint, status_of
from sync.settings import RetrySettings, Settings

log = structlog.get_logger(__name__)

BULK_CREATE_LIMIT = 50  # Jira rejects larger issue/bulk requests
SPRINT_MOVE_LIMIT = 50  # agile sprint/epic moves accept at most 50 keys
SEARCH_PAGE_SIZE = 100
MAX_GET_JQL_LENGTH = 1500  # longer queries go in a POST body, away from URL length limits
MAX_GLOBAL_ID_LENGTH = 255
MAX_SUMMARY_LENGTH = 255
PAGE_EXPAND = "body.storage,version,space,history.lastUpdated,metadata.labels"
STATUS_CATEGORIES = ("new", "indeterminate", "done")
_ERRORS_BY_STATUS: dict[int, type[AtlassianError]] = {
    401: AuthFailed, 403: PermissionDenied, 404: NotFound, 409: VersionConflict,
}


# --- wiki text -------------------------------------------------------------------------------------


_NOFORMAT = re.compile(r"\{(?=noformat)", re.IGNORECASE)


def wiki_text(text: str) -> str:
    """Plain text as Jira wiki markup that renders verbatim: a {noformat} block, inner tags neutralised."""
    if not text.strip():
        return ""
    return "{noformat}\n" + _NOFORMAT.sub("{ ", text) + "\n{noformat}"


def summary_text(text: str) -> str:
    """A valid Jira summary: one line, at most 255 characters."""
    line = " ".join(text.split())
    return line if len(line) <= MAX_SUMMARY_LENGTH else line[: MAX_SUMMARY_LENGTH - 1] + "…"


# --- transport -------------------------------------------------------------------------------------


class RestChannel:
    """Sends calls through the pacer and the retry policy, counts attempts and maps failures."""

    def __init__(self, *, pacer: Pacer, policy: RetryPolicy, secrets: Sequence[str] = ()) -> None:
        self._pacer, self._policy = pacer, policy
        self._secrets = tuple(sorted((s for s in secrets if s), key=len, reverse=True))
        self._count = 0
        self._lock = threading.Lock()

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._count

    def send(
        self,
        client: AtlassianRestAPI,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        idempotent: bool,
        tolerate: Sequence[int] = (),
    ) -> Any:
        """The JSON answer of one call (None when empty); a port exception when it fails."""
        operation = f"{method} {urlsplit(path).path or path}"

        def attempt() -> Any:
            self._pacer.acquire()
            with self._lock:
                self._count += 1
            try:
                response = client.request(method, path, params=params, data=body, absolute=_is_absolute(path))
            except requests.HTTPError as exc:
                if status_of(exc) in tolerate:
                    return _json(exc.response)
                raise
            return _json(response)

        try:
            return self._policy.call(attempt, idempotent=idempotent, operation=operation)
        except requests.HTTPError as exc:
            raise self._http_error(exc, operation) from None
        except requests.RequestException as exc:
            raise AtlassianError(self.scrub(f"{operation} failed: {type(exc).__name__}: {exc}")) from None

    def scrub(self, text: str) -> str:
        """Text with every configured secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _http_error(self, exc: requests.HTTPError, operation: str) -> AtlassianError:
        status = status_of(exc)
        message = self.scrub(f"{operation}: {str(exc).strip() or 'failed'}")[:1000]
        if status == 429:
            return RateLimited(message, retry_after=server_wait_hint(exc, now=self._policy.clock()))
        return _ERRORS_BY_STATUS.get(status or 0, AtlassianError)(message, status=status)


def _is_absolute(path: str) -> bool:
    return bool(urlsplit(path).scheme)


def _json(response: requests.Response | None) -> Any:
    if response is None or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None


@dataclass(frozen=True)
class Credentials:
    """What can authenticate us: Cloud basic (email + API token) and/or a Data Center PAT."""

    email: str | None = None
    api_token: SecretStr | None = None
    pat: SecretStr | None = None

    def client_auth(self, deployment: DeploymentKind) -> dict[str, str]:
        """Client keyword arguments: Bearer PAT on Data Center when set, else basic auth."""
        if deployment == "datacenter" and self.pat:
            return {"token": self.pat.get_secret_value()}
        if self.email and self.api_token:
            return {"username": self.email, "password": self.api_token.get_secret_value()}
        needed = "email and api_token" if deployment == "cloud" else "pat (or email and api_token)"
        raise AuthFailed(f"{deployment} needs {needed}; none configured")

    def auth_options(self, likely: DeploymentKind = "cloud") -> list[dict[str, str]]:
        """Every configured way to authenticate, the likely deployment's first (no Cloud token to a DC server)."""
        options = []
        for deployment in (likely, "datacenter" if likely == "cloud" else "cloud"):
            try:
                auth = self.client_auth(deployment)  # type: ignore[arg-type]
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

    def jira(self, url: str, deployment: DeploymentKind, auth: dict[str, str]) -> Jira:
        """A Jira client (REST v2 paths are given explicitly by the adapter)."""
        return Jira(url, cloud=deployment == "cloud", **self._common(), **auth)

    def confluence(self, url: str, deployment: DeploymentKind, auth: dict[str, str]) -> ConfluenceServer:
        """The v1 server client, also on Cloud at <site>/wiki (the Cloud class lacks page methods)."""
        return ConfluenceServer(url, cloud=deployment == "cloud", **self._common(), **auth)

    def _common(self) -> dict[str, Any]:
        return {
            "verify_ssl": self.verify_ssl,
            "timeout": self.timeout,
            "backoff_and_retry": False,
            "retry_with_header": False,
        }


class Connection:
    """A library client built on first use, once the deployment is known; constructing it does no I/O."""

    def __init__(
        self,
        url: str,
        deployment: DeploymentKind | Callable[[], DeploymentKind],
        build: Callable[[str, DeploymentKind], AtlassianRestAPI],
    ) -> None:
        self.url = url.rstrip("/")
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


# --- parsing ---------------------------------------------------------------------------------------


def parse_time(value: str | None) -> datetime | None:
    """An aware datetime from Jira/Confluence timestamps (`...000+0000`, `...Z`); naive means UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def parse_date(value: str | None) -> date | None:
    """A date from `YYYY-MM-DD`, or None."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def parse_issue(raw: dict, *, cloud: bool) -> IssueSnapshot:
    """An IssueSnapshot from a Jira issue document (v2 or v3; only non-ADF fields are read)."""
    fields = raw.get("fields") or {}
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    assignee = fields.get("assignee") or {}
    return IssueSnapshot(
        key=raw["key"],
        summary=fields.get("summary") or "",
        status=status.get("name") or "",
        status_category=category if category in STATUS_CATEGORIES else "indeterminate",
        labels=tuple(fields.get("labels") or ()),
        assignee=assignee.get("accountId" if cloud else "name"),
        assignee_display=assignee.get("displayName"),
        due=parse_date(fields.get("duedate")),
        priority=(fields.get("priority") or {}).get("name"),
        issue_type=(fields.get("issuetype") or {}).get("name"),
        project=(fields.get("project") or {}).get("key"),
        created=parse_time(fields.get("created")),
        updated=parse_time(fields.get("updated")),
        resolved=parse_time(fields.get("resolutiondate")),
        id=str(raw["id"]) if raw.get("id") is not None else None,
    )


def parse_page(content: dict, *, site: str) -> Page:
    """A Page from a Confluence v1 content document expanded with PAGE_EXPAND."""
    version = content.get("version") or {}
    history = content.get("history") or {}
    labels = ((content.get("metadata") or {}).get("labels") or {}).get("results") or ()
    webui = (content.get("_links") or {}).get("webui")
    return Page(
        id=str(content["id"]),
        title=content.get("title") or "",
        version=int(version.get("number") or 0),
        body=((content.get("body") or {}).get("storage") or {}).get("value") or "",
        space=(content.get("space") or {}).get("key"),
        url=site + webui if webui else None,
        last_modified=parse_time((history.get("lastUpdated") or {}).get("when") or version.get("when")),
        labels=tuple(label["name"] for label in labels if label.get("name")),
    )


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _segment(value: object) -> str:
    return quote(str(value), safe="")


# --- Confluence ------------------------------------------------------------------------------------


class ConfluenceAdapter:
    """ConfluencePort over the v1 REST API (`<site>/wiki/rest/api` on Cloud, `/rest/api` on Data Center)."""

    def __init__(self, connection: Connection, channel: RestChannel) -> None:
        self._connection = connection
        self._channel = channel

    @property
    def request_count(self) -> int:
        """HTTP requests sent to Confluence, retries included."""
        return self._channel.request_count

    def find_pages(self, cql: str, *, limit: int = 50) -> Iterator[Page]:
        """Pages matching CQL with bodies, following `_links.next` (Cloud cursor, Data Center start)."""
        document = self._get("rest/api/content/search", cql=cql, limit=limit, expand=PAGE_EXPAND)
        while document:
            site = self._site(document)
            for content in document.get("results") or ():
                yield parse_page(content, site=site)
            next_link = (document.get("_links") or {}).get("next")
            document = self._get(self._follow(next_link, site)) if next_link else None

    def get_page(self, page_id: str) -> Page:
        """One page with its storage body; NotFound if absent."""
        document = self._get(f"rest/api/content/{_segment(page_id)}", expand=PAGE_EXPAND)
        return parse_page(document, site=self._site(document))

    def update_page(self, page: Page, body: str, *, message: str, minor_edit: bool = True) -> Page:
        """Our own PUT with version page.version + 1 (optimistic locking); VersionConflict on 409."""
        payload = {
            "id": page.id,
            "type": "page",
            "title": page.title,
            "version": {"number": page.version + 1, "minorEdit": minor_edit, "message": message},
            "body": {"storage": {"value": body, "representation": "storage"}},
        }
        document = self._send("PUT", f"rest/api/content/{_segment(page.id)}", payload, idempotent=True) or {}
        version = document.get("version") or {}
        return replace(
            page,
            version=int(version.get("number") or page.version + 1),
            body=body,
            last_modified=parse_time(version.get("when")) or page.last_modified,
        )

    def create_page(self, space: str, title: str, body: str, parent_id: str | None) -> Page:
        """A new page; never retried after the server may have created it."""
        payload: dict[str, Any] = {
            "type": "page",
            "title": title,
            "space": {"key": space},
            "body": {"storage": {"value": body, "representation": "storage"}},
        }
        if parent_id:
            payload["ancestors"] = [{"id": str(parent_id)}]
        document = self._send("POST", "rest/api/content", payload, idempotent=False) or {}
        page = parse_page(document, site=self._site(document))
        return page if page.body else replace(page, body=body)

    def find_page(self, space: str, title: str) -> Page | None:
        """The current page with exactly this title in space, or None."""
        document = self._get(
            "rest/api/content", type="page", spaceKey=space, title=title, expand=PAGE_EXPAND, limit=1
        ) or {}
        results = document.get("results") or []
        return parse_page(results[0], site=self._site(document)) if results else None

    def can_edit(self, page_id: str) -> bool | None:
        """GET content/{id}?expand=operations: whether `update` is among what we may do."""
        document = self._get(f"rest/api/content/{_segment(page_id)}", expand="operations") or {}
        operations = document.get("operations")
        if not isinstance(operations, list):
            return None
        return any(isinstance(o, dict) and o.get("operation") == "update" for o in operations)

    def get_property(self, page_id: str, key: str) -> tuple[object, int] | None:
        """GET content/{id}/property/{key}; None on 404."""
        try:
            document = self._get(f"rest/api/content/{_segment(page_id)}/property/{_segment(key)}") or {}
        except NotFound:
            return None
        return document.get("value"), int((document.get("version") or {}).get("number") or 1)

    def set_property(self, page_id: str, key: str, value: object, version: int | None) -> None:
        """POST a new property or PUT version + 1; a lost race (409, or 400 for an existing key) -> VersionConflict."""
        base = f"rest/api/content/{_segment(page_id)}/property"
        try:
            if version is None:
                self._send("POST", base, {"key": key, "value": value}, idempotent=False)
            else:
                self._send("PUT", f"{base}/{_segment(key)}",
                           {"key": key, "value": value, "version": {"number": version + 1}}, idempotent=False)
        except AtlassianError as exc:
            if exc.status in (400, 409) and not isinstance(exc, VersionConflict):
                raise VersionConflict(exc.message, status=exc.status) from None
            raise

    def page_url(self, page: Page) -> str:
        """The page's web URL as Confluence reported it, else the stable viewpage URL."""
        return page.url or f"{self._connection.url}/pages/viewpage.action?pageId={page.id}"

    def _site(self, document: dict | None) -> str:
        """The site base for relative links: Confluence's `_links.base` if on our host, else our URL."""
        base = ((document or {}).get("_links") or {}).get("base")
        if base and urlsplit(base).netloc == urlsplit(self._connection.url).netloc:
            return base.rstrip("/")
        return self._connection.url

    def _follow(self, link: str, site: str) -> str:
        if not _is_absolute(link):
            return site + "/" + link.lstrip("/")
        if urlsplit(link).netloc != urlsplit(self._connection.url).netloc:
            raise AtlassianError("Confluence returned a next link to another host; refusing to follow it")
        return link

    def _get(self, path: str, **params: Any) -> Any:
        return self._channel.send(self._connection.client, "GET", path, params=params or None, idempotent=True)

    def _send(self, method: str, path: str, body: Any, *, idempotent: bool) -> Any:
        return self._channel.send(self._connection.client, method, path, body=body, idempotent=idempotent)


# --- Jira ------------------------------------------------------------------------------------------


class JiraAdapter:
    """JiraPort over REST v2 (writes, both deployments), v3 search/jql (Cloud) and the agile API."""

    def __init__(
        self,
        connection: Connection,
        channel: RestChannel,
        *,
        project: str = "",
        done_transition: str | None = None,
    ) -> None:
        self._connection = connection
        self._channel = channel
        self._project = project
        self._done_transition = done_transition
        self._done_transition_seen: dict | None = None
        self._assignees: dict[tuple[str, str], dict | None] = {}
        self._assignees_lock = threading.Lock()

    @property
    def deployment(self) -> DeploymentKind:
        """cloud or datacenter (detected from serverInfo on first use when configured as auto)."""
        return self._connection.deployment

    @property
    def request_count(self) -> int:
        """HTTP requests sent to Jira, retries included."""
        return self._channel.request_count

    def server_info(self) -> dict:
        """Jira's serverInfo document."""
        return self._get("rest/api/2/serverInfo") or {}

    # reads

    def search(self, jql: str, *, fields: Sequence[str] = SNAPSHOT_FIELDS) -> Iterator[IssueSnapshot]:
        """Every matching issue: Cloud `/3/search/jql` by nextPageToken, Data Center `/2/search` by startAt."""
        if self.deployment == "cloud":
            return self._search_cloud(jql, fields)
        return self._search_datacenter(jql, fields)

    def get_issue(self, key: str) -> IssueSnapshot:
        """One issue; NotFound if absent."""
        document = self._get(f"rest/api/2/issue/{_segment(key)}", fields=",".join(SNAPSHOT_FIELDS))
        return parse_issue(document, cloud=self.deployment == "cloud")

    def _search_cloud(self, jql: str, fields: Sequence[str]) -> Iterator[IssueSnapshot]:
        query: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": SEARCH_PAGE_SIZE}
        while True:
            document = self._search_page("rest/api/3/search/jql", query) or {}
            for raw in document.get("issues") or ():
                yield parse_issue(raw, cloud=True)
            token = document.get("nextPageToken")
            if not token or document.get("isLast"):
                return
            query["nextPageToken"] = token

    def _search_datacenter(self, jql: str, fields: Sequence[str]) -> Iterator[IssueSnapshot]:
        query: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": SEARCH_PAGE_SIZE, "startAt": 0}
        while True:
            document = self._search_page("rest/api/2/search", query) or {}
            issues = document.get("issues") or []
            for raw in issues:
                yield parse_issue(raw, cloud=False)
            query["startAt"] += len(issues)
            if not issues or query["startAt"] >= int(document.get("total") or 0):
                return

    def _search_page(self, path: str, query: dict[str, Any]) -> Any:
        """GET with the query in the URL; POST (still a read) when the JQL is too long for a URL."""
        if len(query["jql"]) > MAX_GET_JQL_LENGTH:
            return self._send("POST", path, query, idempotent=True)
        return self._get(path, **{**query, "fields": ",".join(query["fields"])})

    # creates

    def create_issues(self, fields: Sequence[IssueFields]) -> list[CreateResult]:
        """Bulk create in chunks of 50; one result per input; CreateInterrupted when a chunk fails."""
        results: list[CreateResult] = []
        for chunk in _chunks(fields, BULK_CREATE_LIMIT):
            try:
                results += self._create_chunk(chunk)
            except AtlassianError as exc:
                message = f"bulk create stopped after {len(results)} of {len(fields)} issues: {exc.message}"
                raise CreateInterrupted(message, status=exc.status, results=results) from None
        if self.deployment == "datacenter":
            self._link_epics(fields, results)
        return results

    def _create_chunk(self, chunk: Sequence[IssueFields]) -> list[CreateResult]:
        payload = {"issueUpdates": [{"fields": self._create_fields(item)} for item in chunk]}
        document = self._send("POST", "rest/api/2/issue/bulk", payload, idempotent=False, tolerate=(400,))
        return bulk_results(document, len(chunk))

    def _create_fields(self, item: IssueFields) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "project": {"key": item.project or self._project},
            "issuetype": {"name": item.issue_type},
            "summary": summary_text(item.summary),
        }
        if item.description.strip():
            fields["description"] = wiki_text(item.description)
        if item.labels:
            fields["labels"] = list(item.labels)
        if item.due:
            fields["duedate"] = item.due.isoformat()
        if item.priority:
            fields["priority"] = {"name": item.priority}
        if item.components:
            fields["components"] = [{"name": name} for name in item.components]
        assignee = self.resolve_assignee(item.assignee) if item.assignee else None
        if assignee:
            fields["assignee"] = assignee
        if item.parent_key and self.deployment == "cloud":
            fields["parent"] = {"key": item.parent_key}  # Data Center: the agile epic API, after creating
        return fields

    def _link_epics(self, fields: Sequence[IssueFields], results: Sequence[CreateResult]) -> None:
        """Data Center: move created issues under their epics; a failure is logged, the issues exist."""
        by_epic: dict[str, list[str]] = {}
        for item, result in zip(fields, results):
            if item.parent_key and result.key:
                by_epic.setdefault(item.parent_key, []).append(result.key)
        for epic, keys in by_epic.items():
            for chunk in _chunks(keys, SPRINT_MOVE_LIMIT):
                try:
                    path = f"rest/agile/1.0/epic/{_segment(epic)}/issue"
                    self._send("POST", path, {"issues": list(chunk)}, idempotent=True)
                except AtlassianError as exc:
                    log.warning("epic_link_failed", epic=epic, issue_keys=list(chunk), status=exc.status)

    # updates

    def update_issue(self, key: str, changes: dict[str, object]) -> None:
        """PUT the changes (IssueFields names, plus labels_add / labels_remove) in one request."""
        fields: dict[str, Any] = {}
        update: dict[str, list[dict[str, str]]] = {}
        for name, value in changes.items():
            if name in ("labels_add", "labels_remove"):
                verb = name.removeprefix("labels_")
                update.setdefault("labels", []).extend({verb: label} for label in value)  # type: ignore[attr-defined]
            else:
                fields.update(self._field_change(key, name, value))
        payload = {part: content for part, content in (("fields", fields), ("update", update)) if content}
        if payload:
            self._send("PUT", f"rest/api/2/issue/{_segment(key)}", payload, idempotent=True)

    def _field_change(self, key: str, name: str, value: Any) -> dict[str, Any]:
        """The `fields` entries for one change; an unresolvable assignee leaves the assignee alone."""
        if name == "summary":
            return {"summary": summary_text(value)}
        if name == "description":
            return {"description": wiki_text(value or "")}
        if name == "due":
            return {"duedate": value.isoformat() if value else None}
        if name == "priority":
            return {"priority": {"name": value} if value else None}
        if name == "components":
            return {"components": [{"name": component} for component in value]}
        if name == "assignee":
            if value is None:
                return {"assignee": None}
            assignee = self.resolve_assignee(value)
            if assignee is None:
                log.warning("assignee_unresolved", issue_key=key)
                return {}
            return {"assignee": assignee}
        raise ValueError(f"unknown issue change {name!r}")

    def transition_to_done(self, key: str) -> bool:
        """The configured done transition, else the first one into a done-category status."""
        if self._done_transition:
            return self.transition(key, self._done_transition)
        known = self._done_transition_seen
        if known is not None:  # one workflow per project: skip the GET, fall back to it if Jira says no
            try:
                return self._apply_transition(key, known)
            except AtlassianError as exc:
                if exc.status != 400:
                    raise
        options = self._transitions(key)
        chosen = next((t for t in options if _target_category(t) == "done"), None)
        if chosen is not None:
            self._done_transition_seen = chosen
        return self._apply_transition(key, chosen)

    def transition(self, key: str, name: str) -> bool:
        """The transition with this name, else the one into a status with this name; False if none."""
        wanted = name.casefold()
        options = self._transitions(key)
        chosen = next((t for t in options if str(t.get("name", "")).casefold() == wanted), None) or next(
            (t for t in options if str((t.get("to") or {}).get("name", "")).casefold() == wanted), None
        )
        return self._apply_transition(key, chosen)

    def _transitions(self, key: str) -> list[dict]:
        return (self._get(f"rest/api/2/issue/{_segment(key)}/transitions") or {}).get("transitions") or []

    def _apply_transition(self, key: str, transition: dict | None) -> bool:
        if transition is None:
            return False
        payload = {"transition": {"id": str(transition["id"])}}
        self._send("POST", f"rest/api/2/issue/{_segment(key)}/transitions", payload, idempotent=False)
        return True

    def create_screen_fields(self, project: str, issue_type: str) -> set[str]:
        """createmeta of the project's issue type (Cloud: `issueTypes`/`fields`; Data Center: `values`)."""
        base = f"rest/api/2/issue/createmeta/{_segment(project)}/issuetypes"
        listing = self._get(base, maxResults=200) or {}
        types = listing.get("issueTypes") or listing.get("values") or []
        wanted = next((t for t in types if str(t.get("name", "")).lower() == issue_type.lower()), None)
        if wanted is None:
            raise NotFound(f"issue type {issue_type!r} is not available in project {project}", status=404)
        document = self._get(f"{base}/{_segment(str(wanted['id']))}", maxResults=200) or {}
        return {str(f.get("fieldId") or f.get("key")) for f in document.get("fields") or document.get("values") or []}

    def add_comment(self, key: str, text: str) -> None:
        """A plain-text comment, rendered verbatim."""
        payload = {"body": wiki_text(text)}
        self._send("POST", f"rest/api/2/issue/{_segment(key)}/comment", payload, idempotent=False)

    def add_remote_link(self, key: str, url: str, title: str, global_id: str) -> None:
        """Create or update the link with this global id (an upsert, so retrying is safe)."""
        if len(global_id) > MAX_GLOBAL_ID_LENGTH:
            raise ValueError(f"global_id longer than {MAX_GLOBAL_ID_LENGTH} characters")
        payload = {"globalId": global_id, "object": {"url": url, "title": title}}
        self._send("POST", f"rest/api/2/issue/{_segment(key)}/remotelink", payload, idempotent=True)

    # agile

    def active_sprint(self, board_id: int) -> int | None:
        """The first active sprint of the board, or None."""
        document = self._get(f"rest/agile/1.0/board/{_segment(board_id)}/sprint", state="active") or {}
        values = document.get("values") or []
        return int(values[0]["id"]) if values else None

    def add_to_sprint(self, sprint_id: int, keys: Sequence[str]) -> None:
        """Move issues into the sprint, 50 per request (moving twice is harmless)."""
        for chunk in _chunks(list(keys), SPRINT_MOVE_LIMIT):
            path = f"rest/agile/1.0/sprint/{_segment(sprint_id)}/issue"
            self._send("POST", path, {"issues": list(chunk)}, idempotent=True)

    # users

    def resolve_assignee(self, owner: Owner) -> dict | None:
        """Cloud `{"accountId"}` / Data Center `{"name"}` for a known user, else None; cached per owner."""
        if self.deployment == "cloud" and owner.account_id:
            # The mention already is Jira's identifier; an unknown or inactive account is reported by
            # the create itself (per item in a bulk create), which is cheaper than a lookup per person.
            return {"accountId": owner.account_id}
        if self.deployment == "datacenter" and owner.username and not owner.userkey:
            return {"name": owner.username}
        lookup = self._user_lookup(owner)
        if lookup is None:
            return None
        with self._assignees_lock:
            if lookup in self._assignees:
                return self._assignees[lookup]
        try:
            user = self._get("rest/api/2/user", **{lookup[0]: lookup[1]}) or {}
        except NotFound:
            user = {}
        attribute = "accountId" if self.deployment == "cloud" else "name"
        assignee = {attribute: user[attribute]} if user.get(attribute) else None
        with self._assignees_lock:
            self._assignees[lookup] = assignee
        return assignee

    def _user_lookup(self, owner: Owner) -> tuple[str, str] | None:
        """The user query for this owner: accountId on Cloud; userkey, else username, on Data Center."""
        if self.deployment == "cloud":
            return ("accountId", owner.account_id) if owner.account_id else None
        if owner.userkey:
            return ("key", owner.userkey)
        return ("username", owner.username) if owner.username else None

    # transport

    def _get(self, path: str, **params: Any) -> Any:
        return self._channel.send(self._connection.client, "GET", path, params=params or None, idempotent=True)

    def _send(
        self, method: str, path: str, body: Any, *, idempotent: bool, tolerate: Sequence[int] = ()
    ) -> Any:
        client = self._connection.client
        return self._channel.send(client, method, path, body=body, idempotent=idempotent, tolerate=tolerate)


def _target_category(transition: dict) -> str | None:
    return (((transition.get("to") or {}).get("statusCategory")) or {}).get("key")


def bulk_results(document: Any, count: int) -> list[CreateResult]:
    """One CreateResult per element of a bulk request, errors placed by `failedElementNumber`."""
    if not isinstance(document, dict) or ("issues" not in document and "errors" not in document):
        raise AtlassianError("bulk create rejected without per-issue errors", status=400)
    failures = {
        int(error["failedElementNumber"]): _element_error(error)
        for error in document.get("errors") or ()
        if error.get("failedElementNumber") is not None
    }
    created = iter(document.get("issues") or ())
    results = []
    for index in range(count):
        if index in failures:
            results.append(CreateResult(key=None, error=failures[index]))
            continue
        issue = next(created, None)
        results.append(CreateResult(key=issue["key"]) if issue else CreateResult(key=None, error="no issue returned"))
    return results


def _element_error(error: dict) -> str:
    details = error.get("elementErrors") or {}
    messages = list(details.get("errorMessages") or [])
    messages += [f"{field}: {text}" for field, text in (details.get("errors") or {}).items()]
    return "; ".join(messages) or f"rejected (HTTP {error.get('status', '?')})"


# --- wiring ----------------------------------------------------------------------------------------


def retry_policy(settings: RetrySettings) -> RetryPolicy:
    """The retry policy configured in `[retry]`."""
    return RetryPolicy(
        max_attempts=settings.max_attempts,
        max_total_seconds=settings.max_total_seconds,
        cap_seconds=settings.backoff_cap_seconds,
    )


def make_adapters(
    settings: Settings, *, policy: RetryPolicy | None = None, pacer: Pacer | None = None
) -> tuple[JiraAdapter, ConfluenceAdapter]:
    """Adapters sharing one pacer and retry policy; deployment detection waits for the first call."""
    pacer = pacer or Pacer(settings.sync.max_requests_per_second)
    policy = policy or retry_policy(settings.retry)
    secrets = settings.secret_values()
    jira, confluence = settings.jira, settings.confluence
    jira_credentials = Credentials(jira.email, jira.api_token, jira.pat)
    confluence_credentials = Credentials(
        confluence.email or jira.email, confluence.api_token or jira.api_token, confluence.pat or jira.pat
    )
    timeout = settings.sync.request_timeout_seconds
    jira_options = ClientOptions(verify_ssl=jira.verify_ssl, timeout=timeout)
    confluence_options = ClientOptions(verify_ssl=jira.verify_ssl, timeout=timeout)

    jira_channel = RestChannel(pacer=pacer, policy=policy, secrets=secrets)
    jira_deployment: DeploymentKind | Callable[[], DeploymentKind] = (
        jira.deployment
        if jira.deployment != "auto"
        else lambda: detect_deployment(jira.url, jira_credentials, jira_channel, jira_options)
    )
    jira_connection = Connection(
        jira.url,
        jira_deployment,
        lambda url, kind: jira_options.jira(url, kind, jira_credentials.client_auth(kind)),
    )
    confluence_connection = Connection(
        confluence.url,
        confluence.deployment if confluence.deployment != "auto" else lambda: jira_connection.deployment,
        lambda url, kind: confluence_options.confluence(url, kind, confluence_credentials.client_auth(kind)),
    )
    return (
        JiraAdapter(jira_connection, jira_channel, project=jira.project, done_transition=jira.done_transition),
        ConfluenceAdapter(confluence_connection, RestChannel(pacer=pacer, policy=policy, secrets=secrets)),
    )
