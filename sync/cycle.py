"""One sync cycle: find changed pages -> parse -> read managed issues -> plan -> apply -> summary page."""

from __future__ import annotations

import hashlib
import json
import socket
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone

import structlog

from sync.apply import ApplyOptions, ApplyResult, apply_plan
from sync.atlassian import cql_quote, jql_quote
from sync.identity import MANAGED_LABEL
from sync.models import IssueSnapshot, Page, Postmortem
from sync.parser import parse_page
from sync.planner import Plan, PlanOptions, plan_changes
from sync.lease import LEASE_PROPERTY, Lease, claim, may_write, needs_renewal, released
from sync.ports import AtlassianError, ConfluencePort, JiraPort, NotFound, PermissionDenied, VersionConflict
from sync.report import Metrics, compute_metrics, render_summary_page, tracked_items
from sync.settings import ConfluenceSettings, Settings
from sync.state import State, StateView
from sync.templates import combine_templates

log = structlog.get_logger(__name__)

KEY_BATCH = 50
SUMMARY_PLACEHOLDER = "<p>postmortem-sync is writing the first summary of the postmortem action items.</p>"
_WATERMARK_FORMAT = "%Y-%m-%d %H:%M"


@dataclass
class CycleResult:
    ok: bool = True
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
    problems: list[str] = field(default_factory=list)
    unresolved_keys: set[str] = field(default_factory=set)


def postmortem_cql(conf: ConfluenceSettings, since: datetime | None) -> str:
    """The CQL that selects postmortem pages, modified since `since` when given."""
    if conf.cql:
        clauses = [f"({conf.cql})"]
    else:
        clauses = ["type = page"]
        if conf.spaces:
            clauses.append(f"space in ({', '.join(cql_quote(s) for s in conf.spaces)})")
        if conf.labels:
            clauses.append(f"label in ({', '.join(cql_quote(label) for label in conf.labels)})")
        if conf.parent_pages:
            clauses.append(f"ancestor in ({', '.join(str(int(p)) for p in conf.parent_pages)})")
    if since is not None:
        clauses.append(f"lastmodified >= {cql_quote(since.strftime(_WATERMARK_FORMAT))}")
    return " and ".join(clauses) + " order by lastmodified asc"


def managed_jql(project: str, since: datetime | None) -> str:
    """The JQL for the issues we manage, updated since `since` when given."""
    jql = f"project = {jql_quote(project)} and labels = {jql_quote(MANAGED_LABEL)}"
    if since is not None:
        jql += f" and updated >= {jql_quote(since.strftime(_WATERMARK_FORMAT))}"
    return jql + " order by key asc"


def plan_options(settings: Settings) -> PlanOptions:
    j, s = settings.jira, settings.sync
    return PlanOptions(
        project=j.project, issue_type=j.issue_type, labels=tuple(j.labels), priority_map=dict(j.priority_map),
        default_priority=j.default_priority, components=tuple(j.components), write_back=s.write_back,
        sprint=j.sprint.enabled, epics=j.epic.enabled, epic_issue_type=j.epic.issue_type,
        removed_transition=j.removed_transition,
        max_creates=s.max_creates_per_cycle, max_flags=s.max_flags_per_cycle,
        search_lag_grace=timedelta(minutes=s.overlap_minutes),
    )


def _since(view: StateView, name: str, overlap: timedelta) -> datetime | None:
    value = view.meta.get(name)
    return datetime.fromisoformat(value) - overlap if value else None


def parse_pages(pages: Iterable[Page], settings: Settings, result: CycleResult) -> tuple[list[Postmortem], set[str]]:
    """Parse each page on its own: one broken page is reported and never stops the others."""
    templates = combine_templates(settings.templates)
    parsed, failed = [], set()
    for page in pages:
        try:
            pm = parse_page(page.body, title=page.title, templates=templates, page_id=page.id)
        except Exception as exc:  # noqa: BLE001 - the parser promises not to raise; defend the cycle anyway
            failed.add(page.id)
            result.problems.append(f"parse-failed:{page.id}:{type(exc).__name__}")
            continue
        parsed.append(replace(pm, page_id=page.id, version=page.version, url=page.url, space=page.space))
        result.problems += [f"page {page.id}: {p}" for p in pm.problems if not p.startswith("missing-")]
    return parsed, failed


