"""The SQLite state: round trips, the intent journal, and identity labels."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest

from sync.identity import (
    epic_label,
    epic_page_from_labels,
    item_key,
    item_key_from_labels,
    item_label,
    page_label,
    type_from_labels,
    type_label,
)
from sync.models import ActionItem, IssueSnapshot, Owner, PageMeta, Postmortem
from sync.state import ItemRecord, State

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


@pytest.fixture
def state(tmp_path):
    store = State.open(tmp_path / "nested" / "state.sqlite3")
    yield store
    store.close()


def test_pages_issues_and_records_round_trip(state, tmp_path):
    pm = Postmortem(title="PM ü", items=(ActionItem("Fix", owner=Owner(userkey="k1"), due=date(2026, 1, 2),
                                                     origin="task:3", task_uuid="u-1", done=True),),
                    problems=("missing-due:1",), meta=PageMeta(incident_date=date(2026, 1, 1), severity="SEV1",
                                                               owner=Owner(account_id="a")),
                    page_id="9", version=4, url="https://wiki/9", space="PM")
    snap = IssueSnapshot("OPS-1", "Fix", "Done", "done", labels=("pmsync",), due=date(2026, 1, 2),
                         created=NOW, resolved=NOW)
    record = ItemRecord("abc", "9", "task:3", "OPS-1", "Fix", assignee="k1", done=True)
    with state.transaction():
        state.save_pages([pm])
        state.save_issues([snap])
        state.save_items([record])
        state.set_meta(cycle="3", gone=None)
    state.close()
    reopened = State.open(tmp_path / "nested" / "state.sqlite3")
    view = reopened.view()
    assert view.pages["9"] == pm and view.issues["OPS-1"] == snap and view.items["abc"] == record
    assert view.meta["cycle"] == "3"
    reopened.close()


def test_issues_a_full_search_no_longer_returns_are_forgotten(state):
    state.save_issues([IssueSnapshot("OPS-1", "a", "To Do", "new"), IssueSnapshot("OPS-3", "c", "To Do", "new")])
    state.save_issues([IssueSnapshot("OPS-2", "b", "To Do", "new")], forget=["OPS-1"])
    assert set(state.view().issues) == {"OPS-2", "OPS-3"}


def test_intent_journal(state):
    with state.transaction():
        state.begin_create(["k1", "k2"], NOW)
    assert state.view().intents == {"k1": NOW, "k2": NOW}
    state.clear_intents(["k1"])
    assert set(state.view().intents) == {"k2"}


def test_a_failed_transaction_writes_nothing(state):
    def crash_inside_a_transaction() -> None:
        with state.transaction():
            state.begin_create(["k1"], NOW)
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        crash_inside_a_transaction()
    assert state.view().intents == {}


def test_item_keys_are_stable_and_follow_the_identity_rules():
    row = ActionItem("Add  alerting!", origin="row:0:1")
    assert item_key("1", row) == item_key("1", ActionItem("add alerting", origin="row:5:9"))  # words, not position
    assert item_key("1", row) != item_key("2", row)
    task = ActionItem("Text", origin="task:4")
    assert item_key("1", task) == item_key("1", ActionItem("Other text", origin="task:4"))  # the task, not words
    uuid = ActionItem("Text", origin="task:4", task_uuid="u-9")
    assert item_key("1", uuid) == item_key("1", ActionItem("x", origin="task:7", task_uuid="u-9"))
    assert len(item_key("1", row)) == 12


def page_id_from_labels(labels) -> str | None:
    """The page id a page label carries (only this test reads page labels back)."""
    return next((m.group(1) for m in map(re.compile(r"^pmsync-page-(\d+)$").match, labels) if m), None)


def test_labels_round_trip():
    labels = [item_label("0123456789ab"), page_label("42"), type_label("Fix it / Now"), epic_label("42"), "pmsync"]
    assert item_key_from_labels(labels) == "0123456789ab"
    assert page_id_from_labels(labels) == "42" and epic_page_from_labels(labels) == "42"
    assert type_from_labels(labels) == "fix-it-now"
    assert all(" " not in label and len(label) <= 255 for label in labels)
    assert type_label(None) is None and type_label("!!!") is None
