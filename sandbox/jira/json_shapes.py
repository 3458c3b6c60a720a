"""Jira REST representations: users, statuses, issues with field selection, comments, links, sprints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any
from urllib.parse import quote

from sandbox.directory import User
from sandbox.jira.catalog import (
    COMPONENTS,
    EPIC_LINK_FIELD,
    EPIC_NAME_FIELD,
    EPIC_NAME_SCHEMA,
    ISSUE_TYPES,
    SPRINT_FIELD,
    Board,
    Component,
    IssueType,
    Priority,
    Project,
    Resolution,
    Sprint,
    Status,
)
from sandbox.jira.store import Comment, Issue, RemoteLink
from sandbox.timefmt import iso_offset_time, jira_time, zone

ISSUE_EXPAND = "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations"
# Fields `*navigable` leaves out (Jira does not show comments in the issue navigator).
_NOT_NAVIGABLE = {"comment"}


@dataclass(frozen=True)
class JiraView:
    """Where and how to render: site URL, deployment, REST version, and the time zones of the request."""

    site: str
    is_cloud: bool
    api_version: str = "2"
    zone_name: str = "UTC"  # the calling account's zone: every timestamp is written in it
    site_zone_name: str = "UTC"  # the site's default: the zone of a user who has none of their own

    @property
    def zone(self) -> tzinfo:
        return zone(self.zone_name)

    def time(self, moment: datetime) -> str:
        """A timestamp as Jira writes it for the calling account."""
        return jira_time(moment, self.zone)

    @property
    def api(self) -> str:
        return f"{self.site}/rest/api/{self.api_version}"

    def avatars(self, seed: str) -> dict[str, str]:
        sizes = ("48x48", "24x24", "16x16", "32x32")
        return {size: f"{self.site}/secure/useravatar?size={size}&ownerId={quote(seed)}" for size in sizes}


def user_json(user: User, view: JiraView) -> dict[str, Any]:
    """A user as Jira shows it: accountId on Cloud, name/key on Data Center."""
    common = {
        "emailAddress": user.email,
        "avatarUrls": view.avatars(user.account_id if view.is_cloud else user.username),
        "displayName": user.display_name,
        "active": user.active,
        "timeZone": user.time_zone or view.site_zone_name,
    }
    if view.is_cloud:
        self_link = f"{view.api}/user?accountId={quote(user.account_id)}"
        return {"self": self_link, "accountId": user.account_id, "accountType": "atlassian", **common}
    self_link = f"{view.api}/user?username={quote(user.username)}"
    return {"self": self_link, "name": user.username, "key": user.jira_key, **common}


def status_json(status: Status, view: JiraView) -> dict[str, Any]:
    category = status.category
    return {
        "self": f"{view.api}/status/{status.id}",
        "description": "",
        "iconUrl": f"{view.site}/images/icons/statuses/generic.png",
        "name": status.name,
        "id": status.id,
        "statusCategory": {
            "self": f"{view.api}/statuscategory/{category.id}",
            "id": category.id, "key": category.key, "colorName": category.color, "name": category.name,
        },
    }


def priority_json(priority: Priority, view: JiraView) -> dict[str, Any]:
    return {
        "self": f"{view.api}/priority/{priority.id}", "statusColor": priority.color, "description": priority.name,
        "iconUrl": f"{view.site}/images/icons/priorities/{priority.name.lower()}.svg",
        "name": priority.name, "id": priority.id,
    }


def issuetype_json(issuetype: IssueType, view: JiraView) -> dict[str, Any]:
    return {
        "self": f"{view.api}/issuetype/{issuetype.id}", "id": issuetype.id, "description": issuetype.description,
        "iconUrl": f"{view.site}/images/icons/issuetypes/{issuetype.name.lower()}.svg", "name": issuetype.name,
        "subtask": False, "hierarchyLevel": issuetype.hierarchy_level,
    }


def component_json(component: Component, view: JiraView) -> dict[str, Any]:
    return {"self": f"{view.api}/component/{component.id}", "id": component.id, "name": component.name}


def project_json(project: Project, view: JiraView, lead: User | None = None) -> dict[str, Any]:
    """Short form inside issues; with `lead`, the full GET /project answer."""
    short = {
        "self": f"{view.api}/project/{project.id}", "id": project.id, "key": project.key, "name": project.name,
        "projectTypeKey": "software", "simplified": False, "avatarUrls": view.avatars(project.key),
    }
    if lead is None:
        return short
    return {
        **short, "description": "Operations work, including postmortem follow-ups.", "lead": user_json(lead, view),
        "components": [component_json(c, view) for c in COMPONENTS],
        "issueTypes": [issuetype_json(t, view) for t in ISSUE_TYPES],
        "assigneeType": "UNASSIGNED", "versions": [], "roles": {}, "style": "classic", "isPrivate": False,
    }


def sprint_json(sprint: Sprint, site: str) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": sprint.id, "self": f"{site}/rest/agile/1.0/sprint/{sprint.id}",
        "state": sprint.state, "name": sprint.name,
    }
    if sprint.start and sprint.end:
        data.update(startDate=iso_offset_time(sprint.start), endDate=iso_offset_time(sprint.end))
    return {**data, "originBoardId": sprint.board_id, "goal": sprint.goal}


def board_json(board: Board, site: str) -> dict[str, Any]:
    project = board.project
    return {
        "id": board.id, "self": f"{site}/rest/agile/1.0/board/{board.id}", "name": board.name, "type": board.type,
        "location": {
            "projectId": int(project.id), "displayName": f"{project.name} ({project.key})", "projectName": project.name,
            "projectKey": project.key, "projectTypeKey": "software", "name": f"{project.name} ({project.key})",
            "avatarURI": f"{site}/secure/projectavatar?size=small&pid={project.id}",
        },
    }


def comment_json(issue: Issue, comment: Comment, view: JiraView) -> dict[str, Any]:
    data: dict[str, Any] = {
        "self": f"{view.api}/issue/{issue.id}/comment/{comment.id}", "id": comment.id,
        "author": user_json(comment.author, view), "body": comment.body.for_version(view.api_version),
        "updateAuthor": user_json(comment.author, view),
        "created": view.time(comment.created), "updated": view.time(comment.updated),
    }
    if view.is_cloud:
        data["jsdPublic"] = True
    return data


def remote_link_json(issue: Issue, link: RemoteLink, view: JiraView) -> dict[str, Any]:
    data: dict[str, Any] = {"id": link.id, "self": f"{view.api}/issue/{issue.key}/remotelink/{link.id}"}
    if link.global_id is not None:
        data["globalId"] = link.global_id
    if link.application is not None:
        data["application"] = link.application
    if link.relationship is not None:
        data["relationship"] = link.relationship
    data["object"] = link.object
    return data


class FieldSelection:
    """Jira's `fields` parameter: `*all`, `*navigable`, names, and `-name` exclusions."""

    def __init__(self, requested: list[str], default: str) -> None:
        items = requested or [default]
        self.excluded = {i[1:] for i in items if i.startswith("-")}
        self.named = {i for i in items if not i.startswith(("-", "*"))}
        self.all = "*all" in items
        self.navigable = "*navigable" in items or (not self.named and not self.all and bool(self.excluded))

    def wants(self, name: str) -> bool:
        if name in self.excluded:
            return False
        return self.all or name in self.named or (self.navigable and name not in _NOT_NAVIGABLE)

    @property
    def only_id(self) -> bool:
        return not self.all and not self.navigable and self.named <= {"id"}


