"""Carry out a Plan: the only code that writes to Jira and Confluence.

Crash safety: the intent to create is committed to the state before the create is sent, and each
record is saved as soon as its write succeeded. A crash in between leaves an intent that the next
cycles resolve by label search (see sync.planner), never by creating blindly.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial

import structlog

from sync.identity import REMOVED_LABEL, item_label
from sync.jira_macro import JiraServer
from sync.models import CreateIssue, CreateResult, FlagRemoved, Page, Plan, SendReminder, UpdateIssue
from sync.people import with_people
from sync.ports import (
    AssigneeRejected,
    AtlassianError,
    ConfluencePort,
    CreateInterrupted,
    JiraPort,
    NotFound,
)
from sync.problems import Problem, ProblemKind
from sync.reminders import journal_entry
from sync.state import State
from sync.templates import DEFAULT_TEMPLATES, TemplateSpec
from sync.write_back import edit_body, write_back

log = structlog.get_logger(__name__)

@dataclass(frozen=True)
class ApplyOptions:
    write_back: bool = True
    sprint_board: int | None = None
    remote_links: bool = False
    page_url: Callable[[str], str | None] = lambda page_id: None
    concurrency: int = 4
    templates: tuple[TemplateSpec, ...] = DEFAULT_TEMPLATES  # the parser's, so the write-back finds the same items
    managed_projects: tuple[str, ...] = ()  # where issues may be written to; empty: not checked by project
    jira_server: JiraServer | None = None  # the Jira link written-back macros name; None: as the page's macros do


@dataclass
class ApplyResult:
    created: dict[str, str] = field(default_factory=dict)  # item key -> issue key
    adopted: int = 0
    updated: int = 0
    transitioned: int = 0
    flagged: int = 0
    written_back: int = 0
    reminded: list[SendReminder] = field(default_factory=list)  # the reminders sent
    pages: list[Page] = field(default_factory=list)  # the pages written back, as we wrote them
    problems: list[Problem] = field(default_factory=list)


def apply_plan(plan: Plan, jira: JiraPort, confluence: ConfluencePort, state: State,
               pages: Mapping[str, Page], options: ApplyOptions, now: datetime) -> ApplyResult:
    """Execute every change of the plan; a failed change is reported and the rest go on."""
    result = ApplyResult()
    plan, unknown = with_people(plan, confluence.person)  # before any write: a failed look-up writes nothing
    result.problems += unknown
    state.save_items(plan.records)
    _adopt(plan, jira, state, result)
    _create(_under_epics(plan, jira, state, now, result), jira, state, options, now, result)
    _edit_tracked(plan, jira, state, result, options.managed_projects)
    _remind(plan.reminders, jira, state, now, result)
    if options.write_back and plan.write_backs:
        keys = state.issue_keys() | result.created
        # Each write-back touches one page and every page appears once, so pages can go in parallel;
        # the shared pacer keeps the request rate within the configured burst limit.
        with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
            edit = partial(edit_body, keys=keys, templates=options.templates, server=options.jira_server,
                           projects=options.managed_projects)
            outcomes = pool.map(lambda w: write_back(w, partial(edit, write=w), confluence, pages.get(w.page_id)),
                                plan.write_backs)
            for written, problems in outcomes:
                result.pages += [written] if written else []
                result.problems += problems
        result.written_back = len(result.pages)
    return result


def _edit_tracked(plan: Plan, jira: JiraPort, state: State, result: ApplyResult, managed: Sequence[str]) -> None:
    """Update, transition, flag and unflag tracked issues; each record is saved once its write landed."""
    for change in plan.updates:
        if _update(jira, change, result):
            state.save_items([change.record])
    for done in plan.transitions:
        key = done.record.issue_key
        assert key is not None  # the planner plans this only for an item that has an issue
        if _attempt(result, ProblemKind.TRANSITION_FAILED, key, partial(jira.transition_to_done, key, done.kind)):
            state.save_items([replace(done.record, done=True)])
            result.transitioned += 1
    for flag in plan.flags:
        left: list[Problem | None] = []  # what _flag found, when it ran
        if _attempt(result, ProblemKind.FLAG_FAILED, flag.record.issue_key,
                    partial(_collect, left, partial(_flag, jira, flag, managed))):
            state.save_items([flag.record])  # an issue that left the project is not asked about again
            if left[0]:
                result.problems.append(left[0])
            else:
                _flagged(result, flag)
    for unflag in plan.unflags:
        key = unflag.record.issue_key
        assert key is not None  # the planner plans this only for an item that has an issue
        if _attempt(result, ProblemKind.UNFLAG_FAILED, key,
                    partial(jira.update_issue, key, _port_changes(remove=[REMOVED_LABEL]))):
            state.save_items([replace(unflag.record, flagged=False)])


def _update(jira: JiraPort, change: UpdateIssue, result: ApplyResult) -> bool:
    """Carry one update; True when it is settled: landed, or refused for good (a 4xx, reported once).

    An assignee Jira refuses would make it refuse the whole edit, every cycle: the other fields go
    without it (as a create does) and the owner is reported. 429, 5xx, no answer and 401 (the
    credentials, not this change) stay transient: the next cycle redoes the change.
    """
    key = change.record.issue_key
    assert key is not None  # the planner plans this only for an item that has an issue
    changes = _port_changes(change.changes, add=change.add_labels, remove=change.remove_labels)
    try:
        try:
            jira.update_issue(key, changes)
        except AssigneeRejected as exc:
            result.problems.append(Problem(ProblemKind.UNKNOWN_USER, change.record.item_key, exc.message))
            jira.update_issue(key, {name: value for name, value in changes.items() if name != "assignee"})
    except AtlassianError as exc:
        log.warning("update_failed", issue_key=key, error=str(exc), status=exc.status)
        rejected = exc.status is not None and 400 <= exc.status < 500 and exc.status not in (401, 429)
        result.problems.append(Problem(ProblemKind.UPDATE_REJECTED if rejected else ProblemKind.UPDATE_FAILED,
                                       key, str(exc)))
        return rejected
    result.updated += 1
    return True


def _remind(reminders: Sequence[SendReminder], jira: JiraPort, state: State, now: datetime,
            result: ApplyResult) -> None:
    """Send each reminder as one edit (comment + label), journalled first: a crash or a lost answer leaves
    an entry of unknown outcome, which holds the issue back until its label can show (sync.reminders)."""
    for reminder in reminders:
        state.save_reminder(*journal_entry(reminder, now, sent=False))
        if _attempt(result, ProblemKind.REMINDER_FAILED, reminder.issue_key,
                    partial(jira.comment_and_label, reminder.issue_key, reminder.comment, reminder.label)):
            state.save_reminder(*journal_entry(reminder, now, sent=True))
            result.reminded.append(reminder)
            log.info("reminder_sent", issue_key=reminder.issue_key, page_id=reminder.page_id, step=reminder.step,
                     final=reminder.final)


def _flagged(result: ApplyResult, flag: FlagRemoved) -> None:
    result.flagged += 1
    log.info("issue_flagged_removed", issue_key=flag.record.issue_key, page_id=flag.record.page_id)


def _collect(into: list[Problem | None], call: Callable[[], Problem | None]) -> None:
    """Run `call` and keep what it returned (for `_attempt`, which reports only what it raised)."""
    into.append(call())


def _flag(jira: JiraPort, flag: FlagRemoved, managed: Sequence[str]) -> Problem | None:
    """Label the issue as removed, say why in a comment, and transition it when configured (never delete it).

    Unless it left the managed projects (Jira answers a moved issue under its new key, and the cached
    snapshot the plan saw may predate the move): then nothing is written, and `issue-moved` is returned.
    """
    key = flag.record.issue_key
    assert key is not None  # the planner flags only items that have an issue
    current = jira.get_issue(key)
    if current.key != key or (managed and current.project not in managed):
        log.warning("issue_moved", issue_key=key, now=current.key)
        return Problem(ProblemKind.ISSUE_MOVED, key, current.key)
    jira.update_issue(key, _port_changes(add=[REMOVED_LABEL]))
    jira.add_comment(key, flag.comment)
    if flag.transition:
        jira.transition(key, flag.transition)
    return None


def _port_changes(fields: Mapping[str, object] | None = None, *, add: Sequence[str] = (),
                  remove: Sequence[str] = ()) -> dict[str, object]:
    """Changes as JiraPort.update_issue takes them: fields by IssueFields name, plus labels_add / labels_remove."""
    changes = dict(fields or {})
    if add:
        changes["labels_add"] = list(add)
    if remove:
        changes["labels_remove"] = list(remove)
    return changes


def _problem_of(kind: ProblemKind, key: str | None, call: Callable[[], object]) -> Problem | None:
    """Run one write; None when it worked, else the problem of that kind to report (and log)."""
    try:
        call()
        return None
    except AtlassianError as exc:
        log.warning(kind.value.replace("-", "_"), issue_key=key, error=str(exc))
        return Problem(kind, str(key), str(exc))


def _attempt(result: ApplyResult, kind: ProblemKind, key: str | None, call: Callable[[], object]) -> bool:
    problem = _problem_of(kind, key, call)
    if problem:
        result.problems.append(problem)
    return problem is None


def _adopt(plan: Plan, jira: JiraPort, state: State, result: ApplyResult) -> None:
    for adopt in plan.adopts:
        key = adopt.record.issue_key
        assert key is not None  # the planner plans this only for an item that has an issue
        try:
            if adopt.add_labels:
                jira.update_issue(key, _port_changes(add=adopt.add_labels))
        except NotFound:
            result.problems.append(Problem(ProblemKind.UNKNOWN_ISSUE, key))
            log.warning("adopt_failed_unknown_issue", issue_key=key, page_id=adopt.record.page_id)
            continue
        except AtlassianError as exc:
            result.problems.append(Problem(ProblemKind.ADOPT_FAILED, key, str(exc)))
            continue
        state.save_items([adopt.record])
        result.adopted += 1
        log.info("issue_adopted", issue_key=key, item_key=adopt.record.item_key)


def _under_epics(plan: Plan, jira: JiraPort, state: State, now: datetime, result: ApplyResult) -> list[CreateIssue]:
    """Create the planned epics, then point each new issue at its page's epic (left out if it failed)."""
    if not plan.epics:
        return list(plan.creates)
    with state.transaction():
        state.begin_create([f"epic-{e.page_id}" for e in plan.epics], now)
    try:
        outcomes = jira.create_issues([e.fields for e in plan.epics])
    except AtlassianError as exc:  # the intents stay; the epics are looked up by label next time
        result.problems.append(Problem(ProblemKind.EPIC_CREATE_FAILED, None, str(exc)))
        outcomes = [CreateResult(None, "interrupted")] * len(plan.epics)
    epic_of: dict[str, str] = {}
    unknown: set[str] = set()  # the epic may or may not exist: its issues wait for it
    for epic, outcome in zip(plan.epics, outcomes, strict=True):
        if outcome.key:
            epic_of[epic.page_id] = outcome.key
            state.set_meta(**{f"epic:{epic.page_id}": outcome.key})
            state.clear_intents([f"epic-{epic.page_id}"])
            log.info("epic_created", issue_key=outcome.key, page_id=epic.page_id)
        elif outcome.error != "interrupted":
            state.clear_intents([f"epic-{epic.page_id}"])
            # Jira rejected the epic: its issues go without one.
            result.problems.append(Problem(ProblemKind.EPIC_REJECTED, epic.page_id, str(outcome.error)))
        else:
            unknown.add(epic.page_id)
    return [replace(c, fields=replace(c.fields, parent_key=epic_of.get(c.epic_page))) if c.epic_page else c
            for c in plan.creates if c.epic_page not in unknown]


