"""Decide what to change, purely: parsed pages x Jira snapshots x local state -> a Plan.

Matching an item to its issue, in order: the Jira key on the page; our state record; an issue
carrying the item's identity label (recovers a crash between create and write-back, even with the
state lost). Only then is a create planned, and never while an earlier create's intent is younger
than the search-lag grace (Jira's index may not show that issue yet); past it, the cycle has looked the
item up by its label with no date bound (sync.intents), so an issue that exists is among the snapshots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

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
)
from sync.issue_fields import PlanOptions, issue_fields, page_record
from sync.models import (
    ActionItem,
    AdoptIssue,
    CreateEpic,
    CreateIssue,
    FlagRemoved,
    IssueFields,
    IssueSnapshot,
    ItemRecord,
    KeyLink,
    Plan,
    Postmortem,
    SendReminder,
    TaskTick,
    TransitionDone,
    Unflag,
    UpdateIssue,
    WriteBack,
)
from sync.problems import Problem, ProblemKind
from sync.query import is_issue_key
from sync.state_view import StateView


def _labelled_issues(snapshots: Mapping[str, IssueSnapshot]) -> tuple[dict[str, str], list[Problem]]:
    """Item key -> oldest issue with its label; and a report for each duplicate."""
    by_key: dict[str, list[IssueSnapshot]] = {}
    for snapshot in snapshots.values():
        key = item_key_from_labels(snapshot.labels)
        if key:
            by_key.setdefault(key, []).append(snapshot)
    chosen, problems = {}, []
    for key, found in by_key.items():
        if len(found) > 1:  # (rare: sorting every single-issue list costs a quiet cycle at 50,000 issues)
            found.sort(key=lambda s: (s.created or datetime.max, s.key))
        chosen[key] = found[0].key
        if len(found) > 1:
            problems.append(Problem(ProblemKind.DUPLICATE_ISSUES, key, ",".join(s.key for s in found)))
    return chosen, problems


def _changed_fields(record: ItemRecord, new: ItemRecord, snapshot: IssueSnapshot) -> tuple[list[str], list[Problem]]:
    """Three-way compare: the fields the page changed since the last sync and Jira did not; both -> Jira wins."""
    jira_type = type_from_labels(snapshot.labels)
    jira_now = {  # the assignee is not compared: the page's owner wins
        "summary": snapshot.summary, "due": snapshot.due.isoformat() if snapshot.due else None,
        "priority": snapshot.priority, "type": f"pmsync-type-{jira_type}" if jira_type else None,
    }
    changed: list[str] = []
    conflicts: list[Problem] = []
    for name in ("summary", "due", "priority", "type", "assignee"):
        before = getattr(record, name)
        if before == getattr(new, name):
            continue
        if name in jira_now and jira_now[name] != before:
            conflicts.append(Problem(ProblemKind.JIRA_WINS, snapshot.key, name))
        else:
            changed.append(name)
    return changed, conflicts


def _update(record: ItemRecord, new: ItemRecord, kept: ItemRecord, item: ActionItem, changed: Sequence[str],
            missing_labels: tuple[str, ...]) -> UpdateIssue | None:
    """The update that carries the changed fields (and our missing labels) to the issue; None when there is none."""
    values = {"summary": item.summary, "due": item.due, "priority": new.priority,
              "assignee": item.owner if item.owner and item.owner.is_mention else None}
    retyped = "type" in changed  # the type is a label (Jira has no field for it)
    add = ((new.type,) if retyped and new.type else ()) + missing_labels  # missing: how we find the issue again
    remove = (record.type,) if retyped and record.type else ()
    changes = {name: values[name] for name in changed if name in values}
    return UpdateIssue(kept, changes, add, remove) if changes or add or remove else None


def plan_changes(
    postmortems: Sequence[Postmortem],
    snapshots: Mapping[str, IssueSnapshot],
    state: StateView,
    options: PlanOptions,
    now: datetime,
    *,
    failed_page_ids: frozenset[str] = frozenset(),
    deleted_page_ids: frozenset[str] = frozenset(),
    reminders: Sequence[SendReminder] = (),
) -> Plan:
    """Everything this cycle should write, given the pages fetched and parsed this cycle.

    `failed_page_ids`: pages that failed to parse (their items are never taken as removed);
    `deleted_page_ids`: cached pages confirmed gone from Confluence; their items are flagged as removed.
    `reminders`: those due today (sync.reminders); planned but for issues this plan marks done or flags.
    """
    if not postmortems and not deleted_page_ids and snapshots is state.issues:
        # Nothing new on either side (duplicates were reported when they appeared, and on each full reconcile):
        # nothing to plan, and the state need not even be decoded (sync.state_view).
        return Plan(reminders=tuple(reminders))
    labelled, duplicates = _labelled_issues(snapshots)
    given = _Given(snapshots, state, options, now, labelled, tracked_by_issue(state.items.values()))
    epics = {page: s.key for s in snapshots.values() if (page := epic_page_from_labels(s.labels))}
    epics |= {name.split(":", 1)[1]: key for name, key in state.meta.items() if name.startswith("epic:")}
    by_page: dict[str, list[ItemRecord]] = {}
    for record in state.items.values():
        by_page.setdefault(record.page_id, []).append(record)
    acc = _Changes(problems=duplicates)
    for pm in postmortems:
        page_id = pm.page_id or ""
        _plan_page(pm, given, acc, by_page.get(page_id, []), trust_removals=page_id not in failed_page_ids)
        if options.epics:
            _plan_epic(pm, epics.get(page_id), given, acc)
    for page_id in sorted(deleted_page_ids):
        _flag_removed(by_page.get(page_id, []), set(), acc, given, PAGE_DELETED_COMMENT)
    return _checked(replace(acc.plan(), reminders=_not_closing(reminders, acc)), options)


def _not_closing(reminders: Sequence[SendReminder], acc: _Changes) -> tuple[SendReminder, ...]:
    """The reminders, but those of issues this plan marks done or flags as removed (never reminded)."""
    closing = {t.record.issue_key for t in acc.transitions} | {f.record.issue_key for f in acc.flags}
    return tuple(reminder for reminder in reminders if reminder.issue_key not in closing)


def _checked(plan: Plan, options: PlanOptions) -> Plan:
    """The plan, marked unsafe when it creates or flags more issues than the limits allow."""
    if len(plan.creates) > options.max_creates:
        return replace(plan, unsafe_reason=f"{len(plan.creates)} creates exceed the limit of {options.max_creates}")
    if len(plan.flags) > options.max_flags:
        return replace(plan, unsafe_reason=f"{len(plan.flags)} removals exceed the limit of {options.max_flags}")
    return plan


@dataclass(frozen=True)
class _Given:
    """What every page is planned against: Jira as read, the local state, the options and the time."""

    snapshots: Mapping[str, IssueSnapshot]
    state: StateView
    options: PlanOptions
    now: datetime
    labelled: Mapping[str, str]  # item key -> the oldest issue carrying its identity label
    tracked: Mapping[tuple[str, str], str]  # (page id, issue key) -> item key

    def foreign(self, issue_key: str | None) -> bool:
        """Whether the issue, as read, is in a project we do not manage (then nothing is ever written to it)."""
        project = snapshot.project if (snapshot := self.snapshots.get(issue_key or "")) else None
        return project is not None and project not in (self.options.project, *self.options.managed_projects)

    def pending(self, intent: str) -> bool:
        """Whether that create was sent within the search-lag grace (Jira's index may not show its issue yet)."""
        started = self.state.intents.get(intent)
        return started is not None and self.now - started < self.options.search_lag_grace


@dataclass
class _Changes:
    """The plan being built, page by page."""

    creates: list[CreateIssue] = field(default_factory=list)
    epics: list[CreateEpic] = field(default_factory=list)
    adopts: list[AdoptIssue] = field(default_factory=list)
    updates: list[UpdateIssue] = field(default_factory=list)
    transitions: list[TransitionDone] = field(default_factory=list)
    flags: list[FlagRemoved] = field(default_factory=list)
    unflags: list[Unflag] = field(default_factory=list)
    write_backs: list[WriteBack] = field(default_factory=list)
    records: list[ItemRecord] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def plan(self) -> Plan:
        return Plan(
            creates=tuple(self.creates), epics=tuple(self.epics), adopts=tuple(self.adopts),
            updates=tuple(self.updates), transitions=tuple(self.transitions), flags=tuple(self.flags),
            unflags=tuple(self.unflags), write_backs=tuple(self.write_backs), records=tuple(self.records),
            problems=tuple(self.problems),
        )


def _plan_page(pm: Postmortem, given: _Given, acc: _Changes, records: Sequence[ItemRecord], *,
               trust_removals: bool) -> None:
    """Plan the issues of one page's items, the page's write-back, and flags for the items it lost."""
    keys = page_item_keys(pm.page_id or "", pm.items, given.tracked)
    links: list[KeyLink] = []
    ticks: list[TaskTick] = []
    for item, key in zip(pm.items, keys, strict=True):
        planned, snapshot = _plan_item(pm, item, key, given, acc)
        if not planned or not given.options.write_back:
            continue
        if not item.jira_key:
            links.append(KeyLink(item.origin, key, item.summary))
        if snapshot and snapshot.is_done and item.origin.startswith("task:") and not item.done:
            ticks.append(TaskTick(item.origin, item.summary))
    if trust_removals and not PARTIAL_READS.intersection(pm.problems):  # a page read in part loses no items
        _flag_removed(records, set(keys), acc, given, ROW_REMOVED_COMMENT)
    if links or ticks:
        acc.write_backs.append(WriteBack(pm.page_id or "", tuple(links), tuple(ticks)))


def _plan_item(pm: Postmortem, item: ActionItem, key: str, given: _Given,
               acc: _Changes) -> tuple[bool, IssueSnapshot | None]:
    """Plan one item's issue (create, adopt or update it); whether anything was planned, and the issue as read."""
    record = given.state.items.get(key)
    if item.jira_key and not is_issue_key(item.jira_key):
        # Page text, not a key: it was never sent to Jira, and nothing is written for the item until it is fixed.
        acc.problems.append(Problem(ProblemKind.INVALID_KEY, pm.page_id, item.jira_key))
        return False, None
    issue_key = item.jira_key or (record.issue_key if record else None) or given.labelled.get(key)
    new = page_record(pm.page_id or "", key, item, issue_key, given.options)
    if issue_key is None:
        if given.pending(key):
            acc.problems.append(Problem(ProblemKind.CREATE_PENDING, key))
            return False, None
        acc.creates.append(CreateIssue(new, issue_fields(pm, new, item, given.options), mark_done=bool(item.done)))
        return True, None
    snapshot = given.snapshots.get(issue_key)
    if given.foreign(issue_key):  # shown on the summary page, never adopted or written to
        acc.problems.append(Problem(ProblemKind.FOREIGN_ISSUE, issue_key, snapshot.project if snapshot else None))
        return False, snapshot
    if snapshot is None:
        # Never replaced by a new issue: a key we never saw, or a tracked issue that was deleted or
        # moved to another project. Nothing is written for the item until the issue is back.
        known = record is not None and record.issue_key == issue_key
        acc.problems.append(Problem(ProblemKind.ISSUE_GONE if known else ProblemKind.UNKNOWN_ISSUE, issue_key))
        return False, None
    _plan_known(item, record, new, snapshot, given.options, acc)
    return True, snapshot


def _plan_known(item: ActionItem, record: ItemRecord | None, new: ItemRecord, snapshot: IssueSnapshot,
                options: PlanOptions, acc: _Changes) -> None:
    """Adopt an issue we do not track yet, or carry the page's edits to it; transition it when the item got done."""
    to_done = item.done and not (record and record.done) and not snapshot.is_done
    # Until the transition lands, every other write keeps the record's old "done": a failed
    # transition is then planned again next cycle.
    kept = replace(new, done=bool(record and record.done)) if to_done else new
    if record is None or record.issue_key != new.issue_key:
        acc.adopts.append(AdoptIssue(kept, _missing_labels(new, snapshot, options)))
    else:
        changed, conflicts = _changed_fields(record, new, snapshot)
        acc.problems.extend(conflicts)
        update = _update(record, new, kept, item, changed, _missing_labels(new, snapshot, options, ours_only=True))
        if update:
            acc.updates.append(update)
        elif kept != replace(record, flagged=False):
            acc.records.append(kept)
        if record.flagged:
            acc.unflags.append(Unflag(kept))
    if to_done:
        kind = (snapshot.project, snapshot.issue_type) if snapshot.project and snapshot.issue_type else None
        acc.transitions.append(TransitionDone(new, kind))


def _plan_epic(pm: Postmortem, epic_key: str | None, given: _Given, acc: _Changes) -> None:
    """Put this page's new issues under its epic, planning the epic first when it does not exist yet."""
    page_id, options = pm.page_id or "", given.options
    mine = [i for i, c in enumerate(acc.creates) if c.record.page_id == page_id]
    if not mine:
        return
    if epic_key is None:
        if given.pending(f"epic-{page_id}"):
            acc.problems.append(Problem(ProblemKind.EPIC_PENDING, page_id))  # its new issues wait for it
            acc.creates = [c for i, c in enumerate(acc.creates) if i not in mine]
            return
        labels = (MANAGED_LABEL, epic_label(page_id), *options.labels)
        fields = IssueFields(summary=pm.title,
                             description=f"Action items of the postmortem \"{pm.title}\": {pm.url or ''}",
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


# Page problems meaning some items were not read: their absence proves nothing, so no issue is flagged removed.
PARTIAL_READS = frozenset({"malformed", "table-too-large"})
ROW_REMOVED_COMMENT = ("This action item was removed from its postmortem page. The ticket is kept; "
                       "close it if the work is no longer needed. (postmortem-sync, item {item_key})")
PAGE_DELETED_COMMENT = ("The postmortem page of this action item was deleted. The ticket is kept; "
                        "close it if the work is no longer needed. (postmortem-sync, item {item_key})")


def _flag_removed(records: Sequence[ItemRecord], seen: set[str], acc: _Changes, given: _Given, comment: str) -> None:
    """Flag the tracked issues of a page whose items are no longer on it (never delete them, nor touch foreign ones)."""
    for record in records:
        if record.item_key in seen or record.flagged or not record.issue_key or given.foreign(record.issue_key):
            continue
        acc.flags.append(FlagRemoved(replace(record, flagged=True), comment.format(item_key=record.item_key),
                                     given.options.removed_transition))
