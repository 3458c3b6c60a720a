"""Which pages get their quality panel changed, and what a failed panel write leaves behind (sync.panels)."""

from __future__ import annotations

import json
from dataclasses import replace
from types import SimpleNamespace

import pytest

from sync.models import Page
from sync.panels import MAX_PER_CYCLE, PANELS_META, annotate_pages, pages_to_change
from sync.ports import AtlassianError, NotFound, PermissionDenied, VersionConflict
from sync.problems import ProblemKind
from sync.quality import Finding, PageQuality
from sync.quality_panel import PANEL_TITLE, panel_digest, with_panel
from sync.state import State
from tests.harness import daemon_settings

FINDINGS = (Finding("vague-item", "1 of 1 action items is vague: “Improve monitoring”.", ("Improve monitoring",)),)
BODY = "<h2>Action items</h2><table><tbody><tr><th>Action</th></tr><tr><td>Improve monitoring</td></tr></tbody></table>"


def page(page_id: str, body: str = BODY, version: int = 1) -> Page:
    return Page(id=page_id, title=f"Postmortem {page_id}", version=version, body=body)


class FakeConfluence:
    """Pages by id; each update checks the version like Confluence; `fail` makes the next calls raise."""

    request_count = 0

    def __init__(self, *pages: Page) -> None:
        self.pages = {p.id: p for p in pages}
        self.fail: list[Exception] = []
        self.updates = 0

    def get_page(self, page_id: str) -> Page:
        if page_id not in self.pages:
            raise NotFound("gone", status=404)
        return self.pages[page_id]

    def update_page(self, page: Page, body: str, *, message: str, minor_edit: bool = True) -> Page:
        if self.fail:
            raise self.fail.pop(0)
        if page.version != self.pages[page.id].version:
            raise VersionConflict("stale", status=409)
        self.updates += 1
        self.pages[page.id] = replace(page, body=body, version=page.version + 1)
        return self.pages[page.id]


@pytest.fixture
def state(tmp_path):
    opened = State.open(tmp_path / "state.sqlite3")
    yield opened
    opened.close()


def settings(tmp_path, annotate: bool = True):
    return daemon_settings("http://127.0.0.1:1", tmp_path / "s.sqlite3", quality={"annotate_pages": annotate})


def cycle(*page_ids: str) -> SimpleNamespace:
    quality = tuple(PageQuality(f"Postmortem {i}", None, i, None, FINDINGS) for i in page_ids)
    return SimpleNamespace(metrics=SimpleNamespace(quality=quality), applied=None)


def remembered(state: State) -> dict[str, str]:
    return json.loads(state.meta().get(PANELS_META) or "{}")


def test_pages_read_now_are_judged_by_their_body_the_others_by_memory():
    digest = panel_digest(FINDINGS)
    wanted = {"shown": FINDINGS, "missing": FINDINGS, "unread-known": FINDINGS, "unread-new": FINDINGS}
    fetched = {"shown": page("shown", with_panel(BODY, FINDINGS)), "missing": page("missing"),
               "stale": page("stale", with_panel(BODY, FINDINGS)), "broken": page("broken", PANEL_TITLE + "<p>")}
    memory = {"unread-known": digest, "removed": digest, "shown": "old"}
    changes, after = pages_to_change(wanted, fetched, memory, skip={"failed"})
    assert changes == ["missing", "removed", "stale", "unread-new"]
    assert after["shown"] == digest and after["missing"] == "" and "broken" not in after


def test_a_quiet_cycle_with_nothing_to_do_writes_nothing(tmp_path, state):
    confluence = FakeConfluence(page("1"))
    done = annotate_pages(settings(tmp_path, annotate=False), cycle("1"), [page("1")], (), confluence, state)
    assert done == ([], True)
    assert confluence.updates == 0 and PANELS_META not in state.meta()


def test_a_page_gone_is_forgotten_and_a_page_we_may_not_edit_is_reported_once(tmp_path, state):
    confluence = FakeConfluence(page("1"), page("2"))
    state.set_meta(**{PANELS_META: json.dumps({"9": "abc"})})  # a page we annotated, deleted since
    confluence.fail = [PermissionDenied("no", status=403)]
    problems, _ = annotate_pages(settings(tmp_path), cycle("1", "2"), [], (), confluence, state)
    assert [(p.kind, p.subject) for p in problems] == [(ProblemKind.ANNOTATE_FAILED, "1")]
    assert remembered(state) == {"1": panel_digest(FINDINGS), "2": panel_digest(FINDINGS)}
    assert PANEL_TITLE in confluence.pages["2"].body and PANEL_TITLE not in confluence.pages["1"].body
    assert annotate_pages(settings(tmp_path), cycle("1", "2"), [], (), confluence, state) == ([], True)  # not retried


def test_a_failed_write_is_tried_again_next_cycle(tmp_path, state):
    confluence = FakeConfluence(page("1"))
    confluence.fail = [AtlassianError("boom", status=500)]
    problems, _ = annotate_pages(settings(tmp_path), cycle("1"), [page("1")], (), confluence, state)
    assert [p.kind for p in problems] == [ProblemKind.ANNOTATE_FAILED] and remembered(state) == {}
    assert annotate_pages(settings(tmp_path), cycle("1"), [], (), confluence, state) == ([], True)
    assert PANEL_TITLE in confluence.pages["1"].body and remembered(state) == {"1": panel_digest(FINDINGS)}


def test_conflicts_on_every_attempt_give_up_for_the_cycle_and_keep_the_users_text(tmp_path, state):
    confluence = FakeConfluence(page("1"))
    confluence.fail = [VersionConflict("stale", status=409)] * 4
    problems, _ = annotate_pages(settings(tmp_path), cycle("1"), [page("1")], (), confluence, state)
    assert [str(p) for p in problems] == ["annotate-failed:1:gave up after version conflicts"]
    assert confluence.pages["1"].body == BODY


def test_a_stale_read_is_edited_on_the_current_version(tmp_path, state):
    current = page("1", BODY.replace("Improve monitoring", "Improve monitoring (user edit)"), version=2)
    confluence = FakeConfluence(current)
    annotate_pages(settings(tmp_path), cycle("1"), [page("1")], (), confluence, state)  # we read version 1
    assert confluence.pages["1"].body == with_panel(current.body, FINDINGS) and confluence.pages["1"].version == 3


def test_pages_that_failed_to_parse_are_left_alone(tmp_path, state):
    confluence = FakeConfluence(page("1"))
    assert annotate_pages(settings(tmp_path), cycle("1"), [page("1")], {"1"}, confluence, state) == ([], True)
    assert confluence.updates == 0


def test_writes_per_cycle_are_capped(tmp_path, state):
    ids = [str(n) for n in range(MAX_PER_CYCLE + 5)]
    confluence = FakeConfluence(*[page(i) for i in ids])
    assert annotate_pages(settings(tmp_path), cycle(*ids), [], (), confluence, state) == ([], False)  # 5 left
    assert confluence.updates == MAX_PER_CYCLE
    assert annotate_pages(settings(tmp_path), cycle(*ids), [], (), confluence, state) == ([], True)
    assert confluence.updates == MAX_PER_CYCLE + 5 and len(remembered(state)) == MAX_PER_CYCLE + 5


def test_the_pages_written_are_cached_at_the_version_written(tmp_path, state):
    confluence = FakeConfluence(page("1"))
    annotate_pages(settings(tmp_path), cycle("1"), [page("1")], (), confluence, state)
    cached = state.pages()["1"]
    assert cached.version == 2 and [i.summary for i in cached.items] == ["Improve monitoring"]