def _create(creates: Sequence[CreateIssue], jira: JiraPort, state: State, options: ApplyOptions,
            now: datetime, result: ApplyResult) -> None:
    """Create the issues in bulk, each intent journalled first; then what follows a create (done, sprint, links)."""
    if not creates:
        return
    with state.transaction():
        state.begin_create([c.record.item_key for c in creates], now)
    try:
        outcomes = jira.create_issues([c.fields for c in creates])
    except CreateInterrupted as exc:
        outcomes = list(exc.results) + [CreateResult(None, "interrupted")] * (len(creates) - len(exc.results))
        result.problems.append(Problem(ProblemKind.CREATE_INTERRUPTED, None, exc.message))
    except AtlassianError as exc:  # nothing known: the intents stay; the next cycles look for the labels
        result.problems.append(Problem(ProblemKind.CREATE_FAILED, None, str(exc)))
        return
    outcomes = _without_unknown_users(creates, outcomes, jira, result)
    done_keys = []
    for change, outcome in zip(creates, outcomes, strict=True):
        item_key = change.record.item_key
        if outcome.key:
            state.save_items([replace(change.record, issue_key=outcome.key)])
            state.clear_intents([item_key])
            result.created[item_key] = outcome.key
            log.info("issue_created", issue_key=outcome.key, item_key=item_key, page_id=change.record.page_id)
            kind = (change.fields.project, change.fields.issue_type) if change.fields.project else None
            done_keys += [(outcome.key, kind)] if change.mark_done else []
        elif outcome.error != "interrupted":
            state.clear_intents([item_key])  # Jira rejected it: nothing exists to find
            result.problems.append(Problem(ProblemKind.CREATE_REJECTED, item_key, str(outcome.error)))
    # Distinct new issues, one transition each: safe to send side by side (no bulk transition in v2).
    with ThreadPoolExecutor(max_workers=options.concurrency) as pool:
        failures = pool.map(lambda done: _problem_of(ProblemKind.TRANSITION_FAILED, done[0],
                                                     partial(jira.transition_to_done, *done)), done_keys)
        result.problems += [problem for problem in failures if problem]
    _after_create(creates, jira, options, result)