def read_issues(jira: JiraPort, view: StateView, jql: str, full: bool, postmortems: list[Postmortem],
                result: CycleResult) -> dict[str, IssueSnapshot]:
    """Managed issues (merged into the cache) plus any issue a page names that we have not seen."""
    fresh = {s.key: s for s in jira.search(jql)}
    issues = fresh if full else {**view.issues, **fresh}
    # Keys that did not resolve are looked up again only on a full reconcile, not every cycle.
    known_missing = set() if full else set(json.loads(view.meta.get("unresolved_keys", "[]")))
    result.unresolved_keys = known_missing
    named = sorted({i.jira_key for pm in postmortems for i in pm.items
                    if i.jira_key and i.jira_key not in issues and i.jira_key not in known_missing})
    for start in range(0, len(named), KEY_BATCH):
        batch = named[start:start + KEY_BATCH]
        try:
            found = {s.key: s for s in jira.search(f"key in ({', '.join(batch)})")}
        except AtlassianError:  # one key that does not exist makes Jira reject the whole query
            found = {}
        issues.update({key: found[key] for key in batch if key in found})
        # A key Jira answers under another key was moved to another project; check each on its own.
        issues.update(_issues_one_by_one(jira, [key for key in batch if key not in found], result))
    return issues


def _issues_one_by_one(jira: JiraPort, keys: list[str], result: CycleResult) -> dict[str, IssueSnapshot]:
    """Each key on its own, reporting those that do not resolve (they are never replaced by a new issue).

    An issue moved to another project answers under its new key: it has left the project we manage,
    so it is reported like a deleted one and nothing is written to it.
    """
    found = {}
    for key in keys:
        try:
            snapshot = jira.get_issue(key)
        except AtlassianError as exc:
            result.problems.append(f"unresolved-key:{key}:{exc.status}")
            result.unresolved_keys.add(key)
            continue
        if snapshot.key != key:
            result.problems.append(f"issue-moved:{key}:{snapshot.key}")
            result.unresolved_keys.add(key)
            continue
        found[key] = snapshot
    return found


def deleted_pages(confluence: ConfluencePort, cached: Iterable[str], fetched: Iterable[str],
                  result: CycleResult) -> frozenset[str]:
    """Cached pages a full search no longer returns and Confluence confirms are gone (404 or trashed).

    A page that still exists but left the search (a label removed, moved to another space) is only
    reported: its tickets stay as they are.
    """
    gone = set()
    for page_id in sorted(set(cached) - set(fetched)):
        try:
            confluence.get_page(page_id)  # Confluence answers 404 for a trashed or purged page
        except NotFound:
            gone.add(page_id)
            result.problems.append(f"page-deleted:{page_id}")
        except AtlassianError as exc:  # unknown: nothing is flagged on a guess
            result.problems.append(f"page-check-failed:{page_id}:{exc.status}")
        else:
            result.problems.append(f"page-out-of-scope:{page_id}")
    return frozenset(gone)


def run_cycle(settings: Settings, jira: JiraPort, confluence: ConfluencePort, state: State, *,
              apply: bool = True, force: bool = False, now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
              progress: Callable[[str], None] | None = None) -> CycleResult:
    """Run one cycle; with apply=False it only plans (a dry run) and writes nothing anywhere."""
    started, clock = now(), time.monotonic()
    result = CycleResult()
    view = state.view(with_pages=False)  # parsed pages are read below, only those not fetched again
    cycle_no = int(view.meta.get("cycle", "0")) + 1
    overlap = timedelta(minutes=settings.sync.overlap_minutes)
    result.full = "confluence_since" not in view.meta or cycle_no % settings.sync.full_reconcile_every == 0
    summary_id = view.meta.get("summary_page_id")
    try:
        cql = postmortem_cql(settings.confluence, None if result.full else _since(view, "confluence_since", overlap))
        pages = [p for p in confluence.find_pages(cql) if p.id != summary_id]
        result.pages_seen = result.pages_changed = len(pages)
        if progress:
            progress(f"fetched {len(pages)} page(s)")
        postmortems, failed = parse_pages(pages, settings, result)
        jql = managed_jql(settings.jira.project, None if result.full else _since(view, "jira_since", overlap))
        issues = read_issues(jira, view, jql, result.full, postmortems, result)
        fetched = {p.id for p in pages}
        gone = deleted_pages(confluence, state.page_ids(), fetched, result) if result.full else frozenset()
        plan = plan_changes(postmortems, issues, view, plan_options(settings), started,
                            failed_page_ids=frozenset(failed), deleted_page_ids=gone)
        result.plan = plan
        result.items = sum(len(pm.items) for pm in postmortems)
        result.problems += list(plan.problems)
        if plan.unsafe_reason and not force:
            result.problems.append(f"unsafe-plan:{plan.unsafe_reason}")
            result.ok = False
            apply = False
        if apply and not plan.is_empty:
            apply = hold_lease(settings, confluence, state, started, result)
        parsed = {pm.page_id: pm for pm in postmortems}
        pages_now = {**state.pages(excluding=parsed.keys() | gone), **parsed}  # a page that failed keeps its last parse
        if apply and (not plan.is_empty or plan.records):
            result.applied = _apply(plan, settings, jira, confluence, state, pages, started)
            result.problems += result.applied.problems
            view = replace(view, meta=state.meta())
            links = state.issue_links()  # what the report joins on, without decoding every record again
            issues = _refresh_created(issues, plan, result.applied, started)
        else:
            links = view.items
        result.metrics = compute_metrics(tracked_items(pages_now.values(), links, issues), started.date())
        if apply:
            result.summary_written = _write_summary(settings, confluence, state, view, result.metrics, result)
            _remember(state, postmortems, issues, view.issues, result, started, cycle_no, failed, gone)
    except AtlassianError as exc:
        result.ok = False
        result.problems.append(f"cycle-failed:{exc}")
        log.error("cycle_failed", error=str(exc), status=exc.status)
    result.requests = {"jira": jira.request_count, "confluence": confluence.request_count}
    result.duration_s = time.monotonic() - clock
    return result


