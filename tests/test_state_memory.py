"""The state `run` keeps decoded between cycles (State.keep_decoded), and what settling after a backfill costs.

The harness's daemon keeps its state decoded as `run` does, so every end-to-end test runs that way;
these tests check the copy against SQLite (the truth, and what `once` and a restart read), that a quiet
cycle decodes nothing, and that the cycle after a backfill neither parses nor fetches the bodies of
the pages we wrote.
"""

from __future__ import annotations

import math
from datetime import timedelta

import pytest

import sync.page_parses
from sync.page_reads import BODY_PAGE
from sync.state import State
from tests.harness import archive_pages

PAGES, ITEMS = 60, 3
OWNER = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"
VERSIONS_PAGE = 200  # CQL results a request without bodies


def archive() -> dict[str, str]:
    return archive_pages(PAGES, ITEMS, OWNER)


@pytest.fixture
def world(make_world):
    return make_world(archive(), sprint=False)


def cycle(world, minutes_later: int):
    """One cycle that must succeed, `minutes_later` than the start on both sides, and the requests it cost."""
    world.clock.offset = timedelta(minutes=minutes_later)
    world.sb.reset_stats()
    result = world.cycle()
    return result, world.sb.stats()


def as_stored(path) -> dict:
    """What a fresh process reads from the state file."""
    fresh = State.open(path)
    try:
        view = fresh.view(with_pages=False)  # its items and issues are decoded when read: read them before closing
        return {"items": dict(view.items), "issues": dict(view.issues), "intents": view.intents, "meta": view.meta}
    finally:
        fresh.close()


def kept(state: State) -> dict:
    view = state.view(with_pages=False)
    return {"items": view.items, "issues": view.issues, "intents": view.intents, "meta": view.meta}


def test_the_decoded_copy_is_what_sqlite_holds_after_every_cycle(world):
    path = world.settings.sync.state_path
    cycle(world, 0)
    assert world.state.loads == 1 and kept(world.state) == as_stored(path)
    world.edit_page("Postmortem 007", lambda body: body.replace("Action 1 of incident 7", "Action 1, reworded"))
    world.transition_done(world.search("project = OPS", limit=1)[0]["key"])
    cycle(world, 20)
    world.edit_page("Postmortem 008", lambda body: body.replace("</tbody>", "<tr><td>A new action</td>"
                                                                 f'<td><ac:link><ri:user ri:account-id="{OWNER}" />'
                                                                 "</ac:link></td><td /></tr></tbody>"))
    result, _ = cycle(world, 40)
    assert len(result.plan.creates) == 1
    assert world.state.loads == 1  # never loaded again: every write went to both
    assert kept(world.state) == as_stored(path)


def test_a_write_rolled_back_leaves_no_trace_in_the_decoded_copy(world, monkeypatch):
    path = world.settings.sync.state_path
    cycle(world, 0)
    world.transition_done(world.search("project = OPS", limit=1)[0]["key"])
    world.clock.offset = timedelta(minutes=20)

    def crash(*_args, **_kwargs):  # the cycle dies inside its last transaction, after the issues were saved
        raise RuntimeError("killed")

    monkeypatch.setattr(State, "clear_intents", crash)
    with pytest.raises(RuntimeError):
        world.daemon.attempt()
    monkeypatch.undo()
    assert kept(world.state) == as_stored(path)  # the copy was dropped and loaded again from SQLite
    assert world.state.loads == 2
    world.daemon.restart()  # a new process reads the file
    result, _ = cycle(world, 40)
    assert result.plan.is_empty and kept(world.state) == as_stored(path)


def test_a_quiet_cycle_reads_no_page_item_or_issue_from_sqlite(world):
    cycle(world, 0)
    cycle(world, 10)
    cycle(world, 20)  # past the overlap of the first sync's writes
    cycle(world, 30)  # the metrics of a quiet state are kept from here on
    statements: list[str] = []
    world.state._db.set_trace_callback(statements.append)
    try:
        result, stats = cycle(world, 40)
    finally:
        world.state._db.set_trace_callback(None)
    assert result.plan.is_empty and stats["total"] <= 2
    reads = [s for s in statements if s.lstrip().upper().startswith("SELECT")]
    assert not [s for s in reads if any(f"FROM {table}" in s for table in ("pages", "items", "issues"))], reads
    assert world.state.loads == 1


def test_settling_after_a_backfill_parses_nothing_we_wrote_and_fetches_no_body(world, monkeypatch):
    cycle(world, 0)  # the backfill: every page written back
    parsed: list[str] = []
    parse = sync.page_parses.parse_page
    monkeypatch.setattr(sync.page_parses, "parse_page",
                        lambda body, **kw: parsed.append(kw["page_id"]) or parse(body, **kw))
    result, stats = cycle(world, 10)  # the window still holds every page we wrote
    assert parsed == [] and result.pages_seen == PAGES and result.plan.is_empty
    assert stats["by_route"].get("GET /wiki/rest/api/content/search") == math.ceil(PAGES / VERSIONS_PAGE)


def test_settling_still_reads_and_parses_a_page_someone_else_edited(world, monkeypatch):
    cycle(world, 0)
    world.clock.offset = timedelta(minutes=5)
    world.edit_page("Postmortem 011", lambda body: body.replace("Action 2 of incident 11", "Action 2, reworded"))
    parsed: list[str] = []
    parse = sync.page_parses.parse_page
    monkeypatch.setattr(sync.page_parses, "parse_page",
                        lambda body, **kw: parsed.append(kw["page_id"]) or parse(body, **kw))
    result, stats = cycle(world, 10)
    assert parsed == [world.page_id("Postmortem 011")]
    assert [u.changes for u in result.plan.updates] == [{"summary": "Action 2, reworded"}]
    # versions of every page in the window, then the body of the one page at a version we do not know
    assert stats["by_route"]["GET /wiki/rest/api/content/search"] == math.ceil(PAGES / VERSIONS_PAGE) + math.ceil(
        1 / BODY_PAGE)
