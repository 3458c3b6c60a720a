"""Extraction rules, one storage-format element or rule at a time, on small inline pages."""

from __future__ import annotations

from datetime import date

import pytest

from sync.models import Owner
from sync.parser import find_written_date, parse_page, split_title
from sync.templates import GENERIC_COLUMNS, TemplateSpec, combine_templates

CLOUD = "557058:3f0c8a2e-5d4b-4f7e-9a61-2b7c0d9e4a11"


def mention(account_id: str = CLOUD) -> str:
    return f'<ac:link><ri:user ri:account-id="{account_id}" /></ac:link> '


def time(value: str) -> str:
    return f'<time datetime="{value}" /> '


def jira(key: str) -> str:
    return ('<ac:structured-macro ac:name="jira" ac:schema-version="1"><ac:parameter ac:name="server">System Jira'
            f'</ac:parameter><ac:parameter ac:name="key">{key}</ac:parameter></ac:structured-macro>')


def status(title: str) -> str:
    return (f'<ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="title">{title}'
            '</ac:parameter><ac:parameter ac:name="colour">Green</ac:parameter></ac:structured-macro>')


def table(headers: list[str], *rows: list[str], header_cell: str = "th") -> str:
    head = "".join(f"<{header_cell}><p>{h}</p></{header_cell}>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tbody><tr>{head}</tr>{body}</tbody></table>"


def task(task_id: str, body: str, state: str = "incomplete") -> str:
    return (f"<ac:task><ac:task-id>{task_id}</ac:task-id><ac:task-uuid>uuid-{task_id}</ac:task-uuid>"
            f"<ac:task-status>{state}</ac:task-status><ac:task-body><span class=\"placeholder-inline-tasks\">"
            f"{body}</span></ac:task-body></ac:task>")


def task_list(*tasks: str) -> str:
    return f'<ac:task-list ac:task-list-id="f00d">{"".join(tasks)}</ac:task-list>'


def action_page(content: str, heading: str = "Action items", level: int = 2) -> str:
    return f"<h{level}>Summary</h{level}><p>Something broke.</p><h{level}>{heading}</h{level}>{content}"


ACTION_TABLE = table(["Action", "Owner", "Due"], ["Fix the alert", mention(), time("2026-03-01")])


def summaries(body: str, **kwargs) -> list[str]:
    return [item.summary for item in parse_page(body, **kwargs).items]


def only_item(body: str, **kwargs):
    items = parse_page(body, **kwargs).items
    assert len(items) == 1, [item.summary for item in items]
    return items[0]


# --- sections ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("heading", [
    "Action items", "Action Items", "ACTION ITEMS", "Action item", "Corrective action", "Corrective actions",
    "Corrective and preventive actions", "Follow-up actions", "Follow-ups", "Follow ups", "Followups",
    "Remediation", "Preventive actions", "Next steps", "Action items / Maßnahmen", "4. Action items",
    '<ac:emoticon ac:name="tick" ac:emoji-fallback="✅" />&nbsp;Action items', "✅ Corrective actions",
    "<strong>Action</strong> items",
])
def test_action_heading_variants_open_a_section(heading):
    result = parse_page(action_page(ACTION_TABLE, heading))
    assert [item.summary for item in result.items] == ["Fix the alert"]
    assert "no-action-section" not in result.problems


@pytest.mark.parametrize("heading", [
    "Actions taken", "Actions taken during the incident", "Response", "Incident response", "Recovery",
    "Timeline", "Lessons learned", "What went well", "Five whys", "Impact", "Root cause",
])
def test_other_headings_are_not_action_sections(heading):
    result = parse_page(action_page(ACTION_TABLE, heading))
    assert result.items == ()
    assert result.problems == ("no-action-section",)


@pytest.mark.parametrize("level", range(1, 7))
def test_every_heading_level_works(level):
    assert summaries(action_page(ACTION_TABLE, level=level)) == ["Fix the alert"]


def test_section_ends_at_same_or_higher_level_heading():
    decoy = table(["Action", "Owner"], ["Decoy after the section", "x"])
    body = action_page(ACTION_TABLE, level=2) + "<h2>Appendix</h2>" + decoy + "<h1>Other</h1>" + decoy
    assert summaries(body) == ["Fix the alert"]


def test_lower_level_headings_are_subsections():
    inner = table(["Action", "Owner"], ["Inside a sub-section", "x"])
    body = action_page(ACTION_TABLE + "<h3>Short term</h3>" + inner + "<h4>Details</h4>" + inner)
    assert summaries(body) == ["Fix the alert", "Inside a sub-section", "Inside a sub-section"]


