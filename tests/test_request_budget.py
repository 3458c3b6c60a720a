"""The request budget as properties, at small N (bench/sync_bench.py measures the numbers at scale).

Time moves for both sides together: the sandbox's clocks and the daemon's `now` are shifted by the
same offset, so "once the 15-minute overlap has passed" needs no real waiting.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

from tests.harness import archive_pages

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

PAGES, ITEMS_PER_PAGE, PAGE_SIZE, BULK = 60, 5, 50, 50
OWNER = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"


def archive() -> dict[str, str]:
    return archive_pages(PAGES, ITEMS_PER_PAGE, OWNER)


@pytest.fixture
def world(make_world):
    return make_world(archive(), sprint=False)


def cycle(world, minutes_later: int = 0):
    """One cycle that must succeed, `minutes_later` than the start on both sides, and the requests it cost."""
    world.clock.offset = timedelta(minutes=minutes_later)
    world.sb.reset_stats()
    result = world.cycle()
    return result, world.sb.stats()


def test_first_sync_is_near_the_lower_bound_and_a_quiet_cycle_costs_two_requests(world):
    items = PAGES * ITEMS_PER_PAGE
    _, first = cycle(world)
    # CQL pages with bodies + one JQL page + bulk creates + one write-back per page + summary (find + create)
    bound = math.ceil(PAGES / PAGE_SIZE) + 1 + math.ceil(items / BULK) + PAGES + 2
    assert first["total"] <= 1.3 * bound, first["by_route"]
    cycle(world, minutes_later=10)  # the cycles whose windows (the 15-minute overlap) still cover the first sync's
    cycle(world, minutes_later=20)  # writes: they read those pages again, but parse none of them (we wrote them)
    result, quiet = cycle(world, minutes_later=30)
    assert result.plan.is_empty
    assert quiet["total"] <= 2 and set(quiet["by_route"]) <= {"GET /wiki/rest/api/content/search",
                                                               "GET /rest/api/3/search/jql"}


def test_an_edit_cycle_costs_requests_for_what_changed_not_for_the_archive(world):
    cycle(world)
    cycle(world, minutes_later=10)
    cycle(world, minutes_later=20)
    world.clock.offset = timedelta(minutes=25)
    world.edit_page("Postmortem 007", lambda body: body.replace("Action 2 of incident 7",
                                                                "Action 2 of incident 7, reworded"))
    world.transition_done(world.search("project = OPS", limit=1)[0]["key"])
    result, edited = cycle(world, minutes_later=26)
    assert [u.changes for u in result.plan.updates] == [{"summary": "Action 2 of incident 7, reworded"}]
    # 1 CQL + 1 JQL + 1 issue update + the summary page (find + update) + renewing the write lease,
    # whose last write is over half a term ago (read + write): nothing scales with the archive
    assert edited["total"] <= 7, edited["by_route"]
    assert edited["by_route"].get("PUT /wiki/api/v2/pages/{page-id}/properties/{property-id}") == 1  # Cloud: v2
