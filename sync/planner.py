"""Decide what to change, purely: parsed pages x Jira snapshots x local state -> a Plan.

Matching an item to its issue, in order: the Jira key on the page; our state record; an issue
carrying the item's identity label (recovers a crash between create and write-back, even with the
state lost). Only then is a create planned, and never while an earlier create's intent is younger
than the search-lag grace (Jira's index may not show that issue yet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from sync.identity import (
    MANAGED_LABEL,
    epic_label,
    epic_page_from_labels,
    item_key_from_labels,
    item_label,
    page_item_keys,
    page_label,
    tracked_by_issue,
    type_from_labels,
    type_label,
)
from sync.models import ActionItem, IssueFields, IssueSnapshot, Postmortem
from sync.problems import Problem, ProblemKind
from sync.state import ItemRecord, StateView


@dataclass(frozen=True)
class PlanOptions:
    project: str
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
    search_lag_grace: timedelta = timedelta(minutes=2)


@dataclass(frozen=True)
class CreateIssue:
    record: ItemRecord
    fields: IssueFields
    mark_done: bool
    epic_page: str | None = None  # parent: the epic this cycle creates for that page


@dataclass(frozen=True)
class CreateEpic:
    """One epic per postmortem, created before its first issues (only when epics are on)."""

    page_id: str
    fields: IssueFields


@dataclass(frozen=True)
class AdoptIssue:
    record: ItemRecord
    add_labels: tuple[str, ...]


@dataclass(frozen=True)
class UpdateIssue:
    record: ItemRecord
    changes: dict[str, object]


@dataclass(frozen=True)
class TransitionDone:
    record: ItemRecord


@dataclass(frozen=True)
class FlagRemoved:
    record: ItemRecord
    comment: str
    transition: str | None


@dataclass(frozen=True)
class Unflag:
    record: ItemRecord


@dataclass(frozen=True)
class WriteBack:
    """Jira keys to put into rows/tasks (key None: filled from this cycle's create) and tasks to tick."""

    page_id: str
    keys: tuple[tuple[str, str, str], ...]  # (origin, item_key, summary)
    complete: tuple[tuple[str, str], ...]  # (origin, summary)


@dataclass(frozen=True)
class Plan:
    creates: tuple[CreateIssue, ...] = ()
    epics: tuple[CreateEpic, ...] = ()
    adopts: tuple[AdoptIssue, ...] = ()
    updates: tuple[UpdateIssue, ...] = ()
    transitions: tuple[TransitionDone, ...] = ()
    flags: tuple[FlagRemoved, ...] = ()
    unflags: tuple[Unflag, ...] = ()
    write_backs: tuple[WriteBack, ...] = ()
    records: tuple[ItemRecord, ...] = ()  # records to save that need no Jira write
    problems: tuple[Problem, ...] = ()
    unsafe_reason: str | None = None

    @property
    def is_empty(self) -> bool:
        return not (self.creates or self.epics or self.adopts or self.updates or self.transitions
                    or self.flags or self.unflags or self.write_backs)


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
        assignee=owner_id(item), due=item.due.isoformat() if item.due else None,
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


def _labelled_issues(snapshots: Mapping[str, IssueSnapshot]) -> tuple[dict[str, str], list[Problem]]:
    """Item key -> oldest issue with its label; and a report for each duplicate."""
    by_key: dict[str, list[IssueSnapshot]] = {}
    for snapshot in snapshots.values():
        key = item_key_from_labels(snapshot.labels)
        if key:
            by_key.setdefault(key, []).append(snapshot)
    chosen, problems = {}, []
    for key, found in by_key.items():
        found.sort(key=lambda s: (s.created or datetime.max, s.key))
        chosen[key] = found[0].key
        if len(found) > 1:
            problems.append(Problem(ProblemKind.DUPLICATE_ISSUES, key, ",".join(s.key for s in found)))
    return chosen, problems


def _field_changes(record: ItemRecord, new: ItemRecord, snapshot: IssueSnapshot,
                   item: ActionItem) -> tuple[dict, list[Problem]]:
    """Three-way compare: page changed since last sync and Jira did not -> update; both -> Jira wins."""
    jira_now = {
        "summary": snapshot.summary, "due": snapshot.due.isoformat() if snapshot.due else None,
        "priority": snapshot.priority, "type": type_from_labels(snapshot.labels),
    }
    changes: dict[str, object] = {}
    conflicts: list[Problem] = []
    for name in ("summary", "due", "priority", "type", "assignee"):
        before, after = getattr(record, name), getattr(new, name)
        if before == after:
            continue
        jira_value = jira_now.get(name, before)
        if name == "type":
            jira_value = f"pmsync-type-{jira_value}" if jira_value else None
        if name != "assignee" and jira_value != before:
            conflicts.append(Problem(ProblemKind.JIRA_WINS, snapshot.key, name))
            continue
        if name == "summary":
            changes["summary"] = item.summary
        elif name == "due":
            changes["due"] = item.due
        elif name == "priority":
            changes["priority"] = new.priority
        elif name == "assignee":
            changes["assignee"] = item.owner if item.owner and item.owner.is_mention else None
        elif name == "type":
            changes["labels_add"] = [new.type] if new.type else []
            changes["labels_remove"] = [before] if before else []
    return changes, conflicts


def plan_changes(
    postmortems: Sequence[Postmortem],
    snapshots: Mapping[str, IssueSnapshot],
    state: StateView,
    options: PlanOptions,
    now: datetime,
    *,
    failed_page_ids: frozenset[str] = frozenset(),
    deleted_page_ids: frozenset[str] = frozenset(),
) -> Plan:
    """Everything this cycle should write, given the pages fetched and parsed this cycle.

    `deleted_page_ids`: cached pages confirmed gone from Confluence; their items are flagged as removed.
    """
    labelled, problems = _labelled_issues(snapshots)
    epics = {page: s.key for s in snapshots.values() if (page := epic_page_from_labels(s.labels))}
    epics |= {name.split(":", 1)[1]: key for name, key in state.meta.items() if name.startswith("epic:")}
    acc = _Accumulator()
    tracked = tracked_by_issue(state.items.values())
    by_page: dict[str, list[ItemRecord]] = {}
    for record in state.items.values():
        by_page.setdefault(record.page_id, []).append(record)
    for pm in postmortems:
        _plan_page(pm, snapshots, state, labelled, options, now, acc, tracked, by_page.get(pm.page_id or "", []),
                   trust_removals=pm.page_id not in failed_page_ids)
        if options.epics:
            _plan_epic(pm, epics.get(pm.page_id or ""), state, options, now, acc)
    for page_id in sorted(deleted_page_ids):
        _flag_removed(by_page.get(page_id, []), set(), acc, options.removed_transition, PAGE_DELETED_COMMENT)
    plan = acc.plan(problems)
    if len(plan.creates) > options.max_creates:
        return replace(plan, unsafe_reason=f"{len(plan.creates)} creates exceed the limit of {options.max_creates}")
    if len(plan.flags) > options.max_flags:
        return replace(plan, unsafe_reason=f"{len(plan.flags)} removals exceed the limit of {options.max_flags}")
    return plan


@dataclass
class _Accumulator:
    creates: list = field(default_factory=list)
    epics: list = field(default_factory=list)
    adopts: list = field(default_factory=list)
    updates: list = field(default_factory=list)
    transitions: list = field(default_factory=list)
    flags: list = field(default_factory=list)
    unflags: list = field(default_factory=list)
    write_backs: list = field(default_factory=list)
    records: list = field(default_factory=list)
    problems: list = field(default_factory=list)

    def plan(self, problems: list[Problem]) -> Plan:
        return Plan(*(tuple(getattr(self, name)) for name in (
            "creates", "epics", "adopts", "updates", "transitions", "flags", "unflags", "write_backs", "records")),
            problems=tuple(problems + self.problems))


def _plan_page(pm, snapshots, state, labelled, options, now, acc, tracked, records, *, trust_removals: bool) -> None:
    page_id = pm.page_id or ""
    seen: set[str] = set()
    keys_to_write: list[tuple[str, str, str]] = []
    to_complete: list[tuple[str, str]] = []
    for item, key in zip(pm.items, page_item_keys(page_id, pm.items, tracked)):
        seen.add(key)
        record = state.items.get(key)
        issue_key = item.jira_key or (record.issue_key if record else None) or labelled.get(key)
        new = page_record(page_id, key, item, issue_key, options)
        if issue_key is None:
            started = state.intents.get(key)
            if started is not None and now - started < options.search_lag_grace:
                acc.problems.append(Problem(ProblemKind.CREATE_PENDING, key))
                continue
            acc.creates.append(CreateIssue(new, issue_fields(pm, new, item, options), mark_done=bool(item.done)))
            if options.write_back and not item.jira_key:
                keys_to_write.append((item.origin, key, item.summary))
            continue
        snapshot = snapshots.get(issue_key)
        if snapshot is None:
            # Never replaced by a new issue: a key we never saw, or a tracked issue that was deleted or
            # moved to another project. Nothing is written for the item until the issue is back.
            known = record is not None and record.issue_key == issue_key
            acc.problems.append(Problem(ProblemKind.ISSUE_GONE if known else ProblemKind.UNKNOWN_ISSUE, issue_key))
            continue
        to_done = item.done and not (record and record.done) and not snapshot.is_done
        # Until the transition lands, every other write keeps the record's old "done": a failed
        # transition is then planned again next cycle.
        kept = replace(new, done=bool(record and record.done)) if to_done else new
        if record is None or record.issue_key != issue_key:
            acc.adopts.append(AdoptIssue(kept, _missing_labels(new, snapshot, options)))
        else:
            changes, conflicts = _field_changes(record, new, snapshot, item)
            if missing := _missing_labels(new, snapshot, options, ours_only=True):
                changes["labels_add"] = [*changes.get("labels_add", []), *missing]  # how we find it again
            acc.problems.extend(conflicts)
            if changes:
                acc.updates.append(UpdateIssue(kept, changes))
            elif kept != replace(record, flagged=False):
                acc.records.append(kept)
            if record.flagged:
                acc.unflags.append(Unflag(kept))
        if to_done:
            acc.transitions.append(TransitionDone(new))
        if options.write_back and not item.jira_key:
            keys_to_write.append((item.origin, key, item.summary))
        if options.write_back and snapshot.is_done and item.origin.startswith("task:") and not item.done:
            to_complete.append((item.origin, item.summary))
    if trust_removals and "malformed" not in pm.problems:
        _flag_removed(records, seen, acc, options.removed_transition, ROW_REMOVED_COMMENT)
    if keys_to_write or to_complete:
        acc.write_backs.append(WriteBack(page_id, tuple(keys_to_write), tuple(to_complete)))


def _plan_epic(pm: Postmortem, epic_key: str | None, state: StateView, options: PlanOptions,
               now: datetime, acc: _Accumulator) -> None:
    """Put this page's new issues under its epic, planning the epic first when it does not exist yet."""
    page_id = pm.page_id or ""
    mine = [i for i, c in enumerate(acc.creates) if c.record.page_id == page_id]
    if not mine:
        return
    if epic_key is None:
        started = state.intents.get(f"epic-{page_id}")
        if started is not None and now - started < options.search_lag_grace:
            acc.problems.append(Problem(ProblemKind.EPIC_PENDING, page_id))  # its new issues wait for it
            acc.creates = [c for i, c in enumerate(acc.creates) if i not in mine]
            return
        labels = (MANAGED_LABEL, epic_label(page_id), *options.labels)
        fields = IssueFields(summary=pm.title, description=f"Action items of the postmortem \"{pm.title}\": {pm.url or ''}",
                             project=options.project, issue_type=options.epic_issue_type,
                             labels=tuple(dict.fromkeys(labels)), components=options.components)
        acc.epics.append(CreateEpic(page_id, fields))
    for i in mine:
        change = acc.creates[i]
        acc.creates[i] = (replace(change, fields=replace(change.fields, parent_key=epic_key)) if epic_key
                          else replace(change, epic_page=page_id))


def _missing_labels(new: ItemRecord, snapshot: IssueSnapshot | None, options: PlanOptions, *,
                    ours_only: bool = False) -> tuple[str, ...]:
    """Labels the issue should carry and does not: our identity labels, plus the configured ones on adoption."""
    wanted = [MANAGED_LABEL, item_label(new.item_key), page_label(new.page_id), *(() if ours_only else options.labels)]
    have = set(snapshot.labels) if snapshot else set()
    return tuple(label for label in dict.fromkeys(wanted) if label not in have)


ROW_REMOVED_COMMENT = ("This action item was removed from its postmortem page. The ticket is kept; "
                       "close it if the work is no longer needed. (postmortem-sync, item {item_key})")
PAGE_DELETED_COMMENT = ("The postmortem page of this action item was deleted. The ticket is kept; "
                        "close it if the work is no longer needed. (postmortem-sync, item {item_key})")


def _flag_removed(records: Sequence[ItemRecord], seen: set[str], acc: _Accumulator, transition: str | None,
                  comment: str) -> None:
    """Flag the tracked issues of a page whose items are no longer on it (never delete them)."""
    for record in records:
        if record.item_key in seen or record.flagged or not record.issue_key:
            continue
        acc.flags.append(FlagRemoved(replace(record, flagged=True), comment.format(item_key=record.item_key),
                                     transition))


def render_plan_table(plan: Plan) -> str:
    """The plan as a readable table for `postmortem-sync plan`."""
    rows = [("create", c.record.page_id, c.fields.summary, "", c.fields.assignee.display if c.fields.assignee else "")
            for c in plan.creates]
    rows += [("create epic", e.page_id, e.fields.summary, "", "") for e in plan.epics]
    rows += [("adopt", a.record.page_id, a.record.summary, a.record.issue_key or "", " ".join(a.add_labels))
             for a in plan.adopts]
    rows += [("update", u.record.page_id, u.record.summary, u.record.issue_key or "", ", ".join(u.changes))
             for u in plan.updates]
    rows += [("done", t.record.page_id, t.record.summary, t.record.issue_key or "", "") for t in plan.transitions]
    rows += [("flag", f.record.page_id, f.record.summary, f.record.issue_key or "", "removed") for f in plan.flags]
    rows += [("unflag", u.record.page_id, u.record.summary, u.record.issue_key or "", "") for u in plan.unflags]
    rows += [("write-back", w.page_id, f"{len(w.keys)} key(s), {len(w.complete)} task(s)", "", "")
             for w in plan.write_backs]
    if not rows:
        return "Nothing to change."
    header = ("ACTION", "PAGE", "ITEM", "ISSUE", "DETAILS")
    widths = [max(len(header[i]), *(min(60, len(str(r[i]))) for r in rows)) for i in range(5)]
    line = lambda cells: "  ".join(str(c)[:60].ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    out = [line(header)] + [line(r) for r in rows]
    out += [f"problem: {p}" for p in plan.problems]
    if plan.unsafe_reason:
        out.append(f"UNSAFE: {plan.unsafe_reason} (re-run with --force to apply)")
    return "\n".join(out)
