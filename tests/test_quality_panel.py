"""The quality panel's surgical edits (sync.quality_panel): written, replaced and removed, nothing else touched."""

from __future__ import annotations

import pytest

from sync.parser import parse_page, split_title
from sync.quality import Finding
from sync.quality_panel import PANEL_TITLE, current_digest, panel_digest, panel_xml, with_panel
from sync.storage_edits import EditError
from sync.storage_format import is_well_formed
from tests.samples import SAMPLES

VAGUE = Finding("vague-item", "1 of 2 action items is vague (nothing measurable): “Improve monitoring”.",
                ("Improve monitoring",))
LATE = Finding("published-late", "Published 9 days after the incident (2026-03-01), more than 5.")
BODY = ("<p>Our own words &amp; <strong>markup</strong>.</p>"
        '<ac:structured-macro ac:name="info" ac:schema-version="1"><ac:parameter ac:name="title">Read me</ac:parameter>'
        "<ac:rich-text-body><p>A panel of the team's own.</p></ac:rich-text-body></ac:structured-macro>"
        "<h2>Action items</h2><table><tbody><tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
        "<tr><td>Improve monitoring</td><td>Ada</td><td>2026-03-20</td></tr></tbody></table>")


def test_the_panel_goes_first_and_nothing_else_changes():
    edited = with_panel(BODY, [VAGUE])
    assert edited == panel_xml([VAGUE]) + BODY
    assert is_well_formed(edited) and PANEL_TITLE in edited and "vague-item" in edited


def test_the_same_findings_leave_the_body_as_it_is():
    edited = with_panel(BODY, [VAGUE])
    assert with_panel(edited, [VAGUE]) is edited
    assert current_digest(edited) == panel_digest([VAGUE]) != "" and current_digest(BODY) == ""


def test_new_findings_replace_our_panel_where_it_is():
    moved = BODY.replace("<h2>Action items</h2>", panel_xml([VAGUE]) + "<h2>Action items</h2>")  # a user moved it
    edited = with_panel(moved, [VAGUE, LATE])
    assert edited == BODY.replace("<h2>Action items</h2>", panel_xml([VAGUE, LATE]) + "<h2>Action items</h2>")


def test_no_findings_remove_our_panel_and_restore_the_body_exactly():
    assert with_panel(with_panel(BODY, [VAGUE, LATE]), []) == BODY
    assert with_panel(BODY, []) is BODY


def test_the_teams_own_info_panel_is_never_taken_for_ours():
    assert with_panel(BODY, []) == BODY
    assert with_panel(BODY, [LATE]).count("A panel of the team's own.") == 1


def test_a_copy_pasted_twice_leaves_one_panel():
    twice = panel_xml([VAGUE]) + BODY + panel_xml([VAGUE])
    edited = with_panel(twice, [VAGUE])
    assert edited == panel_xml([VAGUE]) + BODY


def test_a_panel_confluence_reserialised_is_not_rewritten():
    reserialised = panel_xml([VAGUE]).replace('ac:schema-version="1">', 'ac:schema-version="1" ac:macro-id="a1b2">')
    reserialised = reserialised.replace("<ul>", '<ul data-x="y">')
    body = reserialised + BODY
    assert with_panel(body, [VAGUE]) is body


def test_every_string_in_the_panel_is_escaped():
    hostile = Finding("vague-item", '</li></ul><script>alert(1)</script> & "quotes" \x01', ("x",))
    edited = with_panel(BODY, [hostile])
    assert is_well_formed(edited) and "<script>" not in edited and "&lt;script&gt;" in edited


def test_a_body_that_is_not_well_formed_is_never_edited():
    broken = panel_xml([VAGUE]) + "<p>unclosed"
    with pytest.raises(EditError):
        with_panel(broken, [])


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.stem)
def test_the_panel_never_changes_what_a_page_parses_to(sample):
    title, body = split_title(sample.read_text(encoding="utf-8"))
    before = parse_page(body, title=title)
    after = parse_page(with_panel(body, [VAGUE, LATE]), title=title)
    assert after == before
    assert with_panel(with_panel(body, [VAGUE, LATE]), []) == body
