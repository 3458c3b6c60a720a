"""One sync cycle: find changed pages -> parse -> read managed issues -> plan -> apply -> summary page -> remember."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import NamedTuple

import structlog

from sync import intents, lease
from sync.apply import ApplyOptions, ApplyResult, apply_plan
from sync.clock import Clocks
from sync.issue_fields import plan_options
from sync.models import IssueSnapshot, Page, Plan, Postmortem, SummaryPage
from sync.page_reads import VERSIONS_FIRST_FROM, deleted_pages, find_changed_pages
from sync.parser import parse_page
from sync.planner import plan_changes
from sync.ports import AtlassianError, ConfluencePort, JiraPort
from sync.problems import Problem, ProblemKind
from sync.query import is_issue_key, keys_jql, managed_jql
from sync.report import Metrics, compute_metrics, plan_summary, tracked_items
from sync.settings import Settings
from sync.state import State, StateView
from sync.summary_page import write_summary
from sync.templates import combine_templates
from sync.window import Window, plan_window, read_window

log = structlog.get_logger(__name__)

KEY_BATCH = 50


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
    summary_written: bool = False
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
                            failed_page_ids=read.failed, deleted_page_ids=read.gone)
        result.plan, result.items = plan, sum(len(pm.items) for pm in read.postmortems)
        blocked = _blocked(plan, settings, confluence, state, started, apply=apply, force=force)
        result.report(*read.problems, *plan.problems, blocked)
        writes = apply and blocked is None
        issues = read.issues
        if writes and (not plan.is_empty or plan.records):
            result.applied = _apply(plan, settings, jira, confluence, state, read.fetched, clocks.server(jira, "jira"))
            result.report(*result.applied.problems)
            lease.note_creates(state, plan, result.applied, now(), write_back=settings.sync.write_back)
            issues = _refresh_created(issues, plan, result.applied, started)
        result.metrics = _metrics(state, view, read, issues, applied=result.applied is not None, today=started.date(),
                                  managed=settings.jira.managed)
        if writes:
            _summarise(result, settings, confluence, state)
            _remember(state, window, read, issues, view.issues, result, _as_written(result.applied, settings))
        if apply:  # a standby, which may not write, still remembers the skews (cheap estimates next time)
            state.set_meta(**clocks.skew_meta(jira, confluence))
    except AtlassianError as exc:
        result.report(Problem(ProblemKind.CYCLE_FAILED, None, str(exc)))
        log.error("cycle_failed", error=str(exc), status=exc.status)
    result.requests = {"jira": jira.request_count, "confluence": confluence.request_count}
    result.duration_s = time.monotonic() - clocks.began
    return result


def _summarise(result: CycleResult, settings: Settings, confluence: ConfluencePort, state: State) -> None:
    """Write the summary page when its content changed (sync.report plans it), and report how that went."""
    summary = plan_summary(result.metrics, summary_page(settings), state.meta()) if result.metrics else None
    failed = write_summary(summary, confluence, state) if summary else None
    result.summary_written = summary is not None and failed is None
    result.report(failed)


class _Reading(NamedTuple):
    """What a cycle read: the changed pages parsed, the issues, the deleted pages, what went wrong, and when."""

    pages: list[Page]
    bodiless: frozenset[str]  # pages listed without their body: at a version whose parse is cached
    postmortems: list[Postmortem]
    parsed: list[Postmortem]  # those parsed now (the others came from the cache: their version was known)
    failed: frozenset[str]  # pages that did not parse: their items are never taken as removed
    issues: dict[str, IssueSnapshot]
    unresolved: set[str]  # keys named on pages that Jira does not resolve (looked up again on a full reconcile)
    gone: frozenset[str]  # cached pages Confluence confirms deleted
    problems: list[Problem]
    times: _Times

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
    """Find the changed pages and parse them, read the managed issues, look up unknown creates, and (full
    reconcile) confirm deletions."""
    summary_id, overlap = view.meta.get("summary_page_id"), settings.sync.overlap_minutes
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
    looked_up, settled = intents.due(view, issues, started, grace)
    if looked_up:
        issues.update(intents.look_up(jira, settings.jira.project, looked_up))
    gone, gone_problems = (deleted_pages(confluence, state.page_ids(), {p.id for p in pages}) if window.full
                           else (frozenset(), []))
    return _Reading(pages, bodiless, postmortems, parsed, failed, issues, unresolved, gone,
                    [*parse_problems, *issue_problems, *gone_problems],
                    _Times(started, pages_at, issues_at, looked_up, settled, again))


def _parse(pages: list[Page], settings: Settings, state: State, *,
           full: bool) -> tuple[list[Postmortem], list[Postmortem], frozenset[str], list[Problem]]:
    """Every page parsed, in order, and those of them parsed now; the failures and the problems.

    On an incremental cycle a page at the version we parsed (or wrote, sync.apply) before is taken from
    the cache: the overlap reads recent pages again, mostly our own write-backs. A full reconcile parses all.
    """
    known = {} if full else state.pages_at({p.id: p.version for p in pages})
    parsed, failed, problems = parse_pages([p for p in pages if p.id not in known], settings)
    by_id = {pm.page_id: pm for pm in parsed} | {p.id: with_page_facts(known[p.id], p) for p in pages if p.id in known}
    problems += [problem for page_id in known for problem in _findings(by_id[page_id])]
    return [by_id[p.id] for p in pages if p.id in by_id], parsed, failed, problems


def parse_pages(pages: Iterable[Page], settings: Settings) -> tuple[list[Postmortem], frozenset[str], list[Problem]]:
    """Parse each page on its own: the parsed pages, the ids of those that failed, and the problems to report."""
    templates = combine_templates(settings.templates)
    parsed, failed, problems = [], set(), []
    for page in pages:
        try:
            pm = parse_page(page.body, title=page.title, templates=templates, page_id=page.id)
        except Exception as exc:  # noqa: BLE001 - the parser promises not to raise; defend the cycle anyway
            failed.add(page.id)
            problems.append(Problem(ProblemKind.PARSE_FAILED, page.id, type(exc).__name__))
            continue
        parsed.append(with_page_facts(replace(pm, page_id=page.id, version=page.version), page))
        problems += _findings(parsed[-1])
    return parsed, frozenset(failed), problems


def with_page_facts(pm: Postmortem, page: Page) -> Postmortem:
    """A parsed page with what Confluence says about the page itself (where, labels, created, author)."""
    return replace(pm, url=page.url, space=page.space, labels=page.labels, created=page.created, author=page.author)


def _findings(pm: Postmortem) -> list[Problem]:
    """The parser's findings on a page, as problems to report."""
    # Items without an owner or due date are listed on the summary page ("needs attention") instead.
    return [Problem(ProblemKind.PAGE, pm.page_id, code) for code in pm.problems if not code.startswith("missing-")]


