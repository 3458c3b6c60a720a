"""Every summary page a cycle writes: the global one and the scoped ones ([[summary_pages]], a team's each).

Each page is written only when its rendered body differs from the one we last wrote; what we wrote is
remembered as a digest in the state, so an unchanged cycle reads no page and writes none. A scoped page
is found or created like the global page and carries the same mark (sync.summary_page); the write lease
stays on the global page.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date

import structlog

from sync.metrics import Metrics, TrackedItem, compute_metrics
from sync.models import SummaryPage, WriteSummary
from sync.ports import AtlassianError, ConfluencePort
from sync.problems import Problem, ProblemKind
from sync.report import body_digest, plan_summary, render_summary_page
from sync.settings import ScopedSummaryPage, Settings
from sync.state import State
from sync.storage_format import is_well_formed
from sync.summary_page import ForeignSummaryPage, find_or_create_summary, write_summary

log = structlog.get_logger(__name__)


@dataclass
class Summaries:
    """What a cycle wrote: the global page (or not), the titles of the scoped pages written, and the problems."""

    written: bool = False
    scoped: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


def summarise(metrics: Metrics, rows: Sequence[TrackedItem], settings: Settings, confluence: ConfluencePort,
              state: State, *, full: bool) -> Summaries:
    """Write every summary page whose content changed; report what went wrong, never raise."""
    done = Summaries()
    global_change = plan_summary(metrics, global_page(settings), state.meta())
    failed = write_summary(global_change, confluence, state) if global_change else None
    done.written = global_change is not None and failed is None
    done.problems += [failed] if failed else []
    for scope in settings.summary_pages:
        where = SummaryPage(scope.space or settings.confluence.summary_space or "", scope.title, scope.parent_id)
        try:
            ids = _cql_scope(scope, confluence, state, full=full)
        except AtlassianError as exc:
            done.problems.append(Problem(ProblemKind.SUMMARY_FAILED, None, f"{scope.title}: {exc}"))
            continue
        change = plan_scoped(rows, scope, where, metrics.as_of, state.meta(), settings, cql_ids=ids)
        problem = write_scoped(change, confluence, state) if change else None
        done.problems += [problem] if problem else []
        done.scoped += [scope.title] if change and not problem else []
    return done


def global_page(settings: Settings) -> SummaryPage | None:
    """Where the global summary page lives; None when it is turned off."""
    conf, space = settings.confluence.summary_page, settings.confluence.summary_space
    return SummaryPage(space, conf.title, conf.parent_id) if conf.enabled and space else None


def in_scope(row: TrackedItem, scope: ScopedSummaryPage, cql_ids: frozenset[str] | None = None) -> bool:
    """Whether an item's postmortem is in a page's scope: it matches every scope field set (any of its values)."""
    def folded(values: Sequence[str]) -> set[str]:
        return {value.casefold() for value in values}

    checks = (
        not scope.spaces or (row.space or "").casefold() in folded(scope.spaces),
        not scope.labels or bool(folded(row.labels) & folded(scope.labels)),
        not scope.themes or bool(folded(row.themes) & folded(scope.themes)),
        not scope.teams or (row.team or "").casefold() in folded(scope.teams),
        scope.cql is None or (cql_ids is not None and row.page_id in cql_ids),
    )
    return all(checks)


def plan_scoped(rows: Sequence[TrackedItem], scope: ScopedSummaryPage, where: SummaryPage, today: date,
                meta: Mapping[str, str], settings: Settings, *,
                cql_ids: frozenset[str] | None = None) -> WriteSummary | None:
    """The scoped page's write, when its content differs from what we last wrote to it."""
    scoped = [row for row in rows if in_scope(row, scope, cql_ids)]
    metrics = compute_metrics(scoped, today, managed=settings.jira.managed,
                              recurrence_days=settings.themes.recurrence_days)
    body = render_summary_page(metrics, scope=_scope_text(scope))
    digest = body_digest(body)
    return None if meta.get(_digest_key(where)) == digest else WriteSummary(where, body, digest)


def _scope_text(scope: ScopedSummaryPage) -> str:
    """The scope in words, for the top of the page."""
    parts = [f"{name} {', '.join(values)}" for name, values in (
        ("spaces", scope.spaces), ("labels", scope.labels), ("themes", scope.themes), ("teams", scope.teams))
        if values]
    parts += ["the postmortems its CQL finds"] if scope.cql else []
    return "; ".join(parts) or "every postmortem"


def write_scoped(change: WriteSummary, confluence: ConfluencePort, state: State) -> Problem | None:
    """Find or create the scoped page (ours only), write it when its body differs, remember what we wrote."""
    if not is_well_formed(change.body):
        return Problem(ProblemKind.SUMMARY_FAILED, None, f"{change.page.title}: body is not well-formed; not sent")
    try:
        page = find_or_create_summary(confluence, change.page, {})
        if page.body != change.body:
            page = confluence.update_page(page, change.body, message="postmortem-sync: completion update",
                                          minor_edit=True)
    except ForeignSummaryPage as exc:
        log.error("summary_page_not_ours", page_id=exc.page.id, title=change.page.title)
        return exc.problem()
    except AtlassianError as exc:
        log.warning("summary_page_failed", title=change.page.title, error=str(exc))
        return Problem(ProblemKind.SUMMARY_FAILED, None, f"{change.page.title}: {exc}")
    state.set_meta(**{_digest_key(change.page): change.digest})
    log.info("summary_page_written", page_id=page.id, title=change.page.title)
    return None


def _digest_key(where: SummaryPage) -> str:
    return f"scoped_summary_digest:{where.space}:{where.title}"


def _cql_scope(scope: ScopedSummaryPage, confluence: ConfluencePort, state: State, *,
               full: bool) -> frozenset[str] | None:
    """The page ids a scope's CQL finds: searched on a full reconcile or when never searched, else remembered."""
    if scope.cql is None:
        return None
    key = f"scoped_summary_cql:{scope.space}:{scope.title}"
    known = state.meta().get(key)
    if known is not None and not full:
        return frozenset(json.loads(known))
    ids = sorted({page.id for page in confluence.find_pages(scope.cql)})
    state.set_meta(**{key: json.dumps(ids)})
    return frozenset(ids)
