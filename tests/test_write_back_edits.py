"""Surgical write-back edits: only the touched spot changes, edits are idempotent and re-parse as intended."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from sync.parser import parse_page, split_title
from sync.storage_edits import (
    EditConflict,
    EditError,
    EditTargetNotFound,
    edit_items,
    insert_jira_macro,
    jira_macro_xml,
    mark_task_complete,
)
from tests.samples import SAMPLES

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

MACRO = jira_macro_xml("OPS-12")


def insertion_point(before: str, after: str, text: str) -> int:
    """Where `text` was inserted into `before` to give `after`; fails if anything else changed."""
    prefix = 0
    while prefix < len(before) and before[prefix] == after[prefix]:
        prefix += 1
    for position in range(max(0, prefix - len(text)), prefix + 1):
        if after == before[:position] + text + before[position:]:
            return position
    raise AssertionError(f"`after` is not `before` with {text!r} inserted at one place")


def sample_body(page: Path) -> str:
    return split_title(page.read_text(encoding="utf-8"))[1]


ROW_PAGE = (
    "<h2>Action items</h2><table><tbody><tr><th>Action</th><th>Owner</th><th>Jira</th></tr>"
    "<tr><td><p>Fix the alert</p></td><td>ann</td><td><p /></td></tr>"
    "<tr><td><p>Write the runbook</p></td><td>bob</td><td /></tr>"
    "</tbody></table>"
)
TASK_PAGE = (
    "<h2>Follow-ups</h2><ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>"
    "<ac:task-body><span class=\"placeholder-inline-tasks\">Parent task</span><ac:task-list><ac:task>"
    "<ac:task-id>2</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Child task</ac:task-body>"
    "</ac:task></ac:task-list></ac:task-body></ac:task><ac:task><ac:task-id>3</ac:task-id>"
    "<ac:task-status>incomplete</ac:task-status><ac:task-body>Third task</ac:task-body></ac:task></ac:task-list>"
)


# --- insert_jira_macro ------------------------------------------------------------------------------


def test_row_macro_goes_into_the_jira_cell_and_nothing_else_changes():
    edited = insert_jira_macro(ROW_PAGE, "row:0:1", "OPS-12")
    position = insertion_point(ROW_PAGE, edited, MACRO)
    assert ROW_PAGE[:position].endswith("<td>ann</td><td><p />")
    assert [i.jira_key for i in parse_page(edited).items] == ["OPS-12", None]


def test_self_closing_jira_cell_is_opened():
    edited = insert_jira_macro(ROW_PAGE, "row:0:2", "OPS-13")
    assert edited == ROW_PAGE.replace("<td>bob</td><td />", f"<td>bob</td><td>{jira_macro_xml('OPS-13')}</td>")
    assert [i.jira_key for i in parse_page(edited).items] == [None, "OPS-13"]


def test_without_jira_column_macro_goes_to_the_end_of_the_summary_cell():
    body = ("<h2>Action items</h2><table><tr><th>Action</th><th>Owner</th></tr>"
            "<tr><td><p>Fix</p></td><td>x</td></tr></table>")
    edited = insert_jira_macro(body, "row:0:1", "OPS-12")
    assert edited == body.replace("<td><p>Fix</p></td>", f"<td><p>Fix</p>{MACRO}</td>")
    item = parse_page(edited).items[0]
    assert (item.summary, item.jira_key) == ("Fix", "OPS-12")


def test_task_macro_goes_right_before_the_end_of_the_task_body():
    edited = insert_jira_macro(TASK_PAGE, "task:1", "OPS-12")
    position = insertion_point(TASK_PAGE, edited, " " + MACRO)
    assert TASK_PAGE[position:].startswith("</ac:task-body></ac:task><ac:task><ac:task-id>3")
    items = parse_page(edited).items
    assert [(i.summary, i.jira_key) for i in items] == [
        ("Parent task", "OPS-12"), ("Child task", None), ("Third task", None)]


def test_nested_task_gets_its_own_macro():
    edited = insert_jira_macro(TASK_PAGE, "task:2", "OPS-14")
    assert [i.jira_key for i in parse_page(edited).items] == [None, "OPS-14", None]


def test_inserting_twice_is_idempotent():
    once = insert_jira_macro(ROW_PAGE, "row:0:1", "OPS-12")
    assert insert_jira_macro(once, "row:0:1", "OPS-12") == once
    task_once = insert_jira_macro(TASK_PAGE, "task:3", "OPS-12")
    assert insert_jira_macro(task_once, "task:3", "OPS-12") == task_once


def test_key_already_written_as_plain_key_is_left_alone():
    body = ROW_PAGE.replace("<td><p /></td>", "<td><p>OPS-12</p></td>")
    assert insert_jira_macro(body, "row:0:1", "OPS-12") == body


def test_item_linked_to_another_issue_is_a_conflict():
    once = insert_jira_macro(ROW_PAGE, "row:0:1", "OPS-12")
    with pytest.raises(EditConflict, match="OPS-12"):
        insert_jira_macro(once, "row:0:1", "OPS-99")


def test_key_is_xml_escaped():
    hostile = 'X-1"/><script>&'
    edited = insert_jira_macro(ROW_PAGE, "row:0:1", hostile)
    text = jira_macro_xml(hostile)
    insertion_point(ROW_PAGE, edited, text)
    assert "<script>" not in text and "&amp;" in text and "&quot;" in text
    assert parse_page(edited).problems.count("malformed") == 0


def test_escaped_key_reads_back_verbatim_from_the_macro():
    edited = insert_jira_macro(TASK_PAGE, "task:3", "A&B-1")
    assert parse_page(edited).items[2].jira_key == "A&B-1"


@pytest.mark.parametrize("origin", ["row:0:0", "row:0:3", "row:1:1", "row:x:1", "task:1", "nonsense", ""])
def test_unknown_origin_is_not_found(origin):
    with pytest.raises(EditTargetNotFound):
        insert_jira_macro(ROW_PAGE, origin, "OPS-12")


def test_summary_mismatch_without_any_match_is_not_found():
    with pytest.raises(EditTargetNotFound):
        insert_jira_macro(ROW_PAGE, "row:0:1", "OPS-12", expected_summary="Something else")


def test_expected_summary_relocates_the_item_after_a_concurrent_edit():
    moved = ROW_PAGE.replace("<tr><td><p>Fix the alert",
                             "<tr><td><p>New first row</p></td><td>cy</td><td /></tr><tr><td><p>Fix the alert")
    edited = insert_jira_macro(moved, "row:0:1", "OPS-12", expected_summary="Fix  the alert")
    assert [(i.summary, i.jira_key) for i in parse_page(edited).items] == [
        ("New first row", None), ("Fix the alert", "OPS-12"), ("Write the runbook", None)]


def test_expected_summary_can_move_from_a_row_to_a_task():
    page = TASK_PAGE + ROW_PAGE.replace("<h2>Action items</h2>", "")
    edited = insert_jira_macro(page, "row:0:1", "OPS-12", expected_summary="Third task")
    assert {i.summary: i.jira_key for i in parse_page(edited).items}["Third task"] == "OPS-12"


def test_ambiguous_summary_is_not_found():
    page = ROW_PAGE.replace("Write the runbook", "Fix the alert")
    with pytest.raises(EditTargetNotFound, match="2 action items"):
        insert_jira_macro(page, "row:0:9", "OPS-12", expected_summary="Fix the alert")


def test_malformed_body_is_never_edited():
    with pytest.raises(EditError):
        insert_jira_macro(ROW_PAGE + "<p>R&D</p>", "row:0:1", "OPS-12")


def test_cdata_and_comments_that_look_like_tables_do_not_shift_the_target():
    decoy = ("<!-- <table><tr><td>x</td></tr></table> --><ac:structured-macro ac:name='code'><ac:plain-text-body>"
             "<![CDATA[<table><tr><td>fake</td></tr></table><td>]]></ac:plain-text-body></ac:structured-macro>")
    body = decoy + ROW_PAGE
    edited = insert_jira_macro(body, "row:0:1", "OPS-12")
    assert edited.startswith(decoy)
    assert [i.jira_key for i in parse_page(edited).items] == ["OPS-12", None]


def test_cell_spanning_several_rows_is_never_edited():
    body = ("<h2>Action items</h2><table><tr><th>Action</th><th>Jira</th></tr>"
            "<tr><td>First</td><td rowspan='2'><p /></td></tr><tr><td>Second</td></tr></table>")
    edited = insert_jira_macro(body, "row:0:2", "OPS-12")
    assert edited == body.replace("<td>Second</td>", f"<td>Second{MACRO}</td>")
    assert [i.jira_key for i in parse_page(edited).items] == [None, "OPS-12"]
    edited_first = insert_jira_macro(body, "row:0:1", "OPS-13")
    assert [i.jira_key for i in parse_page(edited_first).items] == ["OPS-13", None]


def test_row_whose_cells_all_span_other_rows_is_refused():
    body = ("<h2>Action items</h2><table><tr><th>Action</th></tr><tr><td rowspan='2'>Shared</td></tr>"
            "<tr></tr></table>")
    with pytest.raises(EditError):
        insert_jira_macro(body, "row:0:2", "OPS-12")


@pytest.mark.parametrize("page", SAMPLES, ids=[page.stem for page in SAMPLES])
def test_sample_first_item_round_trip(page: Path):
    body = sample_body(page)
    before = parse_page(body).items
    first = before[0]
    if first.jira_key:
        assert insert_jira_macro(body, first.origin, first.jira_key, expected_summary=first.summary) == body
        with pytest.raises(EditConflict):
            insert_jira_macro(body, first.origin, "ZZZ-1")
        return
    edited = insert_jira_macro(body, first.origin, "ZZZ-1", expected_summary=first.summary)
    separator = " " if first.origin.startswith("task:") else ""
    insertion_point(body, edited, separator + jira_macro_xml("ZZZ-1"))
    after = parse_page(edited)
    assert after.items[0] == replace(first, jira_key="ZZZ-1")
    assert after.items[1:] == before[1:]
    assert "malformed" not in after.problems


UNLINKED = [page for page in SAMPLES if any(item.jira_key is None for item in parse_page(sample_body(page)).items)]


@pytest.mark.parametrize("page", UNLINKED, ids=[page.stem for page in UNLINKED])
def test_sample_first_unlinked_item_round_trip(page: Path):
    body = sample_body(page)
    before = parse_page(body).items
    index = next(n for n, item in enumerate(before) if item.jira_key is None)
    edited = insert_jira_macro(body, before[index].origin, "ZZZ-2")
    separator = " " if before[index].origin.startswith("task:") else ""
    insertion_point(body, edited, separator + jira_macro_xml("ZZZ-2"))
    after = parse_page(edited).items
    assert after[index] == replace(before[index], jira_key="ZZZ-2")
    assert after[:index] + after[index + 1:] == before[:index] + before[index + 1:]


# --- mark_task_complete -----------------------------------------------------------------------------


def test_mark_task_complete_changes_only_that_status():
    edited = mark_task_complete(TASK_PAGE, "task:1")
    assert len(edited) == len(TASK_PAGE) - 2
    first = TASK_PAGE.index("incomplete")
    assert edited == TASK_PAGE[:first] + "complete" + TASK_PAGE[first + len("incomplete"):]
    assert [i.done for i in parse_page(edited).items] == [True, False, False]


def test_mark_nested_task_complete():
    edited = mark_task_complete(TASK_PAGE, "task:2")
    assert [i.done for i in parse_page(edited).items] == [False, True, False]


def test_mark_complete_is_idempotent():
    once = mark_task_complete(TASK_PAGE, "task:3")
    assert mark_task_complete(once, "task:3") == once


def test_mark_complete_of_a_checkbox_in_a_table_row():
    body = ("<h2>Action items</h2><table><tr><th>Action</th></tr><tr><td><ac:task-list><ac:task><ac:task-id>4"
            "</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Patch</ac:task-body></ac:task>"
            "</ac:task-list></td></tr></table>")
    edited = mark_task_complete(body, "row:0:1")
    assert edited == body.replace("incomplete", "complete")
    assert parse_page(edited).items[0].done is True


def test_mark_complete_without_a_task_is_not_found():
    with pytest.raises(EditTargetNotFound):
        mark_task_complete(ROW_PAGE, "row:0:1")
    with pytest.raises(EditTargetNotFound):
        mark_task_complete(TASK_PAGE, "task:42")


@pytest.mark.parametrize("page", [p for p in SAMPLES if "task" in p.read_text(encoding="utf-8")],
                         ids=lambda p: p.stem)
def test_sample_task_completion(page: Path):
    body = sample_body(page)
    before = parse_page(body).items
    index = next(n for n, item in enumerate(before) if item.done is False)
    edited = mark_task_complete(body, before[index].origin)
    after = parse_page(edited).items
    assert after[index] == replace(before[index], done=True)
    assert after[:index] + after[index + 1:] == before[:index] + before[index + 1:]


def test_relocation_ignores_the_adf_fallback_copy():
    content = ("<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>"
               "<ac:task-body>Only once</ac:task-body></ac:task></ac:task-list>")
    body = (f"<h2>Action items</h2><ac:adf-extension><ac:adf-node type='panel'><ac:adf-content>{content}"
            f"</ac:adf-content></ac:adf-node><ac:adf-fallback>{content}</ac:adf-fallback></ac:adf-extension>")
    edited = insert_jira_macro(body, "task:9", "OPS-12", expected_summary="Only once")
    assert edited.index(MACRO) < edited.index("<ac:adf-fallback>")
    assert parse_page(edited).items[0].jira_key == "OPS-12"


def test_relocation_finds_a_row_with_a_checkbox_once():
    body = ("<h2>Action items</h2><table><tr><th>Action</th><th>Jira</th></tr><tr><td><ac:task-list><ac:task>"
            "<ac:task-id>4</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Patch</ac:task-body>"
            "</ac:task></ac:task-list></td><td /></tr></table>")
    edited = insert_jira_macro(body, "row:0:7", "OPS-12", expected_summary="Patch")
    assert edited == body.replace("<td /></tr>", f"<td>{MACRO}</td></tr>")


# --- edit_items: every edit of a page in one pass -------------------------------------------------


def test_one_pass_equals_the_edits_made_one_by_one():
    links = [("row:0:1", "OPS-1", "Fix the alert"), ("row:0:2", "OPS-2", "Write the runbook")]
    rows, problems = edit_items(ROW_PAGE, links=links)
    assert problems == []
    assert rows == insert_jira_macro(insert_jira_macro(ROW_PAGE, "row:0:1", "OPS-1"), "row:0:2", "OPS-2")
    tasks, problems = edit_items(TASK_PAGE, links=[("task:2", "OPS-3", "Child task"), ("task:3", "OPS-4", None)],
                                 completions=[("task:2", "Child task"), ("task:3", None)])
    assert problems == []
    one_by_one = TASK_PAGE
    for edit in (lambda b: insert_jira_macro(b, "task:2", "OPS-3"), lambda b: insert_jira_macro(b, "task:3", "OPS-4"),
                 lambda b: mark_task_complete(b, "task:2"), lambda b: mark_task_complete(b, "task:3")):
        one_by_one = edit(one_by_one)
    assert tasks == one_by_one


def test_one_pass_reports_the_edits_it_cannot_make_and_makes_the_others():
    linked = insert_jira_macro(ROW_PAGE, "row:0:1", "OPS-1")
    edited, problems = edit_items(linked, links=[("row:0:1", "OPS-9", "Fix the alert"),
                                                 ("row:0:2", "OPS-2", "Write the runbook"),
                                                 ("row:0:3", "OPS-3", "Not on the page")])
    assert [type(p) for p in problems] == [EditConflict, EditTargetNotFound]
    assert edited == insert_jira_macro(linked, "row:0:2", "OPS-2")


def test_a_two_thousand_row_table_is_linked_in_one_pass():
    rows = "".join(f"<tr><td>Row {i}</td><td>ann</td></tr>" for i in range(2000))
    body = f"<h2>Action items</h2><table><tbody><tr><th>Action</th><th>Owner</th></tr>{rows}</tbody></table>"
    edited, problems = edit_items(body, links=[(f"row:0:{i + 1}", f"OPS-{i + 1}", f"Row {i}") for i in range(2000)])
    assert problems == []
    items = parse_page(edited).items
    assert [item.jira_key for item in items] == [f"OPS-{i + 1}" for i in range(2000)]