def read_issues(jira: JiraPort, view: StateView, fresh: Iterable[IssueSnapshot], full: bool,
                postmortems: list[Postmortem]) -> tuple[dict[str, IssueSnapshot], set[str], list[Problem]]:
    """The issues a search found (merged into the cache), plus those of these pages' items that it did not
    return, by key: named on a page, or in our records (a new issue the index does not show yet).

    Also returns the keys that do not resolve (known ones are not looked up again until a full
    reconcile) and the problems to report.
    """
    found_now = {s.key: s for s in fresh}
    issues = found_now if full else {**view.issues, **found_now}
    unresolved = set() if full else set(json.loads(view.meta.get("unresolved_keys", "[]")))
    pages = {pm.page_id for pm in postmortems}
    keys = {i.jira_key for pm in postmortems for i in pm.items} | {
        r.issue_key for r in view.items.values() if r.page_id in pages}
    # A key that is not one by Jira's syntax is never sent anywhere; the planner reports it (invalid-key).
    named = sorted(k for k in keys if k and is_issue_key(k) and k not in issues and k not in unresolved)
    problems: list[Problem] = []
    for start in range(0, len(named), KEY_BATCH):
        batch = named[start:start + KEY_BATCH]
        try:
            found = {s.key: s for s in jira.search(keys_jql(batch))}
        except AtlassianError:  # one key that does not exist makes Jira reject the whole query
            found = {}
        issues.update({key: found[key] for key in batch if key in found})
        # A key Jira answers under another key was moved to another project; check each on its own.
        alone, alone_problems = _issues_one_by_one(jira, [key for key in batch if key not in found])
        issues.update(alone)
        unresolved |= {key for key in batch if key not in issues}
        problems += alone_problems
    return issues, unresolved, problems


def _issues_one_by_one(jira: JiraPort, keys: list[str]) -> tuple[dict[str, IssueSnapshot], list[Problem]]:
    """Each key on its own, reporting those that do not resolve (they are never replaced by a new issue).

    An issue moved to another project answers under its new key: it has left the project we manage,
    so it is reported like a deleted one and nothing is written to it.
    """
    found, problems = {}, []
    for key in keys:
        try:
            snapshot = jira.get_issue(key)
        except AtlassianError as exc:
            problems.append(Problem(ProblemKind.UNRESOLVED_KEY, key, str(exc.status)))
            continue
        if snapshot.key != key:
            problems.append(Problem(ProblemKind.ISSUE_MOVED, key, snapshot.key))
            continue
        found[key] = snapshot
    return found, problems