def issue_json(
    issue: Issue, view: JiraView, selection: FieldSelection, sprints: dict[int, Sprint], properties: Sequence[str] = (),
) -> dict[str, Any]:
    """An issue with the selected fields (id only when nothing else is asked for, as search/jql does)."""
    if selection.only_id:
        return {"id": issue.id}
    fields = all_fields(issue, view, sprints)
    data: dict[str, Any] = {
        "expand": ISSUE_EXPAND, "id": issue.id, "self": f"{view.api}/issue/{issue.id}", "key": issue.key,
        "fields": {name: value for name, value in fields.items() if selection.wants(name)},
    }
    if properties:
        wanted = {k: v for k, v in issue.properties.items() if "*all" in properties or k in properties}
        data["properties"] = dict(list(wanted.items())[:5])
    return data


def all_fields(issue: Issue, view: JiraView, sprints: dict[int, Sprint]) -> dict[str, Any]:
    """Every field of the issue, rendered for the request's deployment and REST version."""
    fields: dict[str, Any] = {
        "summary": issue.summary,
        "description": issue.description.for_version(view.api_version) if issue.description else None,
        "issuetype": issuetype_json(issue.issuetype, view),
        "project": project_json(issue.project, view),
        "status": status_json(issue.status, view),
        "priority": priority_json(issue.priority, view),
        "labels": list(issue.labels),
        "duedate": issue.duedate.isoformat() if issue.duedate else None,
        "assignee": user_json(issue.assignee, view) if issue.assignee else None,
        "reporter": user_json(issue.reporter, view),
        "creator": user_json(issue.creator, view),
        "created": view.time(issue.created),
        "updated": view.time(issue.updated),
        "resolutiondate": view.time(issue.resolutiondate) if issue.resolutiondate else None,
        "resolution": resolution_json(issue.resolution, view) if issue.resolution else None,
        "statuscategorychangedate": view.time(issue.status_changed or issue.created),
        "components": [component_json(c, view) for c in issue.components],
        "subtasks": [],
        SPRINT_FIELD: [
            sprint_json(sprints[i], view.site) | {"boardId": sprints[i].board_id}
            for i in issue.sprint_ids if i in sprints
        ] or None,
        "comment": {
            "comments": [comment_json(issue, c, view) for c in issue.comments],
            "self": f"{view.api}/issue/{issue.id}/comment", "maxResults": len(issue.comments),
            "total": len(issue.comments), "startAt": 0,
        },
    }
    if view.is_cloud and issue.parent_key:
        fields["parent"] = {"key": issue.parent_key, "self": f"{view.api}/issue/{issue.parent_key}"}
    if not view.is_cloud:
        fields[EPIC_LINK_FIELD] = issue.parent_key
        fields[EPIC_NAME_FIELD] = issue.epic_name
    return fields


