"""Jira's state: issues of project OPS with comments, remote links, properties and sprint membership.

Search reads a lagging copy: with `search_lag_ms` > 0 every change is published to the search index
only after that delay on the store's clock (Jira Cloud's eventual consistency), while reads by key
see it at once. Moving the clock forward lets the index catch up without waiting.

Keys are numbered per project and never reused. An issue moved to another project gets the next key
there and keeps answering to its former keys (Jira reserves them), in reads by key and in JQL `key`;
a deleted issue answers to none of its keys.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import count
from typing import Any

from sandbox.directory import User
from sandbox.http.errors import jira_error
from sandbox.jira.adf import RichText
from sandbox.jira.catalog import (
    CATEGORY_DONE,
    DEFAULT_PRIORITY,
    DONE_RESOLUTION,
    OPS,
    SCRUM_BOARD,
    TO_DO,
    Component,
    IssueType,
    Priority,
    Project,
    Resolution,
    Sprint,
    Status,
    workflow_of,
)
from sandbox.timefmt import utcnow

ISSUE_NOT_FOUND = "Issue does not exist or you do not have permission to see it."
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9]{1,9}$")
MAX_PROPERTY_CHARS = 32768
MAX_GLOBAL_ID = 255


@dataclass
class Comment:
    id: str
    author: User
    body: RichText
    created: datetime
    updated: datetime


@dataclass
class RemoteLink:
    id: int
    global_id: str | None
    relationship: str | None
    object: dict[str, Any]
    application: dict[str, Any] | None


@dataclass
class Issue:
    id: str
    key: str
    project: Project
    issuetype: IssueType
    summary: str
    reporter: User
    creator: User
    created: datetime
    updated: datetime
    status: Status = TO_DO
    status_changed: datetime | None = None
    priority: Priority = DEFAULT_PRIORITY
    description: RichText | None = None
    labels: list[str] = field(default_factory=list)
    duedate: date | None = None
    assignee: User | None = None
    parent_key: str | None = None
    components: list[Component] = field(default_factory=list)
    resolutiondate: datetime | None = None
    resolution: Resolution | None = None
    epic_name: str | None = None  # Data Center's Epic Name, on epics
    sprint_ids: list[int] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    remote_links: list[RemoteLink] = field(default_factory=list)
    properties: dict[str, Any] = field(default_factory=dict)
    former_keys: list[str] = field(default_factory=list)


@dataclass
class Edit:
    """Validated changes to apply: plain field values plus ordered label operations and new comments."""

    values: dict[str, Any] = field(default_factory=dict)
    label_ops: list[tuple[str, Any]] = field(default_factory=list)
    comments: list[RichText] = field(default_factory=list)


class JiraStore:
    """Issue operations with Jira's rules; every change goes through `_changed` to reach the search index."""

    def __init__(self, search_lag_ms: int = 0, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self._lag = timedelta(milliseconds=search_lag_ms)
        self.issues: dict[str, Issue] = {}
        self._ids_by_key: dict[str, str] = {}
        self._index: dict[str, list[tuple[datetime, Issue]]] = {}  # issue id -> (searchable from, copy)
        self._issue_ids = count(10000)
        self._numbers: dict[str, count[int]] = {}
        self.projects: dict[str, Project] = {OPS.key: OPS}
        self._comment_ids = count(10000)
        self._link_ids = count(10000)
        self.sprints: dict[int, Sprint] = {}
        self.boards = {SCRUM_BOARD.id: SCRUM_BOARD}

    def issue(self, key_or_id: str) -> Issue:
        """By key (case-insensitive) or numeric id, else Jira's 404."""
        issue_id = self._ids_by_key.get(key_or_id.upper(), key_or_id)
        if issue_id not in self.issues:
            raise jira_error(404, ISSUE_NOT_FOUND)
        return self.issues[issue_id]

    def has_issue(self, key_or_id: str) -> bool:
        return key_or_id.upper() in self._ids_by_key or key_or_id in self.issues

    def create(self, edit: Edit, author: User) -> Issue:
        """A new issue in To Do; `edit.values` must hold project, issuetype and summary."""
        now = self.clock()
        values = dict(edit.values)
        project = values.pop("project", OPS)
        issue = Issue(
            id=str(next(self._issue_ids)), key=self._next_key(project), project=project,
            issuetype=values.pop("issuetype"), summary=values.pop("summary"),
            reporter=values.pop("reporter", author), creator=author, created=now, updated=now, status_changed=now,
        )
        self.issues[issue.id] = issue
        self._ids_by_key[issue.key] = issue.id
        self._apply(issue, Edit(values, edit.label_ops, edit.comments), author)
        self._changed(issue, touch=False)
        return issue

    def edit(self, issue: Issue, edit: Edit, author: User) -> None:
        """Apply validated values, label operations and comments; an edit that changes nothing keeps `updated`."""
        before = _fingerprint(issue)
        self._apply(issue, edit, author)
        if _fingerprint(issue) != before:
            self._changed(issue)

    def transition(self, issue: Issue, transition_id: str, resolution: Resolution | None = None) -> None:
        """Move to the transition's status (one of its type's workflow); entering Done sets resolutiondate and
        the resolution (the one given, else Done), leaving it clears both."""
        target = next((t.to for t in workflow_of(issue.issuetype) if t.id == str(transition_id)), None)
        if target is None:
            raise jira_error(400, f"Transition id '{transition_id}' is not valid for this issue.")
        now = self.clock()
        was_done = issue.status.category == CATEGORY_DONE
        if target.category != issue.status.category:
            issue.status_changed = now
        issue.status = target
        if target.category == CATEGORY_DONE and not was_done:
            issue.resolutiondate = now
        elif target.category != CATEGORY_DONE:
            issue.resolutiondate = None
        if target.category == CATEGORY_DONE:
            issue.resolution = resolution or issue.resolution or DONE_RESOLUTION
        else:
            issue.resolution = None
        self._changed(issue)

    def add_comment(self, issue: Issue, body: RichText, author: User) -> Comment:
        now = self.clock()
        comment = Comment(str(next(self._comment_ids)), author, body, now, now)
        issue.comments.append(comment)
        self._changed(issue)
        return comment

    def upsert_remote_link(self, issue: Issue, payload: dict[str, Any]) -> tuple[RemoteLink, bool]:
        """Create, or replace the link with the same globalId (omitted fields become null)."""
        _check_remote_link(payload)
        global_id = payload.get("globalId")
        existing = next((old for old in issue.remote_links if global_id and old.global_id == global_id), None)
        link_id = existing.id if existing else next(self._link_ids)
        link = RemoteLink(
            link_id, global_id, payload.get("relationship"), dict(payload["object"]), payload.get("application"),
        )
        if existing:
            issue.remote_links[issue.remote_links.index(existing)] = link
        else:
            issue.remote_links.append(link)
        self._changed(issue, touch=False)
        return link, existing is None

    def set_property(self, issue: Issue, key: str, value: Any) -> bool:
        """Store an issue property; returns True when it is new."""
        if len(json.dumps(value)) > MAX_PROPERTY_CHARS:
            message = f"The property value is too long. The maximum allowed length is {MAX_PROPERTY_CHARS}."
            raise jira_error(400, message)
        created = key not in issue.properties
        issue.properties[key] = value
        self._changed(issue, touch=False)
        return created

    def delete(self, issue: Issue) -> None:
        """Remove the issue, its current and former keys with it; issues under it lose their parent."""
        del self.issues[issue.id]
        self._index.pop(issue.id, None)
        for key in [key for key, issue_id in self._ids_by_key.items() if issue_id == issue.id]:
            del self._ids_by_key[key]
        for child in self.issues.values():
            if child.parent_key == issue.key:
                child.parent_key = None
                self._changed(child)

    def move(self, issue: Issue, project_key: str) -> str:
        """Move the issue to a project (created when new) under its next key; returns the old key."""
        project = self.project(project_key)
        if project is issue.project:
            raise jira_error(400, f"The issue {issue.key} is already in project {project.key}.")
        old_key = issue.key
        issue.key, issue.project = self._next_key(project), project
        issue.former_keys.append(old_key)
        self._ids_by_key[issue.key] = issue.id
        for child in self.issues.values():
            if child.parent_key == old_key:
                child.parent_key = issue.key
                self._changed(child, touch=False)  # same parent, shown under its new key
        self._changed(issue)
        return old_key

    def project(self, key: str) -> Project:
        """The project with this key, created on first use (the sandbox's stand-in for project admin)."""
        key = key.strip().upper()
        if not _PROJECT_KEY.match(key):
            raise jira_error(400, f"'{key}' is not a valid project key: use 2-10 capital letters or digits.")
        if key not in self.projects:
            project_id = str(int(OPS.id) + len(self.projects))
            self.projects[key] = Project(project_id, key, key.title())
        return self.projects[key]

    def _next_key(self, project: Project) -> str:
        numbers = self._numbers.setdefault(project.key, count(1))
        return f"{project.key}-{next(numbers)}"

    def add_sprint(self, sprint: Sprint) -> None:
        self.sprints[sprint.id] = sprint

    def move_to_sprint(self, sprint_id: int, keys: Iterable[str]) -> None:
        """Put issues in an open sprint, taking them out of any other open sprint."""
        sprint = self.sprints[sprint_id]
        issues = [self.issue(key) for key in keys]
        open_ids = {s.id for s in self.sprints.values() if s.state != "closed"}
        for issue in issues:
            issue.sprint_ids = [i for i in issue.sprint_ids if i not in open_ids] + [sprint.id]
            self._changed(issue)

    def move_to_epic(self, epic_key: str, keys: Iterable[str]) -> None:
        """Put issues under an epic (Data Center's Epic Link, Cloud's parent)."""
        for issue in [self.issue(key) for key in keys]:
            issue.parent_key = epic_key
            self._changed(issue)

    def searchable(self, reconcile_ids: Iterable[str] = ()) -> list[Issue]:
        """Issues as the search index sees them now; `reconcile_ids` are read after write."""
        if not self._lag:
            return list(self.issues.values())
        wanted_now = set(reconcile_ids)
        now = self.clock()
        visible = []
        for issue_id, issue in self.issues.items():
            if issue_id in wanted_now:
                visible.append(issue)
                continue
            snapshot = self._visible_snapshot(issue_id, now)
            if snapshot is not None:
                visible.append(snapshot)
        return visible

    def _visible_snapshot(self, issue_id: str, now: datetime) -> Issue | None:
        history = self._index.get(issue_id, [])
        published = [i for i, (when, _) in enumerate(history) if when <= now]
        if not published:
            return None
        del history[: published[-1]]  # older published copies can never be seen again
        return history[0][1]

    def _apply(self, issue: Issue, edit: Edit, author: User) -> None:
        for name, value in edit.values.items():
            setattr(issue, name, value)
        for op, value in edit.label_ops:
            issue.labels = _apply_label_op(issue.labels, op, value)
        for body in edit.comments:
            now = self.clock()
            issue.comments.append(Comment(str(next(self._comment_ids)), author, body, now, now))

    def _changed(self, issue: Issue, touch: bool = True) -> None:
        if touch:
            issue.updated = self.clock()
        if self._lag:
            self._index.setdefault(issue.id, []).append((self.clock() + self._lag, copy.deepcopy(issue)))


def _fingerprint(issue: Issue) -> tuple[object, ...]:
    """The editable state of an issue, to tell a real change from a no-op edit."""
    return (
        issue.summary, issue.description, issue.issuetype, issue.priority, tuple(issue.labels), issue.duedate,
        issue.assignee, issue.reporter, issue.parent_key, tuple(issue.components), len(issue.comments),
    )


def _apply_label_op(labels: list[str], op: str, value: Any) -> list[str]:
    if op == "set":
        return list(dict.fromkeys(value))
    if op == "add":
        return labels if value in labels else [*labels, value]
    return [label for label in labels if label != value]


def _check_remote_link(payload: dict[str, Any]) -> None:
    errors = {}
    obj = payload.get("object")
    if not isinstance(obj, dict) or not obj.get("title"):
        errors["title"] = "'title' is required."
    if not isinstance(obj, dict) or not obj.get("url"):
        errors["url"] = "'url' is required."
    if len(str(payload.get("globalId") or "")) > MAX_GLOBAL_ID:
        errors["globalId"] = f"'globalId' must be {MAX_GLOBAL_ID} characters or fewer."
    if errors:
        raise jira_error(400, errors=errors)
