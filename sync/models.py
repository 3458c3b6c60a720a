"""Plain, frozen data passed between the pipeline's stages: parse -> plan -> apply -> report.

The second half is the plan's vocabulary: the changes sync.planner decides and sync.apply carries out.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any, Literal, NamedTuple

from sync.problems import Problem


@dataclass(frozen=True, slots=True)
class Owner:
    """A person named on a page: a Cloud account id, a Data Center userkey/username, or just a name."""

    account_id: str | None = None
    userkey: str | None = None
    username: str | None = None
    display: str | None = None

    @property
    def is_mention(self) -> bool:
        return bool(self.account_id or self.userkey or self.username)

    def to_json(self) -> dict[str, Any]:
        return {
            "account_id": self.account_id,
            "userkey": self.userkey,
            "username": self.username,
            "display": self.display,
        }


@dataclass(frozen=True, slots=True)
class ActionItem:
    """One action item as written on a postmortem page.

    `origin` locates the item inside the page body so that identity and write-back can find it
    again: ``task:<ac:task-id>`` for a task, ``row:<table-index>:<row-index>`` for a table row
    (table index counts every ``<table>`` in document order, row index counts ``<tr>`` in that
    table, both 0-based). `task_uuid` is the Cloud task uuid when present.
    """

    summary: str
    owner: Owner | None = None
    due: date | None = None
    type: str | None = None
    priority: str | None = None
    jira_key: str | None = None
    done: bool | None = None
    origin: str = ""
    task_uuid: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The `parse --json` shape of one item."""
        return {
            "summary": self.summary,
            "owner": self.owner.to_json() if self.owner else None,
            "due": self.due.isoformat() if self.due else None,
            "type": self.type,
            "priority": self.priority,
            "jira_key": self.jira_key,
            "done": self.done,
        }


@dataclass(frozen=True, slots=True)
class PageMeta:
    """Page-level facts from the page properties (details) macro, when the page has one."""

    incident_date: date | None = None
    severity: str | None = None
    service: str | None = None
    team: str | None = None
    owner: Owner | None = None
    status: str | None = None


@dataclass(frozen=True, slots=True)
class Postmortem:
    """A parsed postmortem page. `problems` are short codes (see docs/extraction-rules.md)."""

    title: str
    items: tuple[ActionItem, ...] = ()
    problems: tuple[str, ...] = ()
    meta: PageMeta = field(default_factory=PageMeta)
    page_id: str | None = None
    version: int | None = None
    url: str | None = None
    space: str | None = None
    labels: tuple[str, ...] = ()  # the page's Confluence labels, as fetched
    created: datetime | None = None  # when the page was first published
    author: Owner | None = None  # who created the page
    archived: bool = False  # Confluence archived the page: its items stay, and it still counts (marked archived)
    root_cause_text: str = ""  # the text of the root-cause / contributing-factors sections (sync.root_cause)

    def to_json(self) -> dict[str, Any]:
        """The exact `parse --json` shape."""
        return {
            "page_title": self.title,
            "action_items": [item.to_json() for item in self.items],
            "problems": list(self.problems),
        }


@dataclass(frozen=True, slots=True)
class Page:
    """A Confluence page as fetched: id, title, version and storage body."""

    id: str
    title: str
    version: int
    body: str
    space: str | None = None
    url: str | None = None
    last_modified: datetime | None = None
    labels: tuple[str, ...] = ()
    created: datetime | None = None
    author: Owner | None = None

    def keeping_facts(self, before: Page | Postmortem | None) -> Page:
        """This page, with what a read that lacks them (v2 `get_page`: no labels, the space by id only) knew
        before: its labels, space, creation and author."""
        if before is None:
            return self
        return replace(self, labels=self.labels or before.labels, space=self.space or before.space,
                       created=self.created or before.created, author=self.author or before.author)


StatusCategory = Literal["new", "indeterminate", "done"]


@dataclass(frozen=True, slots=True)  # slots: the daemon keeps one per item in memory
class IssueSnapshot:
    """What the daemon reads back about one Jira issue."""

    key: str
    summary: str
    status: str
    status_category: StatusCategory
    labels: tuple[str, ...] = ()
    assignee: str | None = None  # accountId on Cloud, username (name) on Data Center
    assignee_display: str | None = None
    due: date | None = None
    priority: str | None = None
    issue_type: str | None = None
    project: str | None = None
    created: datetime | None = None
    updated: datetime | None = None
    resolved: datetime | None = None
    id: str | None = None

    @property
    def is_done(self) -> bool:
        return self.status_category == "done"


@dataclass(frozen=True, slots=True)
class IssueFields:
    """Jira fields the daemon manages, independent of Cloud/Data Center and API version.

    The Jira adapter turns these into a request body: `assignee` becomes an accountId on Cloud and
    a username on Data Center; `description` is plain text that the adapter escapes for the target
    format. A None field means "leave unset" on create and "clear" only where an update says so.
    """

    summary: str
    description: str = ""
    project: str = ""
    issue_type: str = "Task"
    labels: tuple[str, ...] = ()
    assignee: Owner | None = None
    due: date | None = None
    priority: str | None = None
    components: tuple[str, ...] = ()
    parent_key: str | None = None