def test_tables_before_the_section_give_no_items():
    timeline = table(["Time", "Event", "Owner"], ["09:00", "Alert fired", mention()])
    body = "<h2>Timeline</h2>" + timeline + action_page(ACTION_TABLE)
    assert summaries(body) == ["Fix the alert"]


def test_several_action_sections_all_give_items():
    second = task_list(task("1", "Write the runbook " + mention()))
    body = action_page(ACTION_TABLE) + "<h2>Lessons learned</h2><p>x</p><h2>Follow-ups</h2>" + second
    assert summaries(body) == ["Fix the alert", "Write the runbook"]


def test_heading_inside_layout_cell_counts_in_document_order():
    body = ("<ac:layout><ac:layout-section ac:type='two_equal'><ac:layout-cell><h2>Action items</h2>"
            + ACTION_TABLE + "</ac:layout-cell><ac:layout-cell><h2>Appendix</h2>"
            + table(["Action", "Owner"], ["Not an item", "x"])
            + "</ac:layout-cell></ac:layout-section></ac:layout>")
    assert summaries(body) == ["Fix the alert"]


@pytest.mark.parametrize("wrapper", [
    ("<ac:structured-macro ac:name='expand'><ac:parameter ac:name='title'>More</ac:parameter>"
     "<ac:rich-text-body>{}</ac:rich-text-body></ac:structured-macro>"),
    "<ac:structured-macro ac:name='info'><ac:rich-text-body>{}</ac:rich-text-body></ac:structured-macro>",
    ("<ac:structured-macro ac:name='panel'><ac:rich-text-body><div>{}</div></ac:rich-text-body>"
     "</ac:structured-macro>"),
    ("<ac:layout><ac:layout-section ac:type='single'><ac:layout-cell>{}</ac:layout-cell></ac:layout-section>"
     "</ac:layout>"),
    "<div class='content-wrapper'>{}</div>",
])
def test_items_nested_in_macros_and_layouts(wrapper):
    content = ACTION_TABLE + task_list(task("5", "Nested task " + mention()))
    assert summaries(action_page(wrapper.format(content))) == ["Fix the alert", "Nested task"]


def test_no_heading_at_all_reports_no_action_section():
    result = parse_page("<p>Just text</p>" + ACTION_TABLE)
    assert result.items == ()
    assert result.problems == ("no-action-section",)


def test_action_section_without_items_is_not_a_problem():
    assert parse_page(action_page("<p>None needed.</p>")).problems == ()


# --- tables -----------------------------------------------------------------------------------------


def _column_cases():
    for column_field, words in GENERIC_COLUMNS.items():
        for word in words:
            yield column_field, word


@pytest.mark.parametrize("column_field, word", list(_column_cases()))
def test_every_column_alias_is_recognised(column_field, word):
    values = {
        "summary": ("Fix the alert", "summary", "Fix the alert"),
        "owner": (mention(), "owner", Owner(account_id=CLOUD)),
        "due": (time("2026-03-01"), "due", date(2026, 3, 1)),
        "type": ("Prevent", "type", "Prevent"),
        "priority": ("P1", "priority", "P1"),
        "jira": ("OPS-9", "jira_key", "OPS-9"),
        "done": ("Done", "done", True),
    }
    cell, attribute, expected = values[column_field]
    headers, row = [word], [cell]
    if column_field != "summary":
        headers, row = ["Action", word], ["Fix the alert", cell]
    item = only_item(action_page(table(headers, row)))
    assert getattr(item, attribute) == expected


@pytest.mark.parametrize("header, cell, attribute, expected", [
    ("Owner(s)", "ann", "owner", Owner(display="ann")),
    ("Owners", "ann", "owner", Owner(display="ann")),
    ("Due date:", "2026-03-01", "due", date(2026, 3, 1)),
    ("  due   DATE ", "2026-03-01", "due", date(2026, 3, 1)),
    ("Ticket #", "OPS-1", "jira_key", "OPS-1"),
    ("JIRA", "OPS-1", "jira_key", "OPS-1"),
    ("Target date (UTC)", "2026-03-01", "due", date(2026, 3, 1)),
])
def test_header_words_ignore_case_plurals_and_punctuation(header, cell, attribute, expected):
    item = only_item(action_page(table(["Action", header], ["Fix", cell])))
    assert getattr(item, attribute) == expected


