"""The Jira adapter (`JiraPort`, `JiraProbe`): REST v2 writes on both deployments, search per deployment, agile API.

We call explicit `/rest/...` paths rather than the library's search helpers: `Jira(cloud=True).jql()`
raises for `start > 0` and `enhanced_jql` raises on Data Center, while Cloud's `/rest/api/{2,3}/search`
answers 410 Gone since 2025 (docs/atlassian-behaviours.md, "The client library" and "Search").
Creates are never re-sent blindly: a bulk create that fails part-way raises CreateInterrupted, and
the caller re-queries by identity label before creating again.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import structlog

from sync.atlassian.connection import Connection
from sync.atlassian.jira_json import (
    bulk_results,
    comment_markup,
    create_fields,
    field_change,
    issue_from_json,
    wiki_text,
)
from sync.atlassian.transport import RestChannel, segment
from sync.models import CommentPart, CreateResult, IssueFields, IssueSnapshot, Owner
from sync.ports import SNAPSHOT_FIELDS, AtlassianError, CreateInterrupted, DeploymentKind, NotFound

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
    ) -> None:
        self._connection = connection
        self._channel = channel
        self._project = project
        self._done_transition = done_transition
        self._done_transition_seen: dict[str, Any] | None = None
        self._assignees: dict[tuple[str, str], dict[str, Any] | None] = {}
        self._assignees_lock = threading.Lock()

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
        return create_fields(item, project=self._project, assignee=assignee, cloud=self.deployment == "cloud")

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
            self._send("PUT", f"rest/api/2/issue/{segment(key)}", payload, idempotent=True)

    def _field_change(self, key: str, name: str, value: Any) -> dict[str, Any]:
        """The `fields` entries for one change; an unresolvable assignee leaves the assignee alone."""
        if name == "assignee" and value is not None:
            value = self.resolve_assignee(value)
            if value is None:
                log.warning("assignee_unresolved", issue_key=key)
                return {}
        return field_change(name, value)

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

    def _transitions(self, key: str) -> list[dict[str, Any]]:
        return (self._get(f"rest/api/2/issue/{segment(key)}/transitions") or {}).get("transitions") or []

    def _apply_transition(self, key: str, transition: dict[str, Any] | None) -> bool:
        if transition is None:
            return False
        payload = {"transition": {"id": str(transition["id"])}}
        self._send("POST", f"rest/api/2/issue/{segment(key)}/transitions", payload, idempotent=False)
        return True

    def create_screen_fields(self, project: str, issue_type: str) -> set[str]:
        """createmeta of the project's issue type (Cloud: `issueTypes`/`fields`; Data Center: `values`)."""
        base = f"rest/api/2/issue/createmeta/{segment(project)}/issuetypes"
        listing = self._get(base, maxResults=200) or {}
        types = listing.get("issueTypes") or listing.get("values") or []
        wanted = next((t for t in types if str(t.get("name", "")).lower() == issue_type.lower()), None)
        if wanted is None:
            raise NotFound(f"issue type {issue_type!r} is not available in project {project}", status=404)
        document = self._get(f"{base}/{segment(str(wanted['id']))}", maxResults=200) or {}
        return {str(f.get("fieldId") or f.get("key")) for f in document.get("fields") or document.get("values") or []}

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


def _target_category(transition: dict[str, Any]) -> str | None:
    return (((transition.get("to") or {}).get("statusCategory")) or {}).get("key")
