"""Which postmortem pages a cycle reads, and how much of them: no body for a version we already know.

After a backfill, and on a busy day, an incremental window holds many pages at versions the cache
already has: our own write-backs and the pages the overlap reads again. A page of CQL results with
bodies holds at most 50 pages (Confluence caps `limit` when a body is expanded), without bodies 200.
So when the previous window held at least a page of results, the search first asks for versions
only, then for the bodies of the pages at a version we do not know, by id; otherwise it asks for the
bodies at once (one request where two would do no better).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from sync.models import Page
from sync.ports import ConfluencePort
from sync.query import pages_by_id_cql, postmortem_cql
from sync.settings import ConfluenceSettings

BODY_PAGE = 50  # pages per CQL result page with bodies: also how many ids one query by id names
VERSIONS_FIRST_FROM = BODY_PAGE  # results in the previous window from which versions are asked for first


def find_changed_pages(confluence: ConfluencePort, conf: ConfluenceSettings, minutes: int | None, *,
                       versions_first: bool,
                       known: Callable[[Mapping[str, int]], Collection[str]]) -> tuple[list[Page], frozenset[str]]:
    """The pages the CQL selects (modified in the last `minutes` when given), and the ids of those fetched without
    a body because `known` says their version is cached (only when `versions_first`)."""
    cql = postmortem_cql(conf, minutes)
    if not versions_first:
        return list(confluence.find_pages(cql)), frozenset()
    listed = list(confluence.find_pages(cql, bodies=False))
    cached = set(known({p.id: p.version for p in listed}))
    wanted = [p.id for p in listed if p.id not in cached]
    fetched = {p.id: p for start in range(0, len(wanted), BODY_PAGE)
               for p in confluence.find_pages(pages_by_id_cql(conf, wanted[start:start + BODY_PAGE]))}
    # A page gone from the search between the two queries is left for the next cycle, as if not yet listed.
    pages = [fetched.get(p.id, p) for p in listed if p.id in cached or p.id in fetched]
    return pages, frozenset(cached)

