"""A quiet `once` decodes nothing: its state is read lazily and a settled conclusion is skipped (sync.settled).

Each `once` is a new process: it cannot keep figures in memory as `run` does. These tests run the daemon as
`once` keeps its state (read from the file each cycle) and count what is decoded from it.
"""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

import sync.state
from sync.models import IssueSnapshot, ItemRecord, Postmortem
from sync.reminders import REMINDERS_SETTLED
from sync.settled import SETTLED_META
from sync.state import State
from sync.state_view import WrittenSince
from tests.harness import archive_pages, mixed_pages, replaced
from tests.test_reminders import REMINDERS
from tests.test_reminders import pages as reminder_pages

OWNER = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"
PAGES, ITEMS = 12, 3
SUMMARY_PUTS = ("PUT /wiki/rest/api/content/{id}", "PUT /wiki/api/v2/pages/{id}")


@pytest.fixture
def decoded(monkeypatch) -> dict[str, int]:
    """How many item records, issue snapshots and parsed pages were decoded from the state file."""
    counts = {"items": 0, "issues": 0, "pages": 0}
    for name, kind in (("record_from_json", "items"), ("snapshot_from_json", "issues"),
                       ("postmortem_from_json", "pages")):
        original = getattr(sync.state, name)

        def counting(doc, _original=original, _kind=kind):
            counts[_kind] += 1
            return _original(doc)

        monkeypatch.setattr(sync.state, name, counting)
    return counts


def at_noon(world, days: int = 0, minutes: int = 0) -> None:
    """Move both clocks to noon UTC `days` from today, plus `minutes` (no test crosses a midnight by accident)."""
    noon = datetime.combine(datetime.now(UTC).date() + timedelta(days=days), time(12), tzinfo=UTC)
    world.clock.offset = noon + timedelta(minutes=minutes) - datetime.now(UTC)


def settle(world) -> None:
    """The first sync, then cycles until the overlap has passed and a quiet cycle has concluded once."""
    for minutes in (0, 20, 40, 60):
        at_noon(world, minutes=minutes)
        world.cycle()
    assert world.state.meta().get(SETTLED_META)


def quiet_once(world, minutes: int, days: int = 0):
    at_noon(world, days, minutes)
    world.sb.reset_stats()
    result = world.cycle()
    return result, world.sb.stats()


@pytest.fixture
def world(make_world):
    return make_world(archive_pages(PAGES, ITEMS, OWNER), sprint=False, process="once")


def test_a_settled_quiet_once_sends_two_requests_and_decodes_no_item_issue_or_page(world, decoded):
    settle(world)
    summary = world.summary_pages()
    for key in decoded:
        decoded[key] = 0
    result, stats = quiet_once(world, 80)
    assert result.plan.is_empty and result.settled and result.metrics is None and not result.summary_written
    assert stats["total"] == 2, stats["by_route"]  # the page search and the issue search
    assert decoded == {"items": 0, "issues": 0, "pages": 0}
    assert world.summary_pages() == summary


def test_with_reminders_on_a_quiet_once_after_the_steps_were_sent_decodes_nothing(make_world, decoded):
    world = make_world(reminder_pages("cloud"), sprint=False, process="once", reminders=REMINDERS,
                       sync={"lease_minutes": 0})
    at_noon(world)
    world.cycle()  # creates
    at_noon(world, minutes=20)
    assert len(world.cycle().applied.reminded) == 5  # the overdue items' first step
    for minutes in (40, 60, 80):
        at_noon(world, minutes=minutes)
        world.cycle()
    assert world.state.meta().get(REMINDERS_SETTLED)
    for key in decoded:
        decoded[key] = 0
    result, stats = quiet_once(world, 100)
    assert result.plan.is_empty and result.settled and stats["total"] == 2, stats["by_route"]
    assert decoded == {"items": 0, "issues": 0, "pages": 0}
    later, _ = quiet_once(world, 0, days=7)  # a week on, the second step is due: the basis moved with the date
    assert len(later.applied.reminded) == 5


def test_a_reminder_whose_send_failed_is_sent_again_once_its_grace_passed_the_same_day(make_world):
    world = make_world(reminder_pages("cloud"), sprint=False, process="once", reminders=REMINDERS,
                       sync={"lease_minutes": 0})
    at_noon(world)
    world.cycle()  # creates
    world.sb.inject_fault(match="PUT /rest/api/2/issue/{issueIdOrKey}", status=400, count=5)
    at_noon(world, minutes=20)
    failed = world.attempt()
    assert not failed.applied.reminded and len(failed.plan.reminders) == 5  # journalled, outcome unknown
    held, _ = quiet_once(world, 30)  # within the grace (15 minutes): the steps are held back...
    assert not held.plan.reminders
    assert REMINDERS_SETTLED not in world.state.meta()  # ...and nothing settles while they wait
    sent, _ = quiet_once(world, 40)
    assert len(sent.applied.reminded) == 5


def test_an_issue_done_in_jira_is_counted_on_the_summary_at_the_next_once(world):
    settle(world)
    before = quiet_once(world, 80)[0]
    assert before.metrics is None
    world.transition_done(world.search("project = OPS", limit=1)[0]["key"])
    changed, _ = quiet_once(world, 100)
    assert changed.metrics is not None and changed.metrics.done == 1 and changed.summary_written
    quiet_once(world, 140)  # past the overlap: quiet, and concludes once more (the state moved on)
    assert quiet_once(world, 160)[0].metrics is None  # settled again