def _blocked(plan: Plan, settings: Settings, confluence: ConfluencePort, state: State, now: datetime, *,
             apply: bool, force: bool) -> Problem | None:
    """Why this cycle may not write its plan (over the safety limits, or the lease is not ours); None if it may."""
    if plan.unsafe_reason and not force:
        return Problem(ProblemKind.UNSAFE_PLAN, None, plan.unsafe_reason)
    if not apply or plan.is_empty:
        return None
    return lease.hold(confluence, state, summary_page(settings), now,
                      term=timedelta(minutes=settings.sync.lease_minutes),
                      grace=timedelta(minutes=settings.sync.search_lag_grace_minutes))


def summary_page(settings: Settings) -> SummaryPage | None:
    """Where the summary page lives; None when it is turned off."""
    conf, space = settings.confluence.summary_page, settings.confluence.summary_space
    return SummaryPage(space, conf.title, conf.parent_id) if conf.enabled and space else None


def _apply(plan: Plan, settings: Settings, jira: JiraPort, confluence: ConfluencePort, state: State,
           pages: list[Page], now: datetime) -> ApplyResult:
    """Carry out the plan as the settings say; the pages fetched this cycle save the write-back a read."""
    by_id = {p.id: p for p in pages}
    options = ApplyOptions(
        write_back=settings.sync.write_back,
        sprint_board=settings.jira.sprint.board_id if settings.jira.sprint.enabled else None,
        remote_links=not settings.sync.write_back, concurrency=settings.sync.concurrency,
        page_url=lambda page_id: by_id[page_id].url if page_id in by_id else None,
        templates=combine_templates(settings.templates), managed_projects=settings.jira.managed,
    )
    return apply_plan(plan, jira, confluence, state, by_id, options, now)


def _refresh_created(issues: dict[str, IssueSnapshot], plan: Plan, applied: ApplyResult,
                     now: datetime) -> dict[str, IssueSnapshot]:
    """Snapshots of what this cycle created, from what was sent (no read-back; the next search refreshes them)."""
    issues = dict(issues)
    for change in plan.creates:
        key = applied.created.get(change.record.item_key)
        if key is None:
            continue
        f = change.fields
        issues[key] = IssueSnapshot(
            key=key, summary=f.summary, status="Done" if change.mark_done else "To Do",
            status_category="done" if change.mark_done else "new", labels=f.labels, due=f.due,
            priority=f.priority, issue_type=f.issue_type, project=f.project, created=now, updated=now,
            resolved=now if change.mark_done else None,
        )
    return issues


def _metrics(state: State, view: StateView, read: _Reading, issues: dict[str, IssueSnapshot], *, applied: bool,
             today: date, managed: tuple[str, ...]) -> Metrics:
    """Completion of every known item: pages parsed now, and the last parse of the others (a page that failed too)."""
    parsed = {pm.page_id: pm for pm in read.postmortems if pm.page_id is not None}  # parse_pages always sets it

    def compute() -> Metrics:
        pages = {**state.pages(excluding=parsed.keys() | read.gone), **parsed}
        links = state.issue_links() if applied else view.items  # after apply: the records as saved, decoded cheaply
        return compute_metrics(tracked_items(pages.values(), links, issues), today, managed=managed)

    # A cycle that read nothing new and wrote nothing has the state's metrics: the daemon keeps them (sync.state).
    quiet = not parsed and not read.gone and not applied and issues == view.issues
    return state.derived("metrics", (today, managed), compute) if quiet else compute()


def _as_written(applied: ApplyResult | None, settings: Settings) -> list[Postmortem]:
    """The pages we wrote back, parsed once now: read again at that version, they need no parse (see _parse)."""
    return parse_pages(applied.pages, settings)[0] if applied else []


def _remember(state: State, window: Window, read: _Reading, issues: dict[str, IssueSnapshot],
              cached: dict[str, IssueSnapshot], result: CycleResult, written: list[Postmortem]) -> None:
    """Cache what this cycle learnt (only what changed) and move the watermarks (not past work to redo)."""
    times, plan = read.times, result.plan or Plan()
    with state.transaction():
        state.save_pages([*read.parsed, *written])  # a page we wrote back is cached as we wrote it
        state.forget_pages(read.gone)
        state.save_issues([s for key, s in issues.items() if cached.get(key) is not s and cached.get(key) != s],
                          forget=[key for key in cached if key not in issues])
        state.clear_intents([*times.settled, *intents.settled_by(plan, times.looked_up)])
        marks: dict[str, str | None] = {
            "cycle": str(window.number), "issues_seen_at": times.issues_at.isoformat(),
            "unresolved_keys": json.dumps(sorted(read.unresolved)), "pages_read_again": str(times.again + len(written)),
            "confluence_since": None, "jira_since": None,  # watermarks of old versions, on our clock
        }
        # The page window moves on only when every page was read and every planned write landed;
        # otherwise the next cycle reads the same pages again (intents keep creates from doubling).
        if not any(problem.retried for problem in result.problems):
            marks["pages_seen_at"] = times.pages_at.isoformat()
        state.set_meta(**marks)
