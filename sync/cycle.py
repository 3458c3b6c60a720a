"""One sync cycle: find changed pages -> parse -> read managed issues -> plan -> apply -> summary page -> remember."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from itertools import chain
from typing import NamedTuple, TypeVar

import structlog

from sync import intents, lease, panels, reminders, settled
from sync.apply import ApplyOptions, ApplyResult, apply_plan
from sync.clock import Clocks
from sync.heap import trim_heap
from sync.issue_fields import plan_options
from sync.issue_reads import read_issues, with_created
from sync.jira_macro import JiraServer
from sync.metrics import Metrics, Totals, TrackedItem, compute_metrics, tracked_items
from sync.models import IssueSnapshot, Page, Plan, Postmortem
from sync.page_parses import findings, parse_pages, with_page_facts
from sync.page_reads import VERSIONS_FIRST_FROM, find_changed_pages
from sync.page_status import archived_parses, deleted_pages
from sync.planner import plan_changes
from sync.ports import AtlassianError, ConfluencePort, JiraPort
from sync.problems import Problem, ProblemKind
from sync.query import managed_jql
from sync.reminders import REMINDERS_SETTLED
from sync.settings import Settings
from sync.state import State
from sync.state_codec import PAGE_FORMAT
from sync.state_view import StateView
from sync.summaries import global_page, summarise
from sync.templates import combine_templates
from sync.window import Window, plan_window, read_window

log = structlog.get_logger(__name__)
T = TypeVar("T")



@dataclass
class CycleResult:
    """What one cycle saw, planned, wrote and ran into."""

    full: bool = False
    pages_seen: int = 0
    pages_changed: int = 0
    items: int = 0
    plan: Plan | None = None
    applied: ApplyResult | None = None
    metrics: Metrics | None = None
    rows: list[TrackedItem] = field(default_factory=list)  # every known item, joined (what the metrics count);
    # empty when a quiet cycle reused the figures and no team page needs them (_measure)
    totals: Totals | None = None  # the metrics' totals: also on a settled cycle of `run` (for its health endpoint)
    settled: bool = False  # a quiet cycle whose conclusion was settled (sync.settled): no summary or panel work
    summary_written: bool = False
    scoped_written: list[str] = field(default_factory=list)  # titles of the [[summary_pages]] written
    requests: dict[str, int] = field(default_factory=dict)
    duration_s: float = 0.0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Whether the cycle did its job: none of its problems fails it."""
        return not any(problem.fails_cycle for problem in self.problems)

    def report(self, *problems: Problem | None) -> None:
        """Add the problems a step returned (None: it had none)."""
        self.problems += [problem for problem in problems if problem is not None]


def run_cycle(settings: Settings, jira: JiraPort, confluence: ConfluencePort, state: State, *,
              apply: bool = True, force: bool = False, now: Callable[[], datetime] = lambda: datetime.now(UTC),
              progress: Callable[[str], None] | None = None) -> CycleResult:
    """Run one cycle; with apply=False it only plans (a dry run) and writes nothing anywhere.

    `now` is our clock; the cycle's times (its start, the age of an intent, the lease) are the servers'
    (sync.clock), of which our clock only gives an estimate before their first answer.
    """
    view = state.view(with_pages=False)  # parsed pages are read below, only those not fetched again
    clocks = Clocks.starting(now(), view.meta)
    window = plan_window(view.meta, settings.sync.full_reconcile_every)
    result = CycleResult(full=window.full)
    try:
        read = _read(settings, jira, confluence, state, view, window, clocks, progress)
        started, result.pages_seen, result.pages_changed = read.times.started, len(read.pages), len(read.pages)
        plan = plan_changes(read.postmortems, read.issues, view, plan_options(settings), started,
                            failed_page_ids=read.failed, deleted_page_ids=read.gone,
                            reminders=read.reminders.reminders)
        result.plan, result.items = plan, sum(len(pm.items) for pm in read.postmortems)
        blocked = _blocked(plan, settings, confluence, state, started, apply=apply, force=force)
        result.report(*read.problems, *plan.problems, blocked)
        writes, issues = apply and blocked is None, read.issues
        if writes and (not plan.is_empty or plan.records):
            result.applied = _apply(plan, settings, jira, confluence, state, read, clocks.server(jira, "jira"))
            result.report(*result.applied.problems)
            lease.note_creates(state, plan, result.applied, now(), write_back=settings.sync.write_back)
            issues = with_created(issues, plan, result.applied, started)
        at, today = settled.basis(settings, state.generation, started.date()) if writes else None, started.date()
        result.rows, result.metrics, result.totals, result.settled = _measure(
            state, view, read, issues, settings, today=today, applied=result.applied is not None, at=at)
        if writes:
            _conclude(result, settings, confluence, state, window, read, issues, view, at)
        if apply:  # a standby, which may not write, still remembers the skews (cheap estimates next time)
            state.set_meta(**clocks.skew_meta(jira, confluence))
    except AtlassianError as exc:
        result.report(Problem(ProblemKind.CYCLE_FAILED, None, str(exc)))
        log.error("cycle_failed", error=str(exc), status=exc.status)
    result.requests = {"jira": jira.request_count, "confluence": confluence.request_count}
    result.duration_s = time.monotonic() - clocks.began
    return result


