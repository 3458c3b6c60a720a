"""An action item as Jira holds it: the record we compare across cycles and the fields we send.

Pure mappings used by the planner: an item's owner, priority and labels as Jira knows them, and the
issue description that points back at the postmortem.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from sync.identity import MANAGED_LABEL, item_label, page_label, type_label
from sync.models import ActionItem, IssueFields, ItemRecord, Postmortem
from sync.settings import Settings


@dataclass(frozen=True)
class PlanOptions:
    project: str
    managed_projects: tuple[str, ...] = ()  # besides `project`: where issues may be adopted and written to
    issue_type: str = "Task"
    labels: tuple[str, ...] = ()
    priority_map: Mapping[str, str] = field(default_factory=dict)
    default_priority: str | None = None
    components: tuple[str, ...] = ()
    write_back: bool = True
    sprint: bool = False
    epics: bool = False
    epic_issue_type: str = "Epic"
    removed_transition: str | None = None
    max_creates: int = 500
    max_flags: int = 50
    search_lag_grace: timedelta = timedelta(minutes=15)  # sync.search_lag_grace_minutes


def owner_id(item: ActionItem) -> str | None:
    owner = item.owner
    return (owner.account_id or owner.username or owner.userkey) if owner and owner.is_mention else None


def jira_priority(item: ActionItem, options: PlanOptions) -> str | None:
    """The configured Jira priority for the item's priority, else for its type, else the default."""
    for value in (item.priority, item.type):
        if value and value in options.priority_map:
            return options.priority_map[value]
    return options.default_priority


def page_record(page_id: str, key: str, item: ActionItem, issue_key: str | None, options: PlanOptions) -> ItemRecord:
    """The record of an item as the page has it now."""
    return ItemRecord(
        item_key=key, page_id=page_id, origin=item.origin, issue_key=issue_key, summary=item.summary,
        assignee=owner_id(item), due=sys.intern(item.due.isoformat()) if item.due else None,  # shared by many
        priority=jira_priority(item, options), type=type_label(item.type), done=bool(item.done),
    )


def describe_item(pm: Postmortem, item: ActionItem) -> str:
    """The issue description: where the item comes from and what it says."""
    owner = item.owner.display or owner_id(item) if item.owner else None
    lines = [
        f"Action item from the postmortem \"{pm.title}\": {pm.url or ''}".rstrip(": "),
        "",
        f"Action: {item.summary}",
        f"Owner: {owner or 'not set'}",
        f"Due: {item.due.isoformat() if item.due else 'not set'}",
    ]
    lines += [f"Type: {item.type}"] if item.type else []
    lines += [f"Priority: {item.priority}"] if item.priority else []
    lines += ["", "Managed by postmortem-sync: edit the action item on the page; this ticket follows."]
    return "\n".join(lines)


def issue_fields(pm: Postmortem, record: ItemRecord, item: ActionItem, options: PlanOptions) -> IssueFields:
    labels = [MANAGED_LABEL, item_label(record.item_key), page_label(record.page_id), *options.labels]
    labels += [record.type] if record.type else []
    return IssueFields(
        summary=item.summary, description=describe_item(pm, item), project=options.project,
        issue_type=options.issue_type, labels=tuple(dict.fromkeys(labels)),
        assignee=item.owner if item.owner and item.owner.is_mention else None, due=item.due,
        priority=record.priority, components=options.components,
    )


def plan_options(settings: Settings) -> PlanOptions:
    """The planner's options, from the configuration."""
    j, s = settings.jira, settings.sync
    return PlanOptions(
        project=j.project, managed_projects=j.managed, issue_type=j.issue_type, labels=tuple(j.labels),
        priority_map=dict(j.priority_map),
        default_priority=j.default_priority, components=tuple(j.components), write_back=s.write_back,
        sprint=j.sprint.enabled, epics=j.epic.enabled, epic_issue_type=j.epic.issue_type,
        removed_transition=j.removed_transition,
        max_creates=s.max_creates_per_cycle, max_flags=s.max_flags_per_cycle,
        search_lag_grace=timedelta(minutes=s.search_lag_grace_minutes),
    )