def hold_lease(settings: Settings, confluence: ConfluencePort, state: State, now: datetime,
               result: CycleResult) -> bool:
    """Whether this cycle may write: we hold the write lease (see sync.lease) or it is turned off."""
    term = timedelta(minutes=settings.sync.lease_minutes)
    try:
        page_id = _summary_page_id(settings, confluence, state) if term else None
        if page_id is None:
            return True  # lease off, or no summary page to keep it on: a single instance is assumed
        meta = state.meta()
        me = _instance_id(state, meta)
        lease = Lease.from_json(meta["lease"]) if "lease" in meta else None
        if lease is None or needs_renewal(lease, me, now, term):
            lease = _take_lease(confluence, state, page_id, me, now, term, result)
    except NotFound:  # the summary page was deleted: the next cycle finds or creates it again
        state.set_meta(lease=None, summary_page_id=None, summary_digest=None)
        result.problems.append("lease-page-missing:the summary page is gone; it is created again next cycle")
        return False
    except PermissionDenied:
        state.set_meta(lease=None)
        result.ok = False
        result.problems.append("lease-denied:the account cannot edit the summary page, which holds the write lease "
                               "(HTTP 403): give it edit permission, or set sync.lease_minutes = 0 if one instance runs")
        return False
    except VersionConflict:
        state.set_meta(lease=None)
        result.problems.append("lease-lost:another instance took the write lease first")
        log.warning("lease_lost")
        return False
    except AtlassianError as exc:  # a write that may or may not have landed: the next cycle reads it
        state.set_meta(lease=None)
        result.ok = False
        result.problems.append(f"lease-failed:{exc}")
        return False
    if lease is None:
        return False
    if not may_write(lease, me, now, timedelta(minutes=settings.sync.overlap_minutes)):
        result.problems.append(f"lease-handover:writes resume after {lease.since.isoformat()} + the search-lag grace")
        log.info("lease_handover", since=lease.since.isoformat())
        return False
    return True


def _take_lease(confluence: ConfluencePort, state: State, page_id: str, me: str, now: datetime, term: timedelta,
                result: CycleResult) -> Lease | None:
    """Read the lease and write ours over it (compare-and-swap); None while another holder's is live."""
    found = confluence.get_property(page_id, LEASE_PROPERTY)
    current = Lease.from_json(found[0]) if found else None
    lease = claim(current, me, now, term, exists=found is not None)
    if lease is None:
        state.set_meta(lease=None)
        result.problems.append(f"lease-held:{current.holder}:until {current.expires.isoformat()}")
        log.warning("lease_held", holder=current.holder, expires=current.expires.isoformat())
        return None
    confluence.set_property(page_id, LEASE_PROPERTY, lease.to_json(), found[1] if found else None)
    state.set_meta(lease=json.dumps(lease.to_json()))
    return lease