@pytest.mark.parametrize("header", ["Time (UTC)", "What happened", "Follow-up by", "Owner notes", "Why?"])
def test_header_words_must_match_whole_cell(header):
    item = only_item(action_page(table(["Action", header], ["Fix", "OPS-1 ann 2026-03-01 Done"])))
    assert (item.owner, item.due, item.jira_key, item.done) == (None, None, None, None)


def test_columns_in_any_order_and_unknown_columns_ignored():
    body = action_page(table(["#", "Priority", "Notes", "Jira", "Owner", "Action"],
                             ["1", "P2", "see doc", jira("OPS-3"), mention(), "Rotate keys"]))
    item = only_item(body)
    assert (item.summary, item.priority, item.jira_key, item.owner.account_id) == (
        "Rotate keys", "P2", "OPS-3", CLOUD)


def test_table_without_summary_column_gives_no_items():
    assert summaries(action_page(table(["Why?", "Because"], ["Why slow?", "TLS"]))) == []


def test_table_without_header_row_gives_no_items():
    body = action_page("<table><tbody><tr><td>Action</td><td>Owner</td></tr><tr><td>x</td><td>y</td></tr>"
                       "</tbody></table>")
    assert summaries(body) == []


def test_bold_td_header_row():
    assert summaries(action_page(table(["<strong>Description</strong>", "<b>Assignee</b>"], ["Fix", mention()],
                                       header_cell="td"))) == ["Fix"]


def test_thead_header_row():
    body = action_page("<table><thead><tr><td>Task</td><td>Who</td></tr></thead><tbody><tr><td>Patch hosts</td>"
                       f"<td>{mention()}</td></tr></tbody></table>")
    item = only_item(body)
    assert (item.summary, item.owner.account_id, item.origin) == ("Patch hosts", CLOUD, "row:0:1")


def test_rowspan_supplies_its_value_to_each_covered_row():
    body = action_page(
        "<table><tbody><tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
        f"<tr><td>First</td><td rowspan='2'>{mention()}</td><td>{time('2026-03-01')}</td></tr>"
        f"<tr><td>Second</td><td>{time('2026-03-02')}</td></tr></tbody></table>")
    items = parse_page(body).items
    assert [(i.summary, i.owner.account_id, i.due) for i in items] == [
        ("First", CLOUD, date(2026, 3, 1)), ("Second", CLOUD, date(2026, 3, 2))]


def test_group_label_rows_are_skipped():
    body = action_page(
        "<table><tbody><tr><th>Action</th><th>Owner</th></tr><tr><td colspan='2'><strong>Short term</strong></td>"
        "</tr><tr><td>Fix</td><td>ann</td></tr><tr><td colspan='2'>Long term</td></tr><tr><td>Redesign</td>"
        "<td>bob</td></tr></tbody></table>")
    items = parse_page(body).items
    assert [(i.summary, i.origin) for i in items] == [("Fix", "row:0:2"), ("Redesign", "row:0:4")]


def test_header_colspan_is_honoured():
    body = action_page("<table><tbody><tr><th colspan='2'>Action</th><th>Owner</th></tr>"
                       "<tr><td>Fix</td><td>detail</td><td>ann</td></tr></tbody></table>")
    assert only_item(body).owner == Owner(display="ann")


@pytest.mark.parametrize("cell", [
    "", "<p />", "<p>&nbsp;</p>", "<p><ac:placeholder>Describe the corrective action</ac:placeholder></p>",
    "&nbsp; <br/> &#160;", "<p>" + mention() + time("2026-01-01") + "</p>",
])
def test_rows_with_empty_summary_are_skipped(cell):
    body = action_page(table(["Action", "Owner"], ["Real item", "ann"],
                             [cell, "<ac:placeholder>@mention</ac:placeholder>"]))
    assert summaries(body) == ["Real item"]


def test_task_in_summary_cell_belongs_to_the_row():
    cell = task_list(task("7", "Patch the kernel " + mention(), state="complete"))
    body = action_page(table(["Action", "Owner", "Due"], [cell, "ann", "2026-04-01"]))
    item = only_item(body)
    assert (item.summary, item.done, item.owner, item.origin, item.task_uuid) == (
        "Patch the kernel", True, Owner(display="ann"), "row:0:1", "uuid-7")


