"""What became of a cached page that a full search no longer returns: deleted, archived, out of scope, or unknown.

Confluence answers 404 for an archived or trashed page unless asked for any status, and for a page a
view restriction hides as for a purged one; only a confirmed deletion may flag a page's items.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace

from sync.models import Postmortem
from sync.ports import AtlassianError, ConfluencePort
from sync.problems import Problem, ProblemKind
from sync.state import State

# Statuses of a page that is deleted: in the trash, being purged (v2's "deleted"), or purged for good.
_DELETED_STATUSES = frozenset({"trashed", "deleted", "purged"})


def deleted_pages(confluence: ConfluencePort, cached: Iterable[str],
                  fetched: Iterable[str]) -> tuple[frozenset[str], frozenset[str], list[Problem]]:
    """Cached pages a full search no longer returns that Confluence confirms trashed or purged, and those it
    says are archived (kept: their items stay as they are and the page still counts on the summary).

    A page that still exists but left the search (a label removed, moved to another space) is only
    reported; so is a status Confluence cannot explain (a view restriction answers 404 like a purge):
    nothing is flagged on a guess.
    """
    gone, archived, problems = set(), set(), []
    for page_id in sorted(set(cached) - set(fetched)):
        try:
            status = confluence.page_status(page_id)
        except AtlassianError as exc:
            problems.append(Problem(ProblemKind.PAGE_CHECK_FAILED, page_id, f"{exc.status}: {exc.message}"))
            continue
        if status in _DELETED_STATUSES:
            gone.add(page_id)
            problems.append(Problem(ProblemKind.PAGE_DELETED, page_id))
        elif status == "archived":
            archived.add(page_id)
            problems.append(Problem(ProblemKind.PAGE_ARCHIVED, page_id))
        else:
            problems.append(Problem(ProblemKind.PAGE_OUT_OF_SCOPE, page_id))
    return frozenset(gone), frozenset(archived), problems


def archived_parses(state: State, page_ids: frozenset[str]) -> list[Postmortem]:
    """The cached parses of these archived pages, marked archived (saved so, for the cycles in between)."""
    cached = state.pages() if page_ids else {}
    return [replace(cached[page_id], archived=True) for page_id in sorted(page_ids) if page_id in cached]
