"""Hardening point 8: a character XML forbids never reaches a body or a Jira text, and no ill-formed body is sent."""

from __future__ import annotations

from datetime import date

import pytest

from sandbox.confluence.store import ConfluenceStore
from sandbox.directory import API_USER
from sandbox.http.errors import ApiError
from sync.atlassian.jira_json import summary_text, wiki_text
from sync.metrics import TrackedItem, compute_metrics
from sync.models import SummaryPage, WriteSummary
from sync.parser import parse_page
from sync.problems import ProblemKind
from sync.report import render_summary_page
from sync.storage_format import is_well_formed, parse_storage, text_of
from sync.summary_page import write_summary

SECTION = "<h2>Action items</h2><table><tr><th>Summary</th><th>Owner</th><th>Due</th></tr>"
FORBIDDEN = ["&#1;", "&#x1F;", "&#0;", "&#xFFFE;", "&#55296;", "\x01", "\x1b", "\ufffe"]


@pytest.mark.parametrize("forbidden", FORBIDDEN)
def test_forbidden_character_is_stripped_from_every_text_read(forbidden):
    body = SECTION + f"<tr><td>Fix {forbidden}the thing</td><td>Ann</td><td>2026-01-02</td></tr></table>"
    page = parse_page(body)
    assert [item.summary for item in page.items] == ["Fix the thing"]
    assert "malformed" not in page.problems  # stripping is a repair, not a lenient re-parse losing items
    assert text_of(parse_storage(f"<p>a{forbidden}b</p>").root) == "ab"


def test_summary_page_of_an_item_with_a_control_character_is_well_formed():
    parsed = parse_page(SECTION + "<tr><td>Fix &#1; it</td><td>A</td><td>2026-01-02</td></tr></table>").items[0]
    row = TrackedItem(page_title="PM \x01 one", page_url="https://wiki/x\x02", incident_date=None, severity="\x03",
                      team="t\x04", summary=parsed.summary + "\x05", owner="Al\x06ice", due=date(2026, 7, 1),
                      type="Fix\x07", issue_key="OPS-1", done=False, created=date(2026, 5, 1), resolved=None)
    body = render_summary_page(compute_metrics([row], date(2026, 6, 15)))
    assert is_well_formed(body)
    assert not any(char in body for char in "\x01\x02\x03\x04\x05\x06\x07")


def test_jira_texts_drop_forbidden_characters():
    assert summary_text("Fix \x01the\x1f thing") == "Fix the thing"
    assert "\x01" not in wiki_text("line \x01 one") and "line  one" in wiki_text("line \x01 one")


class RecordingConfluence:
    """A Confluence port that records every call (none is expected)."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __getattr__(self, name):
        return lambda *args, **kwargs: self.calls.append(name)


def test_ill_formed_summary_body_is_reported_not_sent():
    confluence = RecordingConfluence()
    change = WriteSummary(SummaryPage("PM", "Summary"), "<p>a &#1; b</p>", "digest")
    problem = write_summary(change, confluence, state=None)  # type: ignore[arg-type]
    assert problem is not None and problem.kind is ProblemKind.SUMMARY_FAILED
    assert confluence.calls == []


@pytest.mark.parametrize("body", ["<p>&#1;</p>", "<p>\x01</p>", "<p>R&D</p>", "<p><b>unclosed</p>"])
def test_sandbox_refuses_ill_formed_storage_on_create_and_update(body):
    store = ConfluenceStore()
    store.add_space("PM", "Postmortems")
    with pytest.raises(ApiError) as created:
        store.create_page("PM", "Bad", body, API_USER)
    assert created.value.reply.status == 400
    page = store.create_page("PM", "Good", "<p>a&nbsp;b <ac:emoticon ac:name='tick'/></p>", API_USER)
    with pytest.raises(ApiError):
        store.update_page(page.id, number=2, title="Good", body=body, author=API_USER)
    assert page.current.number == 1