def test_task_in_summary_cell_gives_owner_and_due_without_those_columns():
    cell = task_list(task("8", "Patch " + mention() + time("2026-04-02")))
    item = only_item(action_page(table(["Action"], [cell])))
    assert (item.owner.account_id, item.due, item.done) == (CLOUD, date(2026, 4, 2), False)


def test_multi_paragraph_and_br_cells_join_with_spaces():
    item = only_item(action_page(table(["Action"], ["<p>Write</p><p>the <code>runbook</code></p>line<br/>two"])))
    assert item.summary == "Write the runbook line two"


def test_origin_counts_every_table_in_document_order():
    body = ("<h2>Timeline</h2>" + table(["Time", "Event"], ["1", "2"])
            + action_page(table(["Action"], ["<table><tr><td>nested</td></tr></table>"]) + ACTION_TABLE))
    assert [i.origin for i in parse_page(body).items] == ["row:1:1", "row:3:1"]


# --- owners -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("user, expected", [
    ('<ri:user ri:account-id="5d8f2a1b9c3e4d0012a4b6c8" />', Owner(account_id="5d8f2a1b9c3e4d0012a4b6c8")),
    ('<ri:user ri:userkey="8a7f808a7c1d2e3f017c1d9b4e2a0012" />', Owner(userkey="8a7f808a7c1d2e3f017c1d9b4e2a0012")),
    ('<ri:user ri:username="hwagner" />', Owner(username="hwagner")),
    ('<ri:user ri:username="hwagner" /><ac:plain-text-link-body><![CDATA[Hanna W.]]></ac:plain-text-link-body>',
     Owner(username="hwagner", display="Hanna W.")),
    ('<ri:user ri:account-id="712020:x" /><ac:link-body>Ana</ac:link-body>', Owner(account_id="712020:x",
                                                                                  display="Ana")),
])
def test_owner_mentions_in_table_and_task(user, expected):
    link = f"<ac:link>{user}</ac:link>"
    assert only_item(action_page(table(["Action", "Owner"], ["Fix", f"<p>{link}&nbsp;</p>"]))).owner == expected
    assert only_item(action_page(task_list(task("1", f"Fix {link}")))).owner == expected


def test_first_of_two_mentions_is_the_owner():
    item = only_item(action_page(task_list(task("1", "Fix " + mention("a1") + mention("b2")))))
    assert item.owner.account_id == "a1"


@pytest.mark.parametrize("text", ["jchen", "Identity team", "Zoë Laurent"])
def test_plain_text_owner_is_a_display_name(text):
    assert only_item(action_page(table(["Action", "Owner"], ["Fix", text]))).owner == Owner(display=text)


@pytest.mark.parametrize("text", ["", "TBD", "tbc", "?", "-", "—", "n/a", "None", "Unassigned", "&nbsp;",
                                  "<ac:placeholder>@mention the owner</ac:placeholder>"])
def test_owner_placeholders_give_no_owner(text):
    result = parse_page(action_page(table(["Action", "Owner", "Due"], ["Fix", text, "2026-03-01"])))
    assert result.items[0].owner is None
    assert result.problems == ("missing-owner:1",)


def test_plain_name_in_task_text_is_not_an_owner():
    assert only_item(action_page(task_list(task("1", "Ask jchen to fix")))).owner is None


# --- dates ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell, expected", [
    (time("2026-03-01"), date(2026, 3, 1)),
    ("<div class='content-wrapper'><p>" + time("2026-03-01") + "&nbsp;</p></div>", date(2026, 3, 1)),
    ("2026-03-01", date(2026, 3, 1)),
    ("1 Mar 2026", date(2026, 3, 1)),
    ("1 March 2026", date(2026, 3, 1)),
    ("March 1, 2026", date(2026, 3, 1)),
    ("Mar 1, 2026", date(2026, 3, 1)),
    ("10 Mar 2026", date(2026, 3, 10)),
    ("5 Sept 2026", date(2026, 9, 5)),
    ("by 20 april 2026 latest", date(2026, 4, 20)),
    ("TBD", None), ("Q2 2026", None), ("next sprint", None), ("", None), ("2026-02-30", None),
    ("31 Feb 2026", None), ("March 2026", None), ("12:30", None),
])
def test_due_cell_dates(cell, expected):
    assert only_item(action_page(table(["Action", "Due"], ["Fix", cell]))).due == expected


def test_time_element_wins_over_written_date():
    assert only_item(action_page(table(["Action", "Due"], ["Fix", "1 Jan 2027 " + time("2026-03-01")]))).due == (
        date(2026, 3, 1))