def _conclude(result: CycleResult, settings: Settings, confluence: ConfluencePort, state: State, window: Window,
              read: _Reading, issues: Mapping[str, IssueSnapshot], view: StateView, at: str | None) -> None:
    """The summary pages, then what the cycle learnt, then the quality panels (each cached as written). A
    quiet cycle whose conclusion is settled (sync.settled) only remembers."""
    concluding, problems = result.metrics is not None, len(result.problems)
    if concluding:
        _summarise(result, result.rows, settings, confluence, state, full=window.full)
    _remember(state, window, read, issues, view.issues, result, _as_written(result.applied, settings, read.pages))
    if concluding:
        annotated, finished = panels.annotate_pages(settings, result, read.fetched, read.failed, confluence, state)
        result.report(*annotated)
        if _quiet(read, issues, view, applied=result.applied is not None) and settled.settles(
                at, problems=len(result.problems) - problems, finished=finished):
            state.set_meta(**{settled.SETTLED_META: at})


def _summarise(result: CycleResult, rows: list[TrackedItem], settings: Settings, confluence: ConfluencePort,
               state: State, *, full: bool) -> None:
    """Write the summary pages whose content changed (sync.summaries), and report how that went."""
    if result.metrics is None:
        return
    done = summarise(result.metrics, rows, settings, confluence, state, full=full)
    result.summary_written, result.scoped_written = done.written, done.scoped
    result.report(*done.problems)


class _Reading(NamedTuple):
    """What a cycle read: the changed pages parsed, the issues, the deleted pages, what went wrong, and when."""

    pages: list[Page]
    bodiless: frozenset[str]  # pages listed without their body: at a version whose parse is cached
    postmortems: list[Postmortem]
    parsed: list[Postmortem]  # those parsed now (the others came from the cache: their version was known)
    failed: frozenset[str]  # pages that did not parse: their items are never taken as removed
    issues: Mapping[str, IssueSnapshot]  # the state's own snapshot when nothing changed (see sync.issue_reads)
    unresolved: set[str]  # keys named on pages that Jira does not resolve (looked up again on a full reconcile)
    gone: frozenset[str]  # cached pages Confluence confirms deleted
    archived: list[Postmortem]  # cached pages Confluence says are archived, marked so: kept and still counted
    problems: list[Problem]
    times: _Times
    reminders: reminders.Due  # due today (sync.reminders); the planner drops those of issues it closes

    @property
    def fetched(self) -> list[Page]:
        """The pages read with their bodies: a write-back edits these without reading them again."""
        return [p for p in self.pages if p.id not in self.bodiless]


class _Times(NamedTuple):
    """When the reads were sent, each by its server's clock, and the intents they settled."""

    started: datetime  # Jira's time when the cycle began: the planner's and the lease's "now"
    pages_at: datetime  # Confluence's time when the page search was sent: the next page window starts here
    issues_at: datetime  # Jira's time when the issue search was sent: the next issue window starts here
    looked_up: list[str]  # intents looked up by label this cycle
    settled: list[str]  # intents whose issue is known: the journal forgets them
    again: int  # pages read now that the next window reads again (sync.page_reads)