def _without_unknown_users(creates: Sequence[CreateIssue], outcomes: Sequence[CreateResult], jira: JiraPort,
                           result: ApplyResult) -> list[CreateResult]:
    """The outcomes, with the creates Jira refused for their assignee sent again unassigned (and reported)."""
    refused = [(c, o) for c, o in zip(creates, outcomes, strict=True)
               if not o.key and o.error and "assignee" in o.error.lower()]
    if not refused:
        return list(outcomes)
    again = jira.create_issues([replace(c.fields, assignee=None) for c, _ in refused])
    fixed = {id(c): o for (c, _), o in zip(refused, again, strict=True)}
    result.problems += [Problem(ProblemKind.UNKNOWN_USER, c.record.item_key) for c, _ in refused]
    return [fixed.get(id(c), o) for c, o in zip(creates, outcomes, strict=True)]


def _after_create(creates: Sequence[CreateIssue], jira: JiraPort, options: ApplyOptions, result: ApplyResult) -> None:
    keys = [result.created[c.record.item_key] for c in creates if c.record.item_key in result.created]
    if options.sprint_board is not None and keys:
        sprint = jira.active_sprint(options.sprint_board)
        if sprint is None:
            result.problems.append(Problem(ProblemKind.NO_ACTIVE_SPRINT, str(options.sprint_board)))
        else:
            _attempt(result, ProblemKind.SPRINT_FAILED, str(sprint), lambda: jira.add_to_sprint(sprint, keys))
    if options.remote_links:
        for change in creates:
            key = result.created.get(change.record.item_key)
            url = options.page_url(change.record.page_id)
            if key and url:
                global_id = f"pmsync:{item_label(change.record.item_key)}"
                _attempt(result, ProblemKind.REMOTE_LINK_FAILED, key,
                         partial(jira.add_remote_link, key, url, "Postmortem", global_id))