def test_task_dates_come_only_from_time_elements():
    tasks = task_list(task("1", "Fix by 2026-03-01"), task("2", "Fix " + time("2026-03-02")))
    items = parse_page(action_page(tasks)).items
    assert [i.due for i in items] == [None, date(2026, 3, 2)]


def test_find_written_date_takes_the_first_valid_one():
    assert find_written_date("2026-13-01 then 2 Feb 2026 then 2026-01-01") == date(2026, 2, 2)


# --- types, priority --------------------------------------------------------------------------------


@pytest.mark.parametrize("cell, expected", [("Fix", "Fix"), ("prevent", "prevent"), (status("FIX"), "FIX"),
                                            ("", None), ("Some other kind", "Some other kind")])
def test_type_column_as_written(cell, expected):
    assert only_item(action_page(table(["Action", "Type"], ["Do", cell]))).type == expected


def test_type_from_fpdr_sub_headings():
    body = action_page("<h3>Fix</h3>" + task_list(task("1", "A")) + "<h3>Detect</h3>"
                       + table(["Action"], ["B"]) + "<h3>Long term</h3>" + task_list(task("2", "C"))
                       + "<h3>mitigate</h3>" + task_list(task("3", "D")))
    assert [(i.summary, i.type) for i in parse_page(body).items] == [
        ("A", "Fix"), ("B", "Detect"), ("C", None), ("D", "mitigate")]


def test_type_column_wins_over_sub_heading():
    body = action_page("<h3>Fix</h3>" + table(["Action", "Kind"], ["A", "Respond"]))
    assert only_item(body).type == "Respond"


def test_priority_from_text_or_lozenge():
    body = action_page(table(["Action", "Priority"], ["A", "P1"], ["B", status("HIGH")], ["C", ""]))
    assert [i.priority for i in parse_page(body).items] == ["P1", "HIGH", None]


# --- Jira keys --------------------------------------------------------------------------------------


@pytest.mark.parametrize("cells, key", [
    (["Fix", jira("OPS-12")], "OPS-12"),
    (["Fix " + jira("OPS-13"), ""], "OPS-13"),
    (["Fix", '<a href="https://acme.atlassian.net/browse/PAY-2211">link</a>'], "PAY-2211"),
    (["Fix", "PAY-2210"], "PAY-2210"),
    (["Fix", "Bug 5554823"], None),
    (["Fix", "b/99381"], None),
    (["Fix", "n/a"], None),
    (["Fix after OPS-1 ships", ""], None),
    (["Fix", ('<ac:structured-macro ac:name="jira"><ac:parameter ac:name="jqlQuery">project=OPS</ac:parameter>'
              "</ac:structured-macro>")], None),
])
def test_jira_key_sources(cells, key):
    assert only_item(action_page(table(["Action", "Ticket"], cells))).jira_key == key


def test_jira_macro_anywhere_in_the_row_even_without_jira_column():
    assert only_item(action_page(table(["Action", "Notes"], ["Fix", jira("OPS-4")]))).jira_key == "OPS-4"


def test_jira_macro_in_task_and_key_in_task_text():
    items = parse_page(action_page(task_list(task("1", "Fix " + jira("PLAT-377")), task("2", "After PLAT-1")))).items
    assert [i.jira_key for i in items] == ["PLAT-377", None]


def test_jql_jira_macro_in_section_is_not_an_item():
    body = action_page('<p><ac:structured-macro ac:name="jira"><ac:parameter ac:name="jqlQuery">labels = pm'
                       "</ac:parameter></ac:structured-macro></p>")
    assert parse_page(body).items == ()


# --- done -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("cell, done", [
    ("Done", True), ("Complete", True), ("Completed", True), ("closed", True), ("RESOLVED", True), ("Fixed", True),
    ("To do", False), ("TODO", False), ("Open", False), ("In progress", False), ("Not started", False),
    ("Blocked", False), ("Pending", False), ("Planned", False), ("in-progress", False),
    (status("DONE"), True), (status("TO DO"), False), (status("IN PROGRESS"), False),
    ('<ac:emoticon ac:name="tick" /> Done', True), ("✅ Done", True), ("", None), ("Waiting on vendor", None),
])
def test_status_column_words(cell, done):
    assert only_item(action_page(table(["Action", "Status"], ["Fix", cell]))).done is done


@pytest.mark.parametrize("cell, done", [("n/a <strong>DONE</strong>", True), ("CFG-1 <strong>TODO</strong>", False),
                                         ("CFG-2", None), ("", None)])