def test_the_next_day_the_conclusion_is_drawn_again_and_shows_what_became_overdue(make_world):
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    world = make_world(mixed_pages(4, 2, OWNER, tomorrow), sprint=False, process="once")
    settle(world)
    assert quiet_once(world, 80)[0].metrics is None
    later, _ = quiet_once(world, 0, days=2)
    assert later.metrics is not None and later.metrics.overdue == 8 and later.summary_written


def test_a_changed_configuration_draws_the_conclusion_again(world):
    settle(world)
    assert quiet_once(world, 80)[0].metrics is None
    world.daemon.restart(replaced(world.daemon.settings, themes={"recurrence_days": 30}))
    result, _ = quiet_once(world, 100)
    assert result.metrics is not None


def test_a_summary_write_that_failed_is_not_settled_and_is_tried_again(make_world):
    tomorrow = (datetime.now(UTC).date() + timedelta(days=1)).isoformat()
    world = make_world(mixed_pages(4, 2, OWNER, tomorrow), sprint=False, process="once")
    settle(world)
    for route in SUMMARY_PUTS:
        world.sb.inject_fault(match=route, status=400, count=1)
    at_noon(world, days=2)
    failed = world.attempt()  # overdue now: the summary changes
    assert not failed.summary_written and failed.problems
    world.sb.clear_faults()
    retried, _ = quiet_once(world, 5, days=2)
    assert retried.metrics is not None and retried.summary_written
    assert quiet_once(world, 10, days=2)[0].metrics is None


def test_run_settles_too_and_keeps_only_the_totals_for_the_health_endpoint(make_world):
    world = make_world(archive_pages(PAGES, ITEMS, OWNER), sprint=False)  # as `run`: the state kept decoded
    results = []
    for minutes in (0, 20, 40, 60, 80):
        at_noon(world, minutes=minutes)
        results.append(world.cycle())
    assert [r.settled for r in results] == [False, False, False, True, True]
    assert [r.metrics is None for r in results] == [False, False, False, True, True]  # nothing is unpickled
    assert results[-1].totals == results[-2].totals == results[2].metrics.totals  # what the health endpoint shows
    assert not results[-1].summary_written and results[-1].rows == []


# --- the state's generation and its lazy view -------------------------------------------------------


def record(key: str) -> ItemRecord:
    return ItemRecord(key, "9", "row:1", None, "Fix")


def page(page_id: str) -> Postmortem:
    return Postmortem(title="PM", page_id=page_id, version=1)


def snapshot(key: str) -> IssueSnapshot:
    return IssueSnapshot(key, "Fix", "To Do", "new")


def test_every_write_of_items_pages_or_issues_moves_the_generation_on_and_it_is_kept_in_the_file(tmp_path):
    path = tmp_path / "s.sqlite3"
    state = State.open(path)
    seen = [state.generation]
    for write in (lambda: state.save_items([record("k1")]), lambda: state.save_pages([page("1")]),
                  lambda: state.save_issues([snapshot("OPS-1")]), lambda: state.forget_pages(["1"]),
                  lambda: state.save_issues([], forget=["OPS-1"])):
        write()
        seen.append(state.generation)
    state.set_meta(anything="x")  # not content (what the conclusion writes to meta changes only as it concludes)
    state.save_items([])
    assert seen == sorted(set(seen)) and len(seen) == 6 and state.generation == seen[-1]
    state.close()
    assert State.open(path).generation == seen[-1]


def test_a_view_decodes_items_and_issues_only_when_read_and_never_after_a_write(tmp_path, decoded):
    state = State.open(tmp_path / "s.sqlite3")
    state.save_items([record("k1")])
    state.save_issues([snapshot("OPS-1")])
    view = state.view(with_pages=False)
    assert decoded == {"items": 0, "issues": 0, "pages": 0}
    assert set(view.issues) == {"OPS-1"} and decoded["issues"] == 1 and decoded["items"] == 0
    state.save_items([record("k2")])
    assert set(view.issues) == {"OPS-1"}  # decoded before the write: still the snapshot
    with pytest.raises(WrittenSince):
        view.items.get("k1")  # first read after a write would not be the snapshot the cycle began with


def test_a_rolled_back_write_leaves_the_generation_as_the_file_has_it(tmp_path):
    state = State.open(tmp_path / "s.sqlite3")
    before = state.generation

    def crash() -> None:
        with state.transaction():
            state.save_items([record("k1")])
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError):
        crash()
    assert state.generation == before and state.items() == {}


def test_the_basis_names_what_the_conclusion_depends_on_and_not_where_the_state_file_lives(tmp_path):
    from sync.settled import basis
    from tests.harness import daemon_settings

    today = datetime.now(UTC).date()
    here = daemon_settings("http://127.0.0.1:1", tmp_path / "a.sqlite3")
    moved = daemon_settings("http://127.0.0.1:1", tmp_path / "copy" / "b.sqlite3")
    other = replaced(here, themes={"recurrence_days": 30})
    assert basis(here, 7, today) == basis(moved, 7, today)  # a copied or moved state file says the same
    assert len({basis(here, 7, today), basis(here, 8, today), basis(here, 7, today + timedelta(days=1)),
                basis(other, 7, today)}) == 4
