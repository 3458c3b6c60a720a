"""The quality panels on postmortem pages (quality.annotate_pages): which pages need theirs changed, and the writes.

A page read this cycle is judged by its body (the panel it shows); any other by what we remember leaving on it
(state meta `quality_panels`: page id -> panel digest). So a quiet cycle reads and writes nothing for panels,
a page whose findings changed gets its panel replaced, and turning the option off removes every panel we wrote.
Writes are version-checked like the key write-back: on a conflict the page is read again and the edit made
on the user's new text, never over it. A page we annotated is cached as written, so it is not parsed again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Protocol

import structlog

from sync.apply import ApplyResult
from sync.metrics import Metrics
from sync.models import Page, Postmortem
from sync.parser import parse_page
from sync.ports import AtlassianError, ConfluencePort, NotFound, PermissionDenied, VersionConflict
from sync.problems import Problem, ProblemKind
from sync.quality import Finding, PageQuality
from sync.quality_panel import current_digest, panel_digest, with_panel
from sync.settings import Settings
from sync.state import State
from sync.storage_edits import EditError
from sync.templates import combine_templates

log = structlog.get_logger(__name__)

PANELS_META = "quality_panels"
ATTEMPTS = 4  # version conflicts in a row before giving up on a page this cycle
MAX_PER_CYCLE = 100  # panel writes per cycle: turning the option on for a big space spreads over a few cycles


class _Cycle(Protocol):
    """What annotation reads of a cycle's result (sync.cycle.CycleResult)."""

    metrics: Metrics | None
    applied: ApplyResult | None


def wanted_panels(quality: Sequence[PageQuality] | None, annotate: bool) -> dict[str, tuple[Finding, ...]]:
    """Page id -> the findings its panel should show; pages not listed should have no panel (an archived page
    cannot be edited: Confluence answers 404, so asking every cycle would only cost requests)."""
    if not annotate or quality is None:
        return {}
    return {q.page_id: q.findings for q in quality if q.page_id and not q.archived}


def pages_to_change(wanted: Mapping[str, tuple[Finding, ...]], fetched: Mapping[str, Page],
                    remembered: Mapping[str, str], skip: Collection[str]) -> tuple[list[str], dict[str, str]]:
    """The pages whose panel is not the wanted one (by body if read now, else by memory), and the memory as
    the bodies read now show it."""
    memory = dict(remembered)
    changes = []
    for page_id in sorted((set(wanted) | set(remembered) | set(fetched)) - set(skip)):
        if page_id in fetched:
            try:
                memory[page_id] = current_digest(fetched[page_id].body)
            except EditError:  # not well-formed: never edited (the parser reports it as malformed)
                continue
        if memory.get(page_id, "") != panel_digest(wanted.get(page_id, ())):
            changes.append(page_id)
    return changes, memory


def annotate_pages(settings: Settings, cycle: _Cycle, pages: Iterable[Page], failed: Collection[str],
                   confluence: ConfluencePort, state: State) -> tuple[list[Problem], bool]:
    """Bring the quality panels of the pages in line with their findings; cache the pages written. Returns the
    problems, and whether every panel was seen to (at most MAX_PER_CYCLE are, the others next cycle).

    Run after the cycle saved what it read, so the pages written here are cached at the version written.
    """
    fetched = {p.id: p for p in [*pages, *(cycle.applied.pages if cycle.applied else [])]}  # written back: as written
    wanted = wanted_panels(cycle.metrics.quality if cycle.metrics else None, settings.quality.annotate_pages)
    remembered = json.loads(state.meta().get(PANELS_META) or "{}")
    changes, memory = pages_to_change(wanted, fetched, remembered, failed)
    problems, written = [], []
    for page_id in changes[:MAX_PER_CYCLE]:
        findings = wanted.get(page_id, ())
        page, problem, done = _write_panel(page_id, findings, fetched.get(page_id), confluence)
        problems += [problem] if problem else []
        written += [page] if page else []
        if done:
            memory[page_id] = panel_digest(findings)
        elif problem is None:  # the page is gone: nothing to remember
            memory.pop(page_id, None)
    kept = {page_id: digest for page_id, digest in sorted(memory.items()) if digest}
    if written or kept != remembered:
        with state.transaction():
            state.save_pages(_parsed(written, settings, state))
            state.set_meta(**{PANELS_META: json.dumps(kept)})
    return problems, len(changes) <= MAX_PER_CYCLE


def _write_panel(page_id: str, findings: Sequence[Finding], page: Page | None,
                 confluence: ConfluencePort) -> tuple[Page | None, Problem | None, bool]:
    """Write the panel of one page: (the page as written, a problem, whether the page now shows the panel)."""
    for _ in range(ATTEMPTS):
        try:
            page = page or confluence.get_page(page_id)
            body = with_panel(page.body, findings)
            if body == page.body:
                return None, None, True
            written = confluence.update_page(page, body, message="postmortem-sync: postmortem quality",
                                             minor_edit=True)
            log.info("quality_panel_written", page_id=page_id, findings=len(findings), version=written.version)
            return written, None, True
        except VersionConflict:  # someone saved the page meanwhile: edit their version
            log.info("quality_panel_conflict_retrying", page_id=page_id)
            page = None
        except NotFound:
            return None, None, False
        except (PermissionDenied, EditError) as exc:  # remembered as done: not tried again until the page changes
            return None, Problem(ProblemKind.ANNOTATE_FAILED, page_id, str(exc)), True
        except AtlassianError as exc:
            return None, Problem(ProblemKind.ANNOTATE_FAILED, page_id, str(exc)), False
    return None, Problem(ProblemKind.ANNOTATE_FAILED, page_id, "gave up after version conflicts"), False


def _parsed(written: Sequence[Page], settings: Settings, state: State) -> list[Postmortem]:
    """The pages we annotated, parsed as written (as sync.cycle parses a page it wrote back), each keeping what
    the cache knew of it (labels, space): a page read by id on Cloud (v2) comes without them."""
    templates = combine_templates(settings.templates)
    before = state.pages_of([page.id for page in written])
    pages = [page.keeping_facts(before.get(page.id)) for page in written]
    return [replace(parse_page(page.body, title=page.title, templates=templates, page_id=page.id),
                    version=page.version, url=page.url, space=page.space, labels=page.labels, created=page.created,
                    author=page.author) for page in pages]