def test_sre_trailing_done_todo_in_bug_column(cell, done):
    assert only_item(action_page(table(["Action Item", "Type", "Owner", "Bug"], ["Fix", "mitigate", "jchen", cell]))
                     ).done is done


def test_sre_word_is_ignored_when_there_is_a_status_column():
    body = action_page(table(["Action", "Bug", "Status"], ["Fix", "n/a DONE", ""]))
    assert only_item(body).done is None


def test_task_status_gives_done():
    items = parse_page(action_page(task_list(task("1", "A", "complete"), task("2", "B", "incomplete")))).items
    assert [i.done for i in items] == [True, False]


def test_table_without_status_gives_unknown_done():
    assert only_item(action_page(ACTION_TABLE)).done is None


# --- task lists -------------------------------------------------------------------------------------


def test_nested_task_lists_follow_their_parent_and_stay_out_of_its_summary():
    inner = task_list(task("2", "Child one " + mention("c1")), task("3", "Child two"))
    body = action_page(task_list(
        "<ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status><ac:task-body>Parent "
        + mention("p1") + inner + " end</ac:task-body></ac:task>",
        task("4", "Sibling"),
        task_list(task("5", "Listed after sibling")),
    ))
    items = parse_page(body).items
    assert [(i.summary, i.origin) for i in items] == [
        ("Parent end", "task:1"), ("Child one", "task:2"), ("Child two", "task:3"), ("Sibling", "task:4"),
        ("Listed after sibling", "task:5")]
    assert items[0].owner.account_id == "p1" and items[1].owner.account_id == "c1"


def test_empty_tasks_are_skipped():
    body = action_page(task_list(task("1", ""), task("2", "&nbsp;"), task("3", "Real")))
    assert summaries(body) == ["Real"]


def test_task_fields():
    body = action_page(task_list(task("9", "Alert on lag " + mention() + time("2026-03-04"), "complete")))
    item = only_item(body)
    assert (item.summary, item.owner.account_id, item.due, item.done, item.origin, item.task_uuid) == (
        "Alert on lag", CLOUD, date(2026, 3, 4), True, "task:9", "uuid-9")


def test_task_lists_outside_sections_are_ignored():
    approvals = task_list(task("1", "Approve the postmortem " + mention()))
    assert summaries("<h2>Approvals</h2>" + approvals + action_page(ACTION_TABLE)) == ["Fix the alert"]


# --- problems and title -----------------------------------------------------------------------------


def test_problem_order_is_page_level_then_per_item_owner_before_due():
    body = action_page(table(["Action", "Owner", "Due"], ["A", "", ""], ["B", "ann", ""], ["C", "", "2026-01-01"])
                       ) + "<p>R&D</p>"
    assert parse_page(body).problems == (
        "malformed", "missing-owner:1", "missing-due:1", "missing-due:2", "missing-owner:3")


def test_malformed_and_no_action_section_order():
    assert parse_page("<p>R&D</p>").problems == ("malformed", "no-action-section")


def test_title_argument_wins_and_is_collapsed():
    assert parse_page(action_page(ACTION_TABLE), title="  My \n page ").title == "My page"


def test_title_falls_back_to_first_heading_text():
    body = '<p>intro</p><h1><ac:emoticon ac:name="x" />&nbsp;Outage   report</h1>' + action_page(ACTION_TABLE)
    assert parse_page(body).title == "Outage report"


def test_page_id_is_kept():
    assert parse_page("", page_id="123").page_id == "123"


def test_split_title_line():
    assert split_title("<title>A &amp; B\n  c</title>\n<p>x</p>") == ("A & B c", "<p>x</p>")
    assert split_title("<p>x</p>") == (None, "<p>x</p>")


# --- custom templates -------------------------------------------------------------------------------

GERMAN = TemplateSpec(
    name="team-de",
    section_headings=[r"^maßnahmen\b"],
    columns={"summary": ["Aufgabe"], "owner": ["Verantwortlich"], "due": ["Fällig"], "done": ["Stand"]},
    type_vocabulary=["Beheben", "Vorbeugen"],
    done_words=["erledigt"],
    open_words=["offen"],
    no_owner_words=["offen", "tbd"],
)


