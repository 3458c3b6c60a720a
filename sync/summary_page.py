"""The summary page: only ever a page we created, marked so by a content property; found, created and written here.

A page that merely has the summary page's title (the default title is generic) is never taken over:
without our mark it is refused (`summary-not-ours`), neither written nor made to hold the write lease.
A page is marked right after we create it; a crash in between leaves our placeholder as its body,
which is how such a page is recognised as ours and marked on the next attempt.
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog

from sync.models import Page, SummaryPage, WriteSummary
from sync.ports import AtlassianError, ConfluencePort, ConfluenceProbe
from sync.problems import Problem, ProblemKind
from sync.state import State
from sync.storage_format import is_well_formed

log = structlog.get_logger(__name__)

SUMMARY_PLACEHOLDER = "<p>postmortem-sync is writing the first summary of the postmortem action items.</p>"
SUMMARY_MARK = "pmsync-summary"  # the content property on the page we created
_MARK_VALUE = {"created_by": "postmortem-sync"}


class ForeignSummaryPage(Exception):
    """A page titled like the summary page exists but does not carry our mark."""

    def __init__(self, page: Page, where: SummaryPage) -> None:
        super().__init__(f"the page {where.title!r} in space {where.space} (id {page.id}) was not created by "
                         f"postmortem-sync (it lacks the content property {SUMMARY_MARK}); it is left alone: "
                         "rename or move it, or set confluence.summary_page.title to another title")
        self.page = page

    def problem(self) -> Problem:
        """The problem a cycle reports for it."""
        return Problem(ProblemKind.SUMMARY_NOT_OURS, self.page.id, str(self))


def summary_page_id(confluence: ConfluencePort, state: State, where: SummaryPage) -> str:
    """The summary page's id: as remembered, else found (ours only) or created (the lease lives on it).

    ForeignSummaryPage when the page with that title is not ours.
    """
    meta = state.meta()
    known = meta.get("summary_page_id")
    if known and not meta.get("summary_marked"):  # remembered from before pages were marked: ours, so mark it
        _mark(confluence, known)
        state.set_meta(summary_marked="1")
    if known:
        return known
    page = find_or_create_summary(confluence, where, meta)
    state.set_meta(summary_page_id=page.id, summary_page_url=page.url, summary_marked="1")
    return page.id


def write_summary(change: WriteSummary, confluence: ConfluencePort, state: State) -> Problem | None:
    """Write the summary page and remember its digest; a failure is reported (and logged), never raised."""
    if not is_well_formed(change.body):  # Confluence would refuse it; say so instead of failing every cycle
        log.warning("summary_page_refused", reason="ill-formed storage format")
        return Problem(ProblemKind.SUMMARY_FAILED, None, "summary body is not well-formed storage format; not sent")
    try:
        page = find_or_create_summary(confluence, change.page, state.meta())
        if page.body != change.body:
            page = confluence.update_page(page, change.body, message="postmortem-sync: completion update",
                                          minor_edit=True)
    except ForeignSummaryPage as exc:
        log.error("summary_page_not_ours", page_id=exc.page.id)
        return exc.problem()
    except AtlassianError as exc:
        log.warning("summary_page_failed", error=str(exc))
        return Problem(ProblemKind.SUMMARY_FAILED, None, str(exc))
    state.set_meta(summary_digest=change.digest, summary_page_id=page.id, summary_page_url=page.url,
                   summary_marked="1")
    log.info("summary_page_written", page_id=page.id)
    return None


def find_or_create_summary(confluence: ConfluencePort, where: SummaryPage, meta: Mapping[str, str]) -> Page:
    """The summary page if it is ours, else a new one (with the placeholder, then marked); ForeignSummaryPage otherwise.

    Ours: it carries our mark; or it is the page the state remembers (one an earlier version created,
    marked now); or it still holds our placeholder (a crash between create and mark).
    """
    page = confluence.find_page(where.space, where.title)
    if page is None:
        page = confluence.create_page(where.space, where.title, SUMMARY_PLACEHOLDER, where.parent_id)
        confluence.set_property(page.id, SUMMARY_MARK, _MARK_VALUE, None)
        return page
    known = page.id == meta.get("summary_page_id")
    if known and meta.get("summary_marked"):
        return page
    if not is_marked(confluence, page.id):
        if not known and page.body != SUMMARY_PLACEHOLDER:
            raise ForeignSummaryPage(page, where)
        confluence.set_property(page.id, SUMMARY_MARK, _MARK_VALUE, None)
    return page


def _mark(confluence: ConfluencePort, page_id: str) -> None:
    """Mark the page as ours, unless it is already."""
    if not is_marked(confluence, page_id):
        confluence.set_property(page_id, SUMMARY_MARK, _MARK_VALUE, None)


def is_marked(confluence: ConfluencePort | ConfluenceProbe, page_id: str) -> bool:
    """Whether the page carries our mark (for `check`)."""
    return confluence.get_property(page_id, SUMMARY_MARK) is not None
