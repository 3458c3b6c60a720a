"""The write lease's rules, as pure functions (the two-daemon test drives them over HTTP)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sync.lease import NEVER, Lease, claim, may_write, needs_renewal, released

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc)
TERM = timedelta(minutes=15)
GRACE = timedelta(minutes=2)


def test_the_first_holder_ever_writes_at_once():
    lease = claim(None, "a", NOW, TERM, exists=False)
    assert lease == Lease("a", NEVER, NOW + TERM)
    assert may_write(lease, "a", NOW, GRACE)


def test_a_live_lease_of_another_holder_blocks():
    theirs = Lease("b", NEVER, NOW + timedelta(minutes=1))
    assert claim(theirs, "a", NOW, TERM, exists=True) is None


def test_taking_over_an_expired_or_released_lease_waits_for_the_search_lag_grace():
    for previous in (Lease("b", NEVER, NOW - timedelta(seconds=1)), released(Lease("b", NEVER, NOW + TERM), NOW)):
        mine = claim(previous, "a", NOW, TERM, exists=True)
        assert mine == Lease("a", NOW, NOW + TERM)
        assert not may_write(mine, "a", NOW, GRACE)  # this cycle's reads may predate b's last writes
        assert not may_write(mine, "a", NOW + GRACE - timedelta(seconds=1), GRACE)
        assert may_write(mine, "a", NOW + GRACE, GRACE)


def test_an_unreadable_property_counts_as_another_holders_expired_lease():
    mine = claim(Lease.from_json("not json"), "a", NOW, TERM, exists=True)
    assert mine is not None and mine.since == NOW


def test_renewing_keeps_the_tenure():
    first = claim(None, "a", NOW, TERM, exists=False)
    later = NOW + timedelta(minutes=10)
    renewed = claim(first, "a", later, TERM, exists=True)
    assert renewed == Lease("a", NEVER, later + TERM)
    assert may_write(renewed, "a", later, GRACE)
    assert not may_write(renewed, "b", later, GRACE)


def test_renewal_is_needed_only_in_the_second_half_of_the_term():
    lease = Lease("a", NEVER, NOW + TERM)
    assert not needs_renewal(lease, "a", NOW + timedelta(minutes=7), TERM)
    assert needs_renewal(lease, "a", NOW + timedelta(minutes=8), TERM)
    assert needs_renewal(lease, "b", NOW, TERM)
    assert needs_renewal(None, "a", NOW, TERM)


def test_json_round_trip_and_foreign_values():
    lease = Lease("host/1234", NOW, NOW + TERM)
    assert Lease.from_json(lease.to_json()) == lease
    assert Lease.from_json({"holder": "x"}) is None
    assert Lease.from_json(["not", "a", "lease"]) is None