def test_custom_template_from_configuration():
    body = ("<h2>Maßnahmen</h2><h3>Vorbeugen</h3>"
            + table(["Aufgabe", "Verantwortlich", "Fällig", "Stand"],
                    ["Backups prüfen", "offen", "2026-05-01", "erledigt"]))
    assert parse_page(body).problems == ("no-action-section",)
    item = only_item(body, templates=combine_templates([GERMAN]))
    assert (item.summary, item.owner, item.due, item.type, item.done) == (
        "Backups prüfen", None, date(2026, 5, 1), "Vorbeugen", True)


def test_custom_templates_keep_the_builtins():
    assert summaries(action_page(ACTION_TABLE), templates=combine_templates([GERMAN])) == ["Fix the alert"]


def test_custom_template_rejects_bad_patterns_and_unknown_fields():
    with pytest.raises(ValueError):
        TemplateSpec(name="bad", section_headings=["(unclosed"], columns={"summary": ["x"]})
    with pytest.raises(ValueError):
        TemplateSpec(name="bad", section_headings=["x"], columns={"colour": ["x"]})


# --- page meta --------------------------------------------------------------------------------------


def test_page_meta_from_details_macro():
    details = ("<ac:structured-macro ac:name='details'><ac:rich-text-body><table><tbody>"
               f"<tr><th>Incident date</th><td>{time('2026-02-16')}</td></tr>"
               f"<tr><th>Severity</th><td>{status('SEV1')}</td></tr>"
               "<tr><th>Affected services</th><td>dns, storefront</td></tr>"
               "<tr><th>Team</th><td>Platform Networking</td></tr>"
               f"<tr><th>Postmortem owner</th><td>{mention()}</td></tr>"
               "<tr><th>Status</th><td>Draft</td></tr>"
               "</tbody></table></ac:rich-text-body></ac:structured-macro>")
    result = parse_page(details + action_page(ACTION_TABLE))
    assert result.meta.incident_date == date(2026, 2, 16)
    assert (result.meta.severity, result.meta.service, result.meta.team, result.meta.status) == (
        "SEV1", "dns, storefront", "Platform Networking", "Draft")
    assert result.meta.owner == Owner(account_id=CLOUD)
    assert summaries(details + action_page(ACTION_TABLE)) == ["Fix the alert"]


def test_page_meta_written_date_and_text_severity():
    details = ("<ac:structured-macro ac:name='details'><ac:rich-text-body><table><tbody>"
               "<tr><td>Date</td><td>3 Feb 2026</td></tr><tr><td>Severity</td><td>SEV 3</td></tr>"
               "<tr><td>Owner</td><td>Search team</td></tr></tbody></table></ac:rich-text-body></ac:structured-macro>")
    meta = parse_page(details).meta
    assert (meta.incident_date, meta.severity, meta.owner) == (date(2026, 2, 3), "SEV 3", Owner(display="Search team"))


def test_page_without_details_has_empty_meta():
    meta = parse_page(action_page(ACTION_TABLE)).meta
    assert (meta.incident_date, meta.severity, meta.owner) == (None, None, None)


# --- hostile input ----------------------------------------------------------------------------------


def test_markup_like_text_stays_text():
    text = "Escape &lt;ac:task&gt; and &lt;script&gt;alert(1)&lt;/script&gt;"
    item = only_item(action_page(table(["Action"], [text])))
    assert item.summary == "Escape <ac:task> and <script>alert(1)</script>"


def test_cdata_with_markup_inside_the_section_gives_no_items():
    code = ("<ac:structured-macro ac:name='code'><ac:plain-text-body><![CDATA[<ac:task-list><ac:task>"
            "<ac:task-body>fake</ac:task-body></ac:task></ac:task-list><table><tr><th>Action</th></tr>"
            "<tr><td>fake</td></tr></table><script>x</script> ]]]]><![CDATA[>]]></ac:plain-text-body>"
            "</ac:structured-macro>")
    assert summaries(action_page(code + ACTION_TABLE)) == ["Fix the alert"]


def test_cdata_link_body_in_summary_is_kept_verbatim():
    link = ("<ac:link><ri:page ri:content-title='P' /><ac:plain-text-link-body><![CDATA[<b>a]] & b]]>"
            "</ac:plain-text-link-body></ac:link>")
    assert only_item(action_page(table(["Action"], ["See " + link]))).summary == "See <b>a]] & b"


def test_100_kb_cell():
    long_text = "x" * 100_000
    item = only_item(action_page(table(["Action", "Owner"], [f"<p>{long_text}</p>", "ann"])))
    assert item.summary == long_text


