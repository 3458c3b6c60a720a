"""The write lease: its rules as pure functions, and hold/release over a fake ConfluencePort (the two-daemon test
drives them over HTTP)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sync.lease import LEASE_PROPERTY, NEVER, Lease, claim, hold, may_write, needs_renewal, release, released
from sync.models import Page, SummaryPage
from sync.ports import AtlassianError, NotFound, PermissionDenied, VersionConflict
from sync.problems import ProblemKind
from sync.state import State
from sync.summary_page import SUMMARY_PLACEHOLDER

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
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


class FakeWiki:
    """The four ConfluencePort calls the lease makes, over one page's content properties (versioned)."""

    def __init__(self) -> None:
        self.pages: dict[str, Page] = {}
        self.properties: dict[str, tuple[object, int]] = {}
        self.fail: AtlassianError | None = None

    def find_page(self, space: str, title: str) -> Page | None:
        return next((p for p in self.pages.values() if (p.space, p.title) == (space, title)), None)

    def create_page(self, space: str, title: str, body: str, parent_id: str | None) -> Page:
        page = Page(id=str(len(self.pages) + 1), title=title, version=1, body=body, space=space)
        self.pages[page.id] = page
        return page

    def get_property(self, page_id: str, key: str) -> tuple[object, int] | None:
        if self.fail:
            raise self.fail
        return self.properties.get(key)

    def set_property(self, page_id: str, key: str, value: object, version: int | None) -> None:
        current = self.properties.get(key)
        if (current[1] if current else None) != version:
            raise VersionConflict("someone else wrote first", status=409)
        self.properties[key] = (value, (version or 0) + 1)


WHERE = SummaryPage("PM", "Postmortem action items")


def test_hold_takes_the_lease_on_the_summary_page_it_creates_and_release_ends_it():
    wiki, state = FakeWiki(), State.open(":memory:")
    assert hold(wiki, state, WHERE, NOW, term=TERM, grace=GRACE) is None
    (page,) = wiki.pages.values()
    assert page.body == SUMMARY_PLACEHOLDER and state.meta()["summary_page_id"] == page.id
    mine = Lease.from_json(wiki.properties[LEASE_PROPERTY][0])
    assert mine.holder == state.meta()["instance_id"] and mine.since == NEVER
    assert hold(wiki, state, WHERE, NOW + timedelta(minutes=1), term=TERM, grace=GRACE) is None
    assert wiki.properties[LEASE_PROPERTY][1] == 1  # renewed only in the second half of the term
    release(wiki, state, NOW + timedelta(minutes=2))
    assert Lease.from_json(wiki.properties[LEASE_PROPERTY][0]).expires == NOW + timedelta(minutes=2)
    assert "lease" not in state.meta()


def test_hold_reports_why_not_as_a_problem_and_forgets_what_may_be_stale():
    wiki, mine, theirs = FakeWiki(), State.open(":memory:"), State.open(":memory:")
    assert hold(wiki, theirs, WHERE, NOW, term=TERM, grace=GRACE) is None
    held = hold(wiki, mine, WHERE, NOW, term=TERM, grace=GRACE)
    assert held.kind is ProblemKind.LEASE_HELD and str(held).startswith("lease-held:")
    assert not held.fails_cycle and not held.retried
    wiki.fail = PermissionDenied("no", status=403)
    denied = hold(wiki, mine, WHERE, NOW, term=TERM, grace=GRACE)
    assert denied.kind is ProblemKind.LEASE_DENIED and denied.fails_cycle and "HTTP 403" in str(denied)
    wiki.fail = NotFound("gone", status=404)
    missing = hold(wiki, mine, WHERE, NOW, term=TERM, grace=GRACE)
    assert missing.kind is ProblemKind.LEASE_PAGE_MISSING and "summary_page_id" not in mine.meta()


def test_no_lease_without_a_term_or_a_summary_page():
    wiki = FakeWiki()
    assert hold(wiki, State.open(":memory:"), WHERE, NOW, term=timedelta(0), grace=GRACE) is None
    assert hold(wiki, State.open(":memory:"), None, NOW, term=TERM, grace=GRACE) is None
    assert wiki.pages == {} and wiki.properties == {}