@dataclass(frozen=True)
class CreateResult:
    """Outcome of one element of a (bulk) create: a key, or Jira's error message."""

    key: str | None
    error: str | None = None


@dataclass(frozen=True, slots=True)  # slots: the daemon keeps one per item in memory
class ItemRecord:
    """An item we track: its issue and the field values as they were when last in sync."""

    item_key: str
    page_id: str
    origin: str
    issue_key: str | None
    summary: str
    assignee: str | None = None  # the page owner's id (accountId / username / userkey)
    due: str | None = None
    priority: str | None = None
    type: str | None = None
    done: bool = False
    flagged: bool = False


# The plan's vocabulary. Each change carries the record to save once its write succeeded.


@dataclass(frozen=True, slots=True)
class CreateIssue:
    """Create the issue of an item no issue is known for; `mark_done` moves it to done right after."""

    record: ItemRecord
    fields: IssueFields
    mark_done: bool
    epic_page: str | None = None  # the page whose epic this cycle creates: that epic becomes the parent


@dataclass(frozen=True)
class CreateEpic:
    """Create the one epic of a postmortem, before its first issues (only when epics are on)."""

    page_id: str
    fields: IssueFields


@dataclass(frozen=True)
class AdoptIssue:
    """Start tracking an existing issue (its key is on the page, or its identity label matched); add our labels."""

    record: ItemRecord
    add_labels: tuple[str, ...]


@dataclass(frozen=True)
class UpdateIssue:
    """Carry page edits to a tracked issue.

    `changes` maps IssueFields names (summary, due, priority, assignee) to their new values, None
    clearing the field; labels are added and removed by name (the type label, our identity labels).
    """

    record: ItemRecord
    changes: Mapping[str, object] = field(default_factory=dict)
    add_labels: tuple[str, ...] = ()
    remove_labels: tuple[str, ...] = ()


@dataclass(frozen=True)
class TransitionDone:
    """Move a tracked issue to done: its item is done on the page. `kind` (project, issue type) picks its workflow."""

    record: ItemRecord
    kind: tuple[str, str] | None = None


@dataclass(frozen=True)
class FlagRemoved:
    """An item left its page, or its page was deleted: label the issue, comment why, maybe transition; never delete."""

    record: ItemRecord
    comment: str
    transition: str | None


@dataclass(frozen=True)
class Unflag:
    """A flagged item is back on its page: take the removed label off its issue."""

    record: ItemRecord


class KeyLink(NamedTuple):
    """Write the Jira key of an item into its row or task (the key: from the state, or this cycle's create)."""

    origin: str
    item_key: str
    summary: str  # the item's words, to check the target is still that item


class TaskTick(NamedTuple):
    """Tick the task at `origin`: its issue is done in Jira."""

    origin: str
    summary: str


@dataclass(frozen=True, slots=True)
class WriteBack:
    """Edit one postmortem page: Jira keys into rows and tasks, ticks on tasks whose issue is done."""

    page_id: str
    keys: tuple[KeyLink, ...]
    complete: tuple[TaskTick, ...]


@dataclass(frozen=True)
class SummaryPage:
    """Where the summary page lives: found by its space and title, created under `parent_id`."""

    space: str
    title: str
    parent_id: str | None = None


@dataclass(frozen=True)
class WriteSummary:
    """Write the summary page: its body differs from the one last written (`digest` identifies the new body)."""

    page: SummaryPage
    body: str
    digest: str


@dataclass(frozen=True)
class Link:
    """A link in a comment: its text and where it points."""

    text: str
    url: str


# A comment as parts, which the Jira adapter renders for its API: text verbatim, an Owner as a mention
# (Cloud by account id, Data Center by username; else by name), a Link as a link.
CommentPart = str | Owner | Link


@dataclass(frozen=True)
class SendReminder:
    """Comment on an overdue issue and label it with the step sent, in one edit (sync.reminders).

    `step` counts from 1; the step after the last reminder is the final one, which also mentions the
    postmortem's owner. The label is how the issue itself tells which steps were sent.
    """

    issue_key: str
    page_id: str
    step: int
    final: bool
    label: str
    comment: tuple[CommentPart, ...]


@dataclass(frozen=True)
class Plan:
    """Everything a cycle writes to Jira and the postmortem pages; a second cycle over the same input plans nothing."""

    creates: tuple[CreateIssue, ...] = ()
    epics: tuple[CreateEpic, ...] = ()
    adopts: tuple[AdoptIssue, ...] = ()
    updates: tuple[UpdateIssue, ...] = ()
    transitions: tuple[TransitionDone, ...] = ()
    flags: tuple[FlagRemoved, ...] = ()
    unflags: tuple[Unflag, ...] = ()
    write_backs: tuple[WriteBack, ...] = ()
    reminders: tuple[SendReminder, ...] = ()
    records: tuple[ItemRecord, ...] = ()  # records to save that need no Jira write
    problems: tuple[Problem, ...] = ()
    unsafe_reason: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.creates or self.epics or self.adopts or self.updates or self.transitions
                    or self.flags or self.unflags or self.write_backs or self.reminders)