def test_non_ascii_emoji_rtl_and_zero_width_text():
    text = "Prüfe façade “quotes” € 🔁 👩🏽‍💻 שלום مرحبا a\u200bb\u200d"
    item = only_item(action_page(table(["Action", "Owner"], [text, "Zoë"])))
    assert item.summary == text
    assert item.owner == Owner(display="Zoë")


def test_rtl_override_and_control_like_characters_do_not_break_parsing():
    item = only_item(action_page(table(["Action"], ["abc\u202edef\u2066x\u2069"])))
    assert item.summary == "abc\u202edef\u2066x\u2069"


def test_bare_ampersand_is_malformed_but_items_are_recovered():
    body = action_page(table(["Action", "Owner", "Due"], ["Ask R&D to fix &lt;alerts&gt;", "ann", "2026-03-01"],
                             ["Second &amp; last", "bob", "1 Mar 2026"]))
    result = parse_page(body)
    assert result.problems[0] == "malformed"
    assert [i.summary for i in result.items] == ["Ask R&D to fix <alerts>", "Second & last"]
    assert [i.due for i in result.items] == [date(2026, 3, 1), date(2026, 3, 1)]


def test_truncated_body_keeps_complete_rows():
    body = action_page(table(["Action", "Owner"], ["First", "ann"], ["Second", "bob"]))
    cut = body[: body.index("Second") + 3]
    result = parse_page(cut)
    assert result.problems[0] == "malformed"
    assert [i.summary for i in result.items][:1] == ["First"]


def test_unclosed_br_is_malformed_but_parsed():
    result = parse_page(action_page("<table><tr><th>Action</th></tr><tr><td>Line<br>two</td></tr></table>"))
    assert result.problems[0] == "malformed"


@pytest.mark.parametrize("body", ["", "   ", "<", "</p>", "&&&", "<h2>Action items</h2", "\x00", "]]>"])
def test_degenerate_bodies_never_raise(body):
    result = parse_page(body)
    assert isinstance(result.problems, tuple)
    assert "no-action-section" in result.problems or result.items == ()


def test_empty_body():
    result = parse_page("")
    assert (result.title, result.items, result.problems) == ("", (), ("no-action-section",))


def test_2000_row_table():
    rows = [[f"Action number {n}", f"owner{n}", "2026-03-01"] for n in range(2000)]
    items = parse_page(action_page(table(["Action", "Owner", "Due"], *rows))).items
    assert len(items) == 2000
    assert (items[-1].summary, items[-1].owner.display, items[-1].origin) == (
        "Action number 1999", "owner1999", "row:0:2000")


def test_deeply_nested_markup_does_not_overflow():
    depth = 1500
    body = action_page("<div>" * depth + table(["Action"], ["Deep"]) + "</div>" * depth)
    assert summaries(body) == ["Deep"]


def test_cloud_adf_fallback_content_is_not_read_twice():
    content = task_list(task("1", "Only once " + mention()))
    adf = ('<ac:adf-extension><ac:adf-node type="panel"><ac:adf-attribute key="panel-type">note</ac:adf-attribute>'
           f'<ac:adf-content>{content}</ac:adf-content></ac:adf-node><ac:adf-fallback><div class="panel">'
           f"{content}</div></ac:adf-fallback></ac:adf-extension>")
    assert summaries(action_page(adf)) == ["Only once"]


def test_random_damage_never_raises():
    import random

    rng = random.Random(20260301)
    page = action_page(ACTION_TABLE + "<h3>Fix</h3>" + task_list(task("1", "Fix it " + mention() + time("2026-03-01")))
                       + "<ac:structured-macro ac:name='code'><ac:plain-text-body><![CDATA[x < y]]>"
                       "</ac:plain-text-body></ac:structured-macro><p>a&nbsp;b &ldquo;c&rdquo;</p>")
    fragments = ["<", ">", "&", "]]>", "<![CDATA[", "<!--", "</td>", "<tr>", "</table>", "<h2>Action items</h2>",
                 "<ac:task>", "\x00", "\ud800", '"', "&nbsp", "<th>Action</th>"]
    for _ in range(300):
        damaged = page[: rng.randrange(len(page))] if rng.random() < 0.3 else page
        for _ in range(rng.randint(1, 4)):
            cut = rng.randrange(len(damaged) + 1)
            damaged = damaged[:cut] + rng.choice(fragments) + damaged[cut:]
        result = parse_page(damaged)
        assert all(item.summary for item in result.items)
