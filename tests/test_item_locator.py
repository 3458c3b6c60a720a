"""One item locator for reading and editing: the write-back finds exactly the items the parser reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.item_locator import locate_items
from sync.parser import parse_page, split_title
from sync.storage_edits import EditTargetNotFound, edit_items, insert_jira_macro, jira_macro_xml
from sync.storage_format import parse_storage
from sync.templates import DEFAULT_TEMPLATES, TemplateSpec, combine_templates
from tests.samples import SAMPLES

REMEDIES = TemplateSpec(name="acme-remedies", section_headings=[r"\bremedies\b"],
                        columns={"summary": ["Remedy"], "owner": ["Owner"]})
REMEDY_PAGE = ("<h2>Remedies</h2><table><tbody><tr><th>Remedy</th><th>Owner</th></tr>"
               "<tr><td><p>Rotate the keys</p></td><td>ann</td></tr></tbody></table>")


@pytest.mark.parametrize("page", SAMPLES, ids=lambda p: Path(p).stem)
def test_located_items_are_the_parsed_items(page):
    body = split_title(page.read_text(encoding="utf-8"))[1]
    located = locate_items(parse_storage(body).root, DEFAULT_TEMPLATES)
    parsed = parse_page(body)
    assert [(i.origin, i.summary) for i in located.items] == [(i.origin, i.summary) for i in parsed.items]
    assert located.has_action_section == ("no-action-section" not in parsed.problems)


def test_located_item_holds_its_row_cells_and_columns():
    item = locate_items(parse_storage(REMEDY_PAGE).root, combine_templates([REMEDIES])).items[0]
    assert (item.origin, item.summary, item.is_task, item.template.name) == ("row:0:1", "Rotate the keys", False,
                                                                           "acme-remedies")
    assert item.element.tag == "tr" and item.columns["summary"] is item.cells[0] and item.task is None
    assert set(item.columns) == {"summary", "owner"}


def test_write_back_with_the_configured_templates_finds_a_custom_column():
    templates = combine_templates([REMEDIES])
    edited = insert_jira_macro(REMEDY_PAGE, "row:0:1", "OPS-7", expected_summary="Rotate the keys",
                               templates=templates)
    assert edited == REMEDY_PAGE.replace("<p>Rotate the keys</p>", f"<p>Rotate the keys</p>{jira_macro_xml('OPS-7')}")
    assert parse_page(edited, templates=templates).items[0].jira_key == "OPS-7"
    # the built-ins alone do not know the column: that is why apply must pass the parser's templates
    _, problems = edit_items(REMEDY_PAGE, links=[("row:0:1", "OPS-7", "Rotate the keys")])
    assert [type(problem) for problem in problems] == [EditTargetNotFound]


def test_a_table_outside_any_action_section_is_never_edited():
    body = ("<h2>Timeline</h2><table><tr><th>Time</th><th>Description</th></tr><tr><td>13:02</td><td>Push</td></tr>"
            "</table><h2>Action items</h2><table><tr><th>Action</th></tr><tr><td>Fix</td></tr></table>")
    assert [i.origin for i in parse_page(body).items] == ["row:1:1"]
    edited, problems = edit_items(body, links=[("row:0:1", "OPS-1", None), ("row:0:1", "OPS-2", "Push")])
    assert edited == body
    assert [str(problem) for problem in problems] == [
        "no action item at row:0:1", "0 action items have the summary 'Push' (origin row:0:1)"]