def _read(settings: Settings, jira: JiraPort, confluence: ConfluencePort, state: State, view: StateView,
          window: Window, clocks: Clocks, progress: Callable[[str], None] | None) -> _Reading:
    """Find the changed pages and parse them, read the managed issues, look up unknown creates, (full
    reconcile) confirm deletions, and tell the reminders due."""
    summary_id, overlap = view.meta.get("summary_page_id"), settings.sync.overlap_minutes
    if window.full:  # a full reconcile compares every cached issue with Jira's at its end, after its writes
        view.load()
    first = not window.full and int(view.meta.get("pages_read_again", "0")) >= VERSIONS_FIRST_FROM
    (found, bodiless), pages_at = read_window(
        lambda back: find_changed_pages(confluence, settings.confluence, back, versions_first=first,
                                        known=lambda versions: state.pages_at(versions).keys()),
        window.pages_since, overlap, confluence.server_time, clocks.estimate("confluence"))
    pages = [p for p in found if p.id != summary_id]
    # What the next window will read again (its overlap reaches back): those pages, and what we write back now.
    again = sum(1 for p in pages if p.last_modified and p.last_modified >= pages_at - timedelta(minutes=overlap))
    if progress:
        progress(f"fetched {len(pages)} page(s)")
    postmortems, parsed, failed, parse_problems = _parse(pages, settings, state, full=window.full)
    fresh, issues_at = read_window(lambda back: list(jira.search(managed_jql(settings.jira.project, back))),
                                   window.issues_since, overlap, jira.server_time, clocks.estimate("jira"))
    issues, unresolved, issue_problems = read_issues(jira, view, fresh, window.full, postmortems)
    started = clocks.server(jira, "jira", clocks.began)
    grace = timedelta(minutes=settings.sync.search_lag_grace_minutes)
    looked_up, known = intents.due(view, issues, started, grace)
    if looked_up:
        issues = {**issues, **intents.look_up(jira, settings.jira.project, looked_up)}
    gone, archived, gone_problems = (deleted_pages(confluence, state.page_ids(), {p.id for p in pages})
                                     if window.full else (frozenset(), frozenset(), []))
    due = reminders.for_cycle(settings, view, state, issues, postmortems, gone, started)
    return _Reading(pages, bodiless, postmortems, parsed, failed, issues, unresolved, gone,
                    archived_parses(state, archived), [*parse_problems, *issue_problems, *gone_problems],
                    _Times(started, pages_at, issues_at, looked_up, known, again), due)


def _parse(pages: list[Page], settings: Settings, state: State, *,
           full: bool) -> tuple[list[Postmortem], list[Postmortem], frozenset[str], list[Problem]]:
    """Every page parsed, in order, and those of them parsed now; the failures and the problems.

    On an incremental cycle a page at the version we parsed (or wrote, sync.apply) before is taken from
    the cache: the overlap reads recent pages again, mostly our own write-backs. A full reconcile parses all.
    """
    known = {} if full else state.pages_at({p.id: p.version for p in pages})
    parsed, failed, problems = parse_pages([p for p in pages if p.id not in known], settings)
    by_id = {pm.page_id: pm for pm in parsed} | {p.id: with_page_facts(known[p.id], p) for p in pages if p.id in known}
    problems += [problem for page_id in known for problem in findings(by_id[page_id])]
    return [by_id[p.id] for p in pages if p.id in by_id], parsed, failed, problems


def _blocked(plan: Plan, settings: Settings, confluence: ConfluencePort, state: State, now: datetime, *,
             apply: bool, force: bool) -> Problem | None:
    """Why this cycle may not write its plan (over the safety limits, or the lease is not ours); None if it may."""
    if plan.unsafe_reason and not force:
        return Problem(ProblemKind.UNSAFE_PLAN, None, plan.unsafe_reason)
    if not apply or plan.is_empty:
        return None
    return lease.hold(confluence, state, global_page(settings), now,
                      term=timedelta(minutes=settings.sync.lease_minutes),
                      grace=timedelta(minutes=settings.sync.search_lag_grace_minutes))


def _apply(plan: Plan, settings: Settings, jira: JiraPort, confluence: ConfluencePort, state: State,
           read: _Reading, now: datetime) -> ApplyResult:
    """Carry out the plan as the settings say; the pages fetched this cycle save the write-back a read (those
    listed without their body give only their URL). The pages written back then stand in `read` as written."""
    urls = {p.id: p.url for p in read.pages}
    options = ApplyOptions(
        write_back=settings.sync.write_back,
        sprint_board=settings.jira.sprint.board_id if settings.jira.sprint.enabled else None,
        remote_links=not settings.sync.write_back, concurrency=settings.sync.concurrency,
        page_url=urls.get,
        templates=combine_templates(settings.templates), managed_projects=settings.jira.managed,
        jira_server=JiraServer(settings.confluence.jira_server, settings.confluence.jira_server_id) or None,
    )
    applied = apply_plan(plan, jira, confluence, state, {p.id: p for p in read.fetched}, options, now)
    _land(read, applied)
    return applied


class _Measured(NamedTuple):
    rows: list[TrackedItem]  # every known item, joined (what the metrics count); empty when not needed
    metrics: Metrics | None  # None on a settled cycle (sync.settled)
    totals: Totals | None  # the health endpoint's figures: also on a settled cycle of `run`
    settled: bool


