"""The only Jira and Confluence calls the daemon makes, as Protocols, and the errors they raise.

`JiraPort` and `ConfluencePort` are what a sync cycle uses; `JiraProbe` and `ConfluenceProbe` are
what `postmortem-sync check` uses. Adapters (`sync.atlassian`) implement all four over HTTP; tests
and the planner-facing code depend only on this module. Error messages never contain credentials.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol

from sync.models import CommentPart, CreateResult, IssueFields, IssueSnapshot, Owner, Page

DeploymentKind = Literal["cloud", "datacenter"]
# What a workflow depends on: (project key, issue type name).
IssueKind = tuple[str, str]

# Fields `JiraPort.search` and `get_issue` read by default: exactly what `IssueSnapshot` holds.
SNAPSHOT_FIELDS: tuple[str, ...] = (
    "summary", "status", "labels", "assignee", "duedate", "priority", "issuetype", "project",
    "created", "updated", "resolutiondate",
)


class AtlassianError(Exception):
    """A Jira or Confluence call failed; `status` is the HTTP status (None for connection errors), `fields`
    the names of the fields a Jira 400 rejected (its `errors` map)."""

    def __init__(self, message: str, *, status: int | None = None, fields: Sequence[str] = ()) -> None:
        self.message = message
        self.status = status
        self.fields = tuple(fields)
        super().__init__(f"{message} (HTTP {status})" if status is not None else message)


class NotFound(AtlassianError):
    """The page, issue or user does not exist or is not visible to us (404)."""


class VersionConflict(AtlassianError):
    """The page changed since we read it (409): re-fetch, re-apply, retry."""


class AssigneeRejected(AtlassianError):
    """Jira refused an edit for its assignee (400, `errors.assignee`), so none of the edit was saved."""


class PermissionDenied(AtlassianError):
    """Authenticated, but not allowed (403)."""


class AuthFailed(AtlassianError):
    """The credentials were rejected or are missing (401)."""


class Gone(AtlassianError):
    """The route is retired (410): for this credential (Confluence Cloud's v1 content through the API
    gateway) or for everyone (Jira Cloud's old search)."""


class RateLimited(AtlassianError):
    """Still rate limited (429) after the retry policy gave up; `retry_after` in seconds if known."""

    def __init__(self, message: str, *, status: int | None = 429, retry_after: float | None = None) -> None:
        super().__init__(message, status=status)
        self.retry_after = retry_after


class CreateInterrupted(AtlassianError):
    """A bulk create stopped part-way; `results` covers the leading inputs, the rest may or may not exist.

    Re-query the unresolved ones by their identity label before creating them again.
    """

    def __init__(self, message: str, *, status: int | None, results: Sequence[CreateResult]) -> None:
        super().__init__(message, status=status)
        self.results = list(results)


class ConfluencePort(Protocol):
    """Confluence reads and writes the daemon needs."""

    @property
    def request_count(self) -> int: ...

    def server_time(self, at: float | None = None) -> datetime | None:
        """Confluence's time at a `time.monotonic()` reading (now when None), from the `Date` header of its
        latest answer; None before the first answer."""
        ...

    def find_pages(self, cql: str, *, bodies: bool = True, limit: int | None = None) -> Iterator[Page]:
        """Pages matching CQL, with storage bodies (else with an empty body), following every next link."""
        ...

    def get_page(self, page_id: str) -> Page:
        """One page with its storage body; NotFound if absent."""
        ...

    def page_status(self, page_id: str) -> str:
        """The page's status whatever it is (current, archived, trashed, deleted), or "purged" when Confluence
        confirms no such page exists; AtlassianError when it cannot tell (a view restriction also answers 404)."""
        ...

    def update_page(self, page: Page, body: str, *, message: str, minor_edit: bool = True) -> Page:
        """Replace the body as version page.version + 1; VersionConflict if someone else saved first."""
        ...

    def create_page(self, space: str, title: str, body: str, parent_id: str | None) -> Page:
        """A new page in space, under parent_id when given."""
        ...

    def find_page(self, space: str, title: str) -> Page | None:
        """The page with exactly this title in space, or None."""
        ...

    def get_property(self, page_id: str, key: str) -> tuple[object, int] | None:
        """A content property's value and version number, or None when the page has no such property."""
        ...

    def set_property(self, page_id: str, key: str, value: object, version: int | None) -> None:
        """Create the property (version None) or replace version `version` with version + 1.

        VersionConflict when another writer created or replaced it first (a compare-and-swap).
        """
        ...

    def person(self, userkey: str) -> Owner | None:
        """Who Confluence knows by this (Data Center) userkey: username and display name; None when nobody."""
        ...


class JiraPort(Protocol):
    """Jira reads and writes the daemon needs."""

    @property
    def request_count(self) -> int: ...

    def server_time(self, at: float | None = None) -> datetime | None:
        """Jira's time at a `time.monotonic()` reading (now when None), from the `Date` header of its latest
        answer; None before the first answer."""
        ...

    def search(self, jql: str, *, fields: Sequence[str] = SNAPSHOT_FIELDS) -> Iterator[IssueSnapshot]:
        """Every issue matching a bounded JQL query, page by page."""
        ...

    def get_issue(self, key: str) -> IssueSnapshot:
        """One issue; NotFound if absent."""
        ...

    def create_issues(self, fields: Sequence[IssueFields]) -> list[CreateResult]:
        """Create issues in bulk; one result per input, in order; CreateInterrupted if cut short."""
        ...

    def update_issue(self, key: str, changes: dict[str, object]) -> None:
        """Apply changes named like IssueFields (plus labels_add / labels_remove)."""
        ...

    def transition_to_done(self, key: str, kind: IssueKind | None = None) -> bool:
        """Move the issue into a done-category status, filling a resolution its screen requires; False when no
        such transition is available. With the issue's `kind`, the transition is remembered for that kind."""
        ...

    def transition(self, key: str, name: str) -> bool:
        """Apply the transition with this name (or target status name), filling a resolution its screen
        requires; False when unavailable."""
        ...

    def add_comment(self, key: str, text: str) -> None:
        """Add a plain-text comment."""
        ...

    def comment_and_label(self, key: str, comment: Sequence[CommentPart], label: str) -> None:
        """Add a comment (text, mentions, links) and a label in one edit: both or neither."""
        ...

    def add_remote_link(self, key: str, url: str, title: str, global_id: str) -> None:
        """Create or update (by global_id) a link from the issue to a web page."""
        ...

    def active_sprint(self, board_id: int) -> int | None:
        """The id of the board's active sprint, or None."""
        ...

    def add_to_sprint(self, sprint_id: int, keys: Sequence[str]) -> None:
        """Move issues into a sprint."""
        ...


class JiraProbe(Protocol):
    """What `postmortem-sync check` asks Jira: who it is, whether we can search, what the create screen holds."""

    @property
    def deployment(self) -> DeploymentKind: ...

    def server_info(self) -> dict[str, Any]:
        """Jira's serverInfo document."""
        ...

    def search(self, jql: str, *, fields: Sequence[str] = SNAPSHOT_FIELDS) -> Iterator[IssueSnapshot]:
        """Every issue matching a bounded JQL query, page by page (as JiraPort.search)."""
        ...

    def create_screen_fields(self, project: str, issue_type: str) -> set[str]:
        """Ids of the fields on the create screen of this project and issue type; NotFound if either is missing."""
        ...

    def site_deployment(self) -> DeploymentKind:
        """What the site says it is (serverInfo), whatever the configuration says."""
        ...

    def myself(self) -> dict[str, Any]:
        """The credentials' user document (`timeZone` among its fields)."""
        ...

    def server_time(self, at: float | None = None) -> datetime | None:
        """Jira's time, from the `Date` header of its latest answer (as JiraPort.server_time)."""
        ...

    def active_sprint(self, board_id: int) -> int | None:
        """The id of the board's active sprint, or None; NotFound when the board is not there for us."""
        ...

    def create_meta(self, project: str, issue_type: str) -> list[dict[str, Any]]:
        """Jira's FieldMetadata of the create screen of this project and issue type; NotFound if either is missing."""
        ...

    def edit_meta(self, key: str) -> list[dict[str, Any]]:
        """Jira's FieldMetadata of the issue's edit screen (`key` is each field's id)."""
        ...

    def transitions(self, key: str) -> list[dict[str, Any]]:
        """The transitions the issue may take now, each with its screen's `fields` (FieldMetadata by field id)."""
        ...

    def epic_name_field(self) -> str | None:
        """The id of Jira Software's Epic Name field, None when the site has none."""
        ...

    def assignable(self, project: str, owner: Owner) -> bool | None:
        """Whether Jira may assign this person issues of the project; None when the owner names nobody Jira knows."""
        ...


class ConfluenceProbe(Protocol):
    """What `postmortem-sync check` asks Confluence: whether the search finds pages, whether we may edit the summary."""

    def find_pages(self, cql: str, *, bodies: bool = True, limit: int | None = None) -> Iterator[Page]:
        """Pages matching CQL, with storage bodies, following every next link (as ConfluencePort.find_pages)."""
        ...

    def find_page(self, space: str, title: str) -> Page | None:
        """The page with exactly this title in space, or None."""
        ...

    def can_edit(self, page_id: str) -> bool | None:
        """Whether we may edit the page (its `operations`); None when Confluence does not say."""
        ...

    def get_property(self, page_id: str, key: str) -> tuple[object, int] | None:
        """A content property's value and version number, or None (as ConfluencePort.get_property)."""
        ...

    @property
    def deployment(self) -> DeploymentKind: ...

    def answers(self, generation: Literal["v1", "v2"]) -> bool:
        """Whether v1 content or v2 page routes answer us: False when they are not there (404) or retired (410)."""
        ...

    def count_pages(self, cql: str) -> int | None:
        """How many pages the CQL selects (an estimate on Cloud); None when Confluence does not say."""
        ...

    def server_time(self, at: float | None = None) -> datetime | None:
        """Confluence's time, from the `Date` header of its latest answer."""
        ...

    def person(self, userkey: str) -> Owner | None:
        """Who Confluence knows by this userkey, or None (as ConfluencePort.person)."""
        ...

    def current_user(self) -> Owner | None:
        """Who the credentials are to Confluence; AuthFailed when it refuses them."""
        ...