def release_lease(settings: Settings, confluence: ConfluencePort, state: State, now: datetime) -> None:
    """End our lease on shutdown so that another instance can take over at once; errors only log."""
    meta = state.meta()
    page_id = meta.get("summary_page_id")
    if "lease" not in meta or not page_id:
        return
    try:
        found = confluence.get_property(page_id, LEASE_PROPERTY)
        current = Lease.from_json(found[0]) if found else None
        if found and current and current.holder == meta.get("instance_id"):
            confluence.set_property(page_id, LEASE_PROPERTY, released(current, now).to_json(), found[1])
    except AtlassianError as exc:
        log.warning("lease_release_failed", error=str(exc))
    state.set_meta(lease=None)


def _instance_id(state: State, meta: dict[str, str]) -> str:
    """This installation's lease holder name: the host plus a random suffix kept in the state."""
    if "instance_id" not in meta:
        state.set_meta(instance_id=f"{socket.gethostname()}/{uuid.uuid4().hex[:8]}")
        return state.meta()["instance_id"]
    return meta["instance_id"]


def _summary_page_id(settings: Settings, confluence: ConfluencePort, state: State) -> str | None:
    """The summary page's id, creating the page (with a placeholder) when it does not exist yet."""
    conf, space = settings.confluence.summary_page, settings.confluence.summary_space
    if not conf.enabled or not space:
        return None
    known = state.meta().get("summary_page_id")
    if known:
        return known
    page = confluence.find_page(space, conf.title)
    if page is None:
        page = confluence.create_page(space, conf.title, SUMMARY_PLACEHOLDER, conf.parent_id)
    state.set_meta(summary_page_id=page.id, summary_page_url=page.url)
    return page.id


def _apply(plan: Plan, settings: Settings, jira: JiraPort, confluence: ConfluencePort, state: State,
           pages: list[Page], now: datetime) -> ApplyResult:
    by_id = {p.id: p for p in pages}
    options = ApplyOptions(
        write_back=settings.sync.write_back,
        sprint_board=settings.jira.sprint.board_id if settings.jira.sprint.enabled else None,
        remote_links=not settings.sync.write_back, concurrency=settings.sync.concurrency,
        page_url=lambda page_id: by_id[page_id].url if page_id in by_id else None,
        templates=combine_templates(settings.templates),
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


def _write_summary(settings: Settings, confluence: ConfluencePort, state: State, view: StateView,
                   metrics: Metrics, result: CycleResult) -> bool:
    """Write the summary page only when its content changed; never fail the cycle over it."""
    conf = settings.confluence.summary_page
    space = settings.confluence.summary_space
    if not conf.enabled or not space:
        return False
    body = render_summary_page(metrics)
    digest = hashlib.sha256(body.encode()).hexdigest()
    if view.meta.get("summary_digest") == digest and view.meta.get("summary_page_id"):
        return False
    try:
        page = confluence.find_page(space, conf.title)
        if page is None:
            page = confluence.create_page(space, conf.title, body, conf.parent_id)
        elif page.body != body:
            page = confluence.update_page(page, body, message="postmortem-sync: completion update", minor_edit=True)
    except AtlassianError as exc:
        result.problems.append(f"summary-failed:{exc}")
        log.warning("summary_page_failed", error=str(exc))
        return False
    state.set_meta(summary_digest=digest, summary_page_id=page.id, summary_page_url=page.url)
    log.info("summary_page_written", page_id=page.id)
    return True


def _remember(state: State, postmortems: list[Postmortem], issues: dict[str, IssueSnapshot],
              cached: dict[str, IssueSnapshot], result: CycleResult, started: datetime, cycle_no: int,
              failed: set[str], gone: frozenset[str]) -> None:
    """Cache what this cycle learnt (only what changed) and move the watermarks (not past a page that failed)."""
    with state.transaction():
        state.save_pages(postmortems)
        state.forget_pages(gone)
        state.save_issues([s for key, s in issues.items() if cached.get(key) != s],
                          forget=[key for key in cached if key not in issues])
        marks = {"cycle": str(cycle_no), "jira_since": started.isoformat(),
                 "unresolved_keys": json.dumps(sorted(result.unresolved_keys))}
        # The page window moves on only when every page was read and every planned write landed;
        # otherwise the next cycle reads the same pages again (intents keep creates from doubling).
        deferred = result.plan is not None and any(p.startswith(("create-pending", "epic-pending"))
                                                   for p in result.plan.problems)
        if not failed and not deferred and not (result.applied and result.applied.incomplete):
            marks["confluence_since"] = started.isoformat()
        state.set_meta(**marks)
