"""Two daemons against one site (a rolling deploy, or a second replica by mistake): no duplicates.

Each daemon has its own state file (its own instance), its own adapters and HTTP connections; they
run their cycles at the same moment, in threads, against one sandbox. The write lease (sync.lease)
lets exactly one of them write; the other reads and reports, then takes over when the first stops.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from sync.problems import ProblemKind
from tests.harness import Daemon, item_pages, table_row

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

PAGES, ITEMS = 8, 5
LEASE_KINDS = {ProblemKind.LEASE_PAGE_MISSING, ProblemKind.LEASE_DENIED, ProblemKind.LEASE_LOST,
               ProblemKind.LEASE_FAILED, ProblemKind.LEASE_HELD, ProblemKind.LEASE_HANDOVER}


@pytest.fixture
def site(make_world):
    """One sandbox (5 ms per request, so the two daemons' requests interleave) and two daemons against it."""
    world = make_world(item_pages(PAGES, ITEMS), latency_ms=5, sprint=False)
    return world, world.add_daemon("a"), world.add_daemon("b")


def cycle(daemon: Daemon):
    """One forced cycle at the shared clock's time, whatever comes of it."""
    return daemon.attempt(force=True)


def side_by_side(*daemons: Daemon) -> list:
    """One cycle of each daemon, started at the same instant."""
    start, results = threading.Barrier(len(daemons)), [None] * len(daemons)

    def run(index: int) -> None:
        start.wait()
        results[index] = cycle(daemons[index])

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(daemons))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def assert_exactly_once(world) -> None:
    expected = sorted(f"Item {i} of page {n}" for n in range(PAGES) for i in range(ITEMS))
    assert sorted(i.summary for i in world.managed()) == expected  # one issue per item, none twice
    assert len(world.written_keys()) == len(expected)  # every key written back once
    assert len(world.summary_pages()) == 1


def test_two_daemons_starting_together_create_each_issue_once(site):
    world, a, b = site
    first = side_by_side(a, b)
    writers = [r for r in first if r.applied is not None]
    assert len(writers) == 1, [r.problems for r in first]  # exactly one held the lease
    standby = next(r for r in first if r.applied is None)
    lease_lost = {ProblemKind.LEASE_HELD, ProblemKind.LEASE_LOST, ProblemKind.LEASE_FAILED}
    assert any(p.kind in lease_lost for p in standby.problems), standby.problems
    for minutes in (5, 10, 15):  # both keep running; the standby never writes while the lease is live
        world.clock.offset = timedelta(minutes=minutes)
        for result in side_by_side(a, b):
            assert result.ok or any(p.kind in LEASE_KINDS for p in result.problems), result.problems
    assert_exactly_once(world)


def test_rolling_deploy_hands_over_at_once_after_a_clean_release(site):
    world, old, new = site
    assert cycle(old).applied is not None  # the old version syncs alone
    held = cycle(new)  # the new pod starts while the old one still holds the lease
    assert held.applied is None and any(p.kind is ProblemKind.LEASE_HELD for p in held.problems), held.problems
    old.stop()  # SIGTERM: the old pod finishes its cycle and releases the lease
    world.edit_page("Postmortem 0", lambda body: body.replace("</tbody>", table_row("Item 5 of page 0") + "</tbody>"))
    # The old pod released cleanly with every create's key on its page (nothing only a search could find),
    # so the new pod writes at once, and only what is new (tests/test_lease_handover.py has the other cases).
    after = cycle(new)
    assert after.ok and after.applied is not None, after.problems
    assert not any(p.kind is ProblemKind.LEASE_HANDOVER for p in after.problems)
    assert [c.fields.summary for c in after.plan.creates] == ["Item 5 of page 0"]
    issues = sorted(i.summary for i in world.managed())
    expected = [f"Item {i} of page {n}" for n in range(PAGES) for i in range(ITEMS)] + ["Item 5 of page 0"]
    assert issues == sorted(expected)


def test_a_killed_holder_blocks_writes_until_its_lease_expires(site):
    world, crashed, other = site
    assert cycle(crashed).applied is not None  # then SIGKILL: no release
    world.clock.offset = timedelta(minutes=10)
    assert cycle(other).applied is None  # 15-minute term not over yet
    world.clock.offset = timedelta(minutes=16)
    assert any(p.kind is ProblemKind.LEASE_HANDOVER for p in cycle(other).problems)
    world.clock.offset = timedelta(minutes=20)
    final = cycle(other)
    assert final.ok and final.plan.creates == (), final.problems
    assert_exactly_once(world)
