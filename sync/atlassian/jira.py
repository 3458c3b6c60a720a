"""The Jira adapter (`JiraPort`, `JiraProbe`): REST v2 writes on both deployments, search per deployment, agile API.

We call explicit `/rest/...` paths rather than the library's search helpers: `Jira(cloud=True).jql()`
raises for `start > 0` and `enhanced_jql` raises on Data Center, while Cloud's `/rest/api/{2,3}/search`
answers 410 Gone since 2025 (docs/atlassian-behaviours.md, "The client library" and "Search").
Creates are never re-sent blindly: a bulk create that fails part-way raises CreateInterrupted, and
the caller re-queries by identity label before creating again.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from typing import Any

import structlog

from sync.atlassian.connection import Connection, deployment_of
from sync.atlassian.jira_json import (
    bulk_results,
    comment_markup,
    create_fields,
    field_change,
    issue_from_json,
    summary_text,
    wiki_text,
)
from sync.atlassian.jira_meta import epic_name_field, field_id
from sync.atlassian.jira_workflow import Workflows
from sync.atlassian.transport import RestChannel, segment
from sync.models import CommentPart, CreateResult, IssueFields, IssueSnapshot, Owner
from sync.ports import (
    SNAPSHOT_FIELDS,
    AssigneeRejected,
    AtlassianError,
    AuthFailed,
    CreateInterrupted,
    DeploymentKind,
    IssueKind,
    NotFound,
    PermissionDenied,
)

log = structlog.get_logger(__name__)

BULK_CREATE_LIMIT = 50  # Jira rejects larger issue/bulk requests
SPRINT_MOVE_LIMIT = 50  # agile sprint/epic moves accept at most 50 keys
SEARCH_PAGE_SIZE = 100
MAX_GET_JQL_LENGTH = 1500  # longer queries go in a POST body, away from URL length limits
MAX_GLOBAL_ID_LENGTH = 255


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class JiraAdapter:
    """JiraPort over REST v2 (writes, both deployments), v3 search/jql (Cloud) and the agile API."""

    def __init__(
        self,
        connection: Connection,
        channel: RestChannel,
        *,
        project: str = "",
        done_transition: str | None = None,
        done_resolution: str = "Done",
        removed_resolution: str | None = None,
        epic_issue_type: str | None = None,
        site_info: Callable[[], dict[str, Any]] | None = None,
    ) -> None:
        self._connection = connection
        self._site_info = site_info  # serverInfo asked without credentials (what the site says it is)
        self._channel = channel
        self._project = project
        self._epic_type = epic_issue_type
        self._epic_name_field: list[str | None] = []  # looked up once, on the first epic created on Data Center
        post = lambda path, body: self._send("POST", path, body, idempotent=False)  # noqa: E731
        self._workflows = Workflows(self._get, post, done_name=done_transition, done_resolution=done_resolution,
                                    removed_resolution=removed_resolution)

    @property
    def deployment(self) -> DeploymentKind:
        """cloud or datacenter (detected from serverInfo on first use when configured as auto)."""
        return self._connection.deployment

    @property
    def request_count(self) -> int:
        """HTTP requests sent to Jira, retries included."""
        return self._channel.request_count

    def server_time(self, at: float | None = None) -> datetime | None:
        """Jira's time at a monotonic reading (now when None), from its latest `Date` header; None before one."""
        return self._channel.clock.now() if at is None else self._channel.clock.at(at)

    def server_info(self) -> dict[str, Any]:
        """Jira's serverInfo document."""
        return self._get("rest/api/2/serverInfo") or {}

    def site_deployment(self) -> DeploymentKind:
        """What the site says it is (serverInfo's deploymentType), asked without credentials where it answers so,
        whatever `jira.deployment` says; with them when it refuses anonymous requests."""
        try:
            info = self._site_info() if self._site_info else self.server_info()
        except (AuthFailed, PermissionDenied):
            info = self.server_info()
        return deployment_of(info)

    def myself(self) -> dict[str, Any]:
        """The credentials' user (GET myself): its account id or name, and the time zone Jira reads dates in."""
        return self._get("rest/api/2/myself") or {}

    # reads

    def search(self, jql: str, *, fields: Sequence[str] = SNAPSHOT_FIELDS) -> Iterator[IssueSnapshot]:
        """Every matching issue: Cloud `/3/search/jql` by nextPageToken, Data Center `/2/search` by startAt."""
        if self.deployment == "cloud":
            return self._search_cloud(jql, fields)
        return self._search_datacenter(jql, fields)

    def get_issue(self, key: str) -> IssueSnapshot:
        """One issue; NotFound if absent."""
        document = self._get(f"rest/api/2/issue/{segment(key)}", fields=",".join(SNAPSHOT_FIELDS))
        return issue_from_json(document, cloud=self.deployment == "cloud")

    def _search_cloud(self, jql: str, fields: Sequence[str]) -> Iterator[IssueSnapshot]:
        # search/jql has no `total`: the last page says isLast or carries no nextPageToken
        query: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": SEARCH_PAGE_SIZE}
        while True:
            document = self._search_page("rest/api/3/search/jql", query) or {}
            for raw in document.get("issues") or ():
                yield issue_from_json(raw, cloud=True)
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
                yield issue_from_json(raw, cloud=False)
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
        assignee = self.resolve_assignee(item.assignee) if item.assignee else None
        fields = create_fields(item, project=self._project, assignee=assignee, cloud=self.deployment == "cloud")
        if self._is_epic(item) and self.deployment == "datacenter" and (epic_name := self.epic_name_field()):
            fields[epic_name] = summary_text(item.summary)  # Data Center requires an epic's Epic Name
        return fields

    def _is_epic(self, item: IssueFields) -> bool:
        return bool(self._epic_type) and item.issue_type.casefold() == str(self._epic_type).casefold()

    def epic_name_field(self) -> str | None:
        """The id of Jira Software's Epic Name field (by its schema, from `GET /field`), else None; asked once."""
        if not self._epic_name_field:
            try:
                fields = self._get("rest/api/2/field") or []
            except AtlassianError as exc:  # the create goes without it, and Jira's answer names the field
                log.warning("epic_name_field_unknown", status=exc.status)
                return None
            self._epic_name_field.append(epic_name_field(fields))
        return self._epic_name_field[0]

    def _link_epics(self, fields: Sequence[IssueFields], results: Sequence[CreateResult]) -> None:
        """Data Center: move created issues under their epics; a failure is logged, the issues exist."""
        by_epic: dict[str, list[str]] = {}
        for item, result in zip(fields, results, strict=True):
            if item.parent_key and result.key:
                by_epic.setdefault(item.parent_key, []).append(result.key)
        for epic, keys in by_epic.items():
            for chunk in _chunks(keys, SPRINT_MOVE_LIMIT):
                try:
                    path = f"rest/agile/1.0/epic/{segment(epic)}/issue"
                    self._send("POST", path, {"issues": list(chunk)}, idempotent=True)
                except AtlassianError as exc:
                    log.warning("epic_link_failed", epic=epic, issue_keys=list(chunk), status=exc.status)

    # updates

    def update_issue(self, key: str, changes: dict[str, object]) -> None:
        """PUT the changes (IssueFields names, plus labels_add / labels_remove) in one request.

        Jira saves all of an edit or nothing: when it refuses the assignee, AssigneeRejected says so.
        """
        fields: dict[str, Any] = {}
        update: dict[str, list[dict[str, str]]] = {}
        for name, value in changes.items():
            if name in ("labels_add", "labels_remove"):
                verb = name.removeprefix("labels_")
                update.setdefault("labels", []).extend({verb: label} for label in value)  # type: ignore[attr-defined]
            else:
                fields.update(self._field_change(key, name, value))
        payload = {part: content for part, content in (("fields", fields), ("update", update)) if content}
        if not payload:
            return
        try:
            self._send("PUT", f"rest/api/2/issue/{segment(key)}", payload, idempotent=True)
        except AtlassianError as exc:
            if exc.status == 400 and "assignee" in exc.fields and "assignee" in fields:
                raise AssigneeRejected(exc.message, status=400, fields=exc.fields) from None
            raise

    def _field_change(self, key: str, name: str, value: Any) -> dict[str, Any]:
        """The `fields` entries for one change; an unresolvable assignee leaves the assignee alone."""
        if name == "assignee" and value is not None:
            value = self.resolve_assignee(value)
            if value is None:
                log.warning("assignee_unresolved", issue_key=key)
                return {}
        return field_change(name, value)

    def transition_to_done(self, key: str, kind: IssueKind | None = None) -> bool:
        """The configured done transition, else the first one into a done-category status; cached per `kind`."""
        return self._workflows.to_done(key, kind)

    def transition(self, key: str, name: str) -> bool:
        """The transition with this name, else the one into a status with this name; False if none."""
        return self._workflows.take(key, name)

    def transitions(self, key: str) -> list[dict[str, Any]]:
        """The transitions the issue may take now, with their screens' fields (`expand=transitions.fields`)."""
        return self._workflows.options(key)

    def create_screen_fields(self, project: str, issue_type: str) -> set[str]:
        """Ids of the fields on the create screen of the project's issue type."""
        return {field_id(meta) for meta in self.create_meta(project, issue_type)}

    def create_meta(self, project: str, issue_type: str) -> list[dict[str, Any]]:
        """createmeta of the project's issue type (Cloud: `issueTypes`/`fields`; Data Center: `values`)."""
        base = f"rest/api/2/issue/createmeta/{segment(project)}/issuetypes"
        listing = self._get(base, maxResults=200) or {}
        types = listing.get("issueTypes") or listing.get("values") or []
        wanted = next((t for t in types if str(t.get("name", "")).lower() == issue_type.lower()), None)
        if wanted is None:
            raise NotFound(f"issue type {issue_type!r} is not available in project {project}", status=404)
        document = self._get(f"{base}/{segment(str(wanted['id']))}", maxResults=200) or {}
        return list(document.get("fields") or document.get("values") or [])

    def edit_meta(self, key: str) -> list[dict[str, Any]]:
        """The fields an edit of the issue may set (its edit screen), each with its id as `key`."""
        fields = (self._get(f"rest/api/2/issue/{segment(key)}/editmeta") or {}).get("fields") or {}
        return [{**meta, "key": field_id(meta) or name} for name, meta in fields.items()]

    def add_comment(self, key: str, text: str) -> None:
        """A plain-text comment, rendered verbatim."""
        payload = {"body": wiki_text(text)}
        self._send("POST", f"rest/api/2/issue/{segment(key)}/comment", payload, idempotent=False)

    def comment_and_label(self, key: str, comment: Sequence[CommentPart], label: str) -> None:
        """One edit that adds the comment (wiki markup, mentions per deployment) and the label: both land or neither.

        Not retried after a 5xx or a lost answer (a second comment could follow); the caller checks the label.
        """
        markup = comment_markup(list(comment), cloud=self.deployment == "cloud")
        payload = {"update": {"comment": [{"add": {"body": markup}}], "labels": [{"add": label}]}}
        self._send("PUT", f"rest/api/2/issue/{segment(key)}", payload, idempotent=False)

    def add_remote_link(self, key: str, url: str, title: str, global_id: str) -> None:
        """Create or update the link with this global id (an upsert, so retrying is safe)."""
        if len(global_id) > MAX_GLOBAL_ID_LENGTH:
            raise ValueError(f"global_id longer than {MAX_GLOBAL_ID_LENGTH} characters")
        payload = {"globalId": global_id, "object": {"url": url, "title": title}}
        self._send("POST", f"rest/api/2/issue/{segment(key)}/remotelink", payload, idempotent=True)

    # agile

    def active_sprint(self, board_id: int) -> int | None:
        """The first active sprint of the board, or None."""
        document = self._get(f"rest/agile/1.0/board/{segment(board_id)}/sprint", state="active") or {}
        values = document.get("values") or []
        return int(values[0]["id"]) if values else None

    def add_to_sprint(self, sprint_id: int, keys: Sequence[str]) -> None:
        """Move issues into the sprint, 50 per request (moving twice is harmless)."""
        for chunk in _chunks(list(keys), SPRINT_MOVE_LIMIT):
            path = f"rest/agile/1.0/sprint/{segment(sprint_id)}/issue"
            self._send("POST", path, {"issues": list(chunk)}, idempotent=True)

    # users

    def resolve_assignee(self, owner: Owner) -> dict[str, Any] | None:
        """Cloud `{"accountId"}` / Data Center `{"name"}`, else None: what Jira assigns by, without a request.

        A Data Center `ri:userkey` is Confluence's key, never Jira's (sync.people turns it into the
        username first). An unknown or unassignable person is reported by the write itself, which is
        cheaper than a look-up per person.
        """
        if self.deployment == "cloud":
            return {"accountId": owner.account_id} if owner.account_id else None
        return {"name": owner.username} if owner.username else None

    def assignable(self, project: str, owner: Owner) -> bool | None:
        """Whether `user/assignable/search` lists this person for the project; None when the owner names nobody."""
        assignee = self.resolve_assignee(owner)
        if assignee is None:
            return None
        cloud = self.deployment == "cloud"
        query = {"accountId": assignee["accountId"]} if cloud else {"username": assignee["name"]}
        found = self._get("rest/api/2/user/assignable/search", project=project, maxResults=50, **query) or []
        attribute = "accountId" if cloud else "name"
        return any(str(user.get(attribute, "")).lower() == str(next(iter(assignee.values()))).lower()
                   for user in found)

    # transport

    def _get(self, path: str, **params: Any) -> Any:
        return self._channel.send(self._connection.client, "GET", path, params=params or None, idempotent=True)

    def _send(
        self, method: str, path: str, body: Any, *, idempotent: bool, tolerate: Sequence[int] = ()
    ) -> Any:
        client = self._connection.client
        return self._channel.send(client, method, path, body=body, idempotent=idempotent, tolerate=tolerate)
