"""What a backfill holds at the end of its cycle (issue #17: first sync at 10,000 pages under 250 MB).

Every page of a backfill is written back, so the cycle holds each page twice over: as read and as
written, and parsed as read and as written. By the time it saves what it learnt, the bodies as read are
no longer held (the write-back replaced them), and the pages as written are parsed one at a time as
they are saved, not all at once.
"""

from __future__ import annotations

import gc

import pytest

from sync.metrics import TrackedItem, people
from sync.models import Owner, Page, Postmortem
from sync.state import State
from tests.harness import archive_pages

PAGES, ITEMS = 30, 3
OWNER = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"


@pytest.fixture
def world(make_world):
    return make_world(archive_pages(PAGES, ITEMS, OWNER), sprint=False)


def live(kind: type, version: int, url: str) -> list:
    """The objects of that kind alive now, at that page version, of the site at `url` (not another test's)."""
    return [o for o in gc.get_objects() if type(o) is kind and o.version == version and (o.url or "").startswith(url)]


def test_a_backfill_saves_its_written_pages_holding_neither_the_bodies_as_read_nor_every_written_parse(
        world, monkeypatch):
    seen: list[tuple[int, int]] = []  # per written page saved: (pages as read alive, written parses alive)
    save_pages = State.save_pages

    def watching(self, postmortems):
        def watched():
            for pm in postmortems:
                if pm.version == 2:  # written back (the pages were read at version 1)
                    as_read = [p for p in live(Page, 1, world.url) if p.body]
                    seen.append((len(as_read), len(live(Postmortem, 2, world.url))))
                yield pm
        return save_pages(self, watched())

    monkeypatch.setattr(State, "save_pages", watching)
    gc.collect()  # what earlier tests left for the collector is not this cycle's
    result = world.cycle(force=True)

    assert result.applied is not None and result.applied.written_back == PAGES
    assert len(seen) == PAGES, seen
    assert max(as_read for as_read, _ in seen) == 0, seen  # before: all 30 bodies as read still held
    assert 1 <= max(written for _, written in seen) <= 2, seen  # before: all 30 written parses at once


def test_the_metrics_copy_only_the_rows_whose_owner_label_changes():
    alice = Owner(account_id="acc-alice", display="Alice")
    rows = [TrackedItem(page_title="PM", page_url=None, incident_date=None, severity=None, team=None,
                        summary=f"Fix {n}", owner=name, due=None, type=None, issue_key=None, done=False,
                        created=None, resolved=None, owner_mention=alice, owner_key="acc-alice")
            for n, name in enumerate(["Alice", "Alice", "acc-alice"])]  # the last named by its id only

    relabelled, _ = people(rows)

    assert [r.owner for r in relabelled] == ["Alice", "Alice", "Alice"]
    # A backfill's 50,000 rows are mostly labelled already: copying each would add them all to the peak.
    assert [r is before for r, before in zip(relabelled, rows, strict=True)] == [True, True, False]