def _measure(state: State, view: StateView, read: _Reading, issues: Mapping[str, IssueSnapshot], settings: Settings,
             *, applied: bool, today: date, at: str | None) -> _Measured:
    """Every known item joined, and their metrics (completion, quality): pages parsed now, the last parse of
    others; none when the cycle is quiet and its conclusion settled at `at` (sync.settled)."""
    parsed = {pm.page_id: pm for pm in [*read.archived, *read.postmortems] if pm.page_id is not None}

    def compute() -> tuple[list[TrackedItem], Metrics]:
        pages = {**state.pages(excluding=parsed.keys() | read.gone), **parsed}
        links = state.issue_links() if applied else view.items  # after apply: the records as saved, decoded cheaply
        rows = tracked_items(pages.values(), links, issues, selecting=settings.confluence.labels)
        metrics = compute_metrics(rows, today, managed=settings.jira.managed,
                                  recurrence_days=settings.themes.recurrence_days)
        return rows, replace(metrics, quality=settings.quality.findings(pages.values()))

    if not _quiet(read, issues, view, applied=applied):
        rows, metrics = compute()
        return _Measured(rows, metrics, metrics.totals, False)
    # A cycle that read nothing new and wrote nothing has the state's figures: `run` keeps them (State.derived).
    key = (today, settings.jira.managed)
    if settled.is_settled(view.meta, at):
        kept = state.derived("totals", key, lambda: compute()[1].totals) if state.keeps_decoded else None
        return _Measured([], None, kept, True)
    if settings.summary_pages:  # the team pages are cut from the rows: those are kept too
        rows, metrics = state.derived("measure", key, compute)
    else:
        rows, metrics = [], state.derived("metrics", key, lambda: compute()[1])
    return _Measured(rows, metrics, state.derived("totals", key, lambda: metrics.totals), False)


def _quiet(read: _Reading, issues: Mapping[str, IssueSnapshot], view: StateView, *, applied: bool) -> bool:
    """Whether the cycle read nothing new and wrote nothing: its figures are those of the state alone."""
    if read.postmortems or read.archived or read.gone or applied:
        return False
    return issues is view.issues or issues == view.issues


def _land(read: _Reading, applied: ApplyResult) -> None:
    """Put the pages written back in `read` as written: their bodies as read are let go (a backfill's would
    be held to the end of the cycle beside those written), and the C heap that held them goes back to the system."""
    written = {page.id: page for page in applied.pages}
    read.pages[:] = [written[p.id].keeping_facts(p) if p.id in written else p for p in read.pages]
    if written:  # big strings: malloc'd, in the write-back threads' arenas, which glibc keeps until trimmed
        trim_heap()


def _as_written(applied: ApplyResult | None, settings: Settings, listed: list[Page]) -> Iterator[Postmortem]:
    """The pages we wrote back, each parsed now as it is saved (not all held at once): read again at that
    version, they need no parse (see _parse). Each keeps what its listing said of it (labels, space), which a
    page read again on a conflict may lack."""
    by_id = {page.id: page for page in listed}
    for page in applied.pages if applied else []:
        yield from parse_pages([page.keeping_facts(by_id.get(page.id))], settings)[0]


def _counted(items: Iterable[T], into: list[int]) -> Iterator[T]:
    """The items, counted into `into[0]` as they are taken."""
    for item in items:
        into[0] += 1
        yield item


def _remember(state: State, window: Window, read: _Reading, issues: Mapping[str, IssueSnapshot],
              cached: Mapping[str, IssueSnapshot], result: CycleResult, written: Iterable[Postmortem]) -> None:
    """Cache what this cycle learnt (only what changed) and move the watermarks (not past work to redo)."""
    times, plan, saved = read.times, result.plan or Plan(), [0]
    with state.transaction():  # a page we wrote back is cached as we wrote it
        state.save_pages(chain(read.parsed, read.archived, _counted(written, saved)))
        state.forget_pages(read.gone)
        if issues is not cached:  # the same mapping on a quiet cycle: nothing to compare (nor to decode)
            state.save_issues([s for key, s in issues.items() if cached.get(key) is not s and cached.get(key) != s],
                              forget=[key for key in cached if key not in issues])
        state.clear_intents([*times.settled, *intents.settled_by(plan, times.looked_up)])
        marks: dict[str, str | None] = {
            "cycle": str(window.number), "issues_seen_at": times.issues_at.isoformat(),
            "unresolved_keys": json.dumps(sorted(read.unresolved)), "pages_read_again": str(times.again + saved[0]),
            "confluence_since": None, "jira_since": None,  # watermarks of old versions, on our clock
        }
        # The page window moves on only when every page was read and every planned write landed;
        # otherwise the next cycle reads the same pages again (intents keep creates from doubling).
        if read.reminders.settled_at:  # none was due (sync.settled): a quiet cycle need not ask again today
            marks[REMINDERS_SETTLED] = read.reminders.settled_at
        if not any(problem.retried for problem in result.problems):
            marks["pages_seen_at"] = times.pages_at.isoformat()
            if window.full:  # every cached parse is now of this format
                marks["page_format"] = PAGE_FORMAT
        state.set_meta(**marks)