def resolution_json(resolution: Resolution, view: JiraView) -> dict[str, Any]:
    return {
        "self": f"{view.api}/resolution/{resolution.id}", "id": resolution.id, "description": resolution.description,
        "name": resolution.name,
    }


_CUSTOM_TYPES = {
    SPRINT_FIELD: "com.pyxis.greenhopper.jira:gh-sprint", EPIC_LINK_FIELD: "com.pyxis.greenhopper.jira:gh-epic-link",
    EPIC_NAME_FIELD: EPIC_NAME_SCHEMA,
}
FIELD_CATALOG = (
    ("summary", "Summary", "string", True), ("description", "Description", "string", True),
    ("issuetype", "Issue Type", "issuetype", True), ("project", "Project", "project", True),
    ("status", "Status", "status", True), ("priority", "Priority", "priority", True),
    ("labels", "Labels", "array", True), ("duedate", "Due date", "date", True),
    ("assignee", "Assignee", "user", True), ("reporter", "Reporter", "user", True),
    ("creator", "Creator", "user", True), ("created", "Created", "datetime", True),
    ("updated", "Updated", "datetime", True), ("resolutiondate", "Resolved", "datetime", True),
    ("resolution", "Resolution", "resolution", True), ("components", "Component/s", "array", True),
    ("comment", "Comment", "comments-page", False), ("parent", "Parent", "issuelink", True),
    (SPRINT_FIELD, "Sprint", "array", True), (EPIC_LINK_FIELD, "Epic Link", "any", True),
    (EPIC_NAME_FIELD, "Epic Name", "string", True),
)


def field_list(is_cloud: bool) -> list[dict[str, Any]]:
    """GET /field: what a client needs to discover field ids by name."""
    out = []
    for field_id, name, schema_type, navigable in FIELD_CATALOG:
        if (field_id == "parent" and not is_cloud) or (field_id in (EPIC_LINK_FIELD, EPIC_NAME_FIELD) and is_cloud):
            continue
        custom = field_id in _CUSTOM_TYPES
        number = field_id.rsplit("_", 1)[-1]
        if custom:
            schema = {"type": schema_type, "custom": _CUSTOM_TYPES[field_id], "customId": int(number)}
        else:
            schema = {"type": schema_type, "system": field_id}
        out.append({
            "id": field_id, "key": field_id, "name": name, "custom": custom, "orderable": True, "navigable": navigable,
            "searchable": True, "clauseNames": [f"cf[{number}]", name] if custom else [field_id], "schema": schema,
        })
    return out
