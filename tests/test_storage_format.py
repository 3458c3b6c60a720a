"""Storage format: parsing (entities, namespaces, CDATA, recovery, no external entities) and readers."""

from __future__ import annotations

from datetime import date

import pytest

from sync.models import Owner
from sync.storage_edits import scan_elements
from sync.storage_format import (
    RI_USER,
    first_mention,
    first_time,
    jira_macro_keys,
    parse_storage,
    read_mention,
    reference_key,
    status_title,
    task_parts,
    text_of,
)
from sync.storage_tables import is_header_row, table_grid, table_rows

CLOUD_USER = '<ac:link><ri:user ri:account-id="557058:abc" /></ac:link>'
JIRA = ('<ac:structured-macro ac:name="jira" ac:schema-version="1"><ac:parameter ac:name="server">System Jira'
        '</ac:parameter><ac:parameter ac:name="key">{key}</ac:parameter></ac:structured-macro>')
STATUS = ('<ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="colour">Green'
          '</ac:parameter><ac:parameter ac:name="title">{title}</ac:parameter></ac:structured-macro>')


def root_of(body: str):
    parsed = parse_storage(body)
    assert not parsed.malformed, body
    return parsed.root


def text(body: str) -> str:
    return text_of(root_of(body))


# --- parsing ------------------------------------------------------------------------------------------


def test_several_roots_with_undeclared_prefixes_parse_strictly():
    parsed = parse_storage('<p>a</p><ac:task-list><ac:task><ac:task-id>1</ac:task-id></ac:task></ac:task-list>')
    assert not parsed.malformed
    assert [task_parts(t).task_id for t in parsed.root.iter("{*}task")] == ["1"]


@pytest.mark.parametrize("entity, char", [
    ("&nbsp;", "\u00a0"), ("&ldquo;", "“"), ("&rdquo;", "”"), ("&ndash;", "–"), ("&mdash;", "—"),
    ("&middot;", "·"), ("&bdquo;", "„"), ("&rarr;", "→"), ("&hellip;", "…"), ("&euro;", "€"),
])
def test_html_named_entities_become_their_characters(entity, char):
    root = root_of(f"<p>x{entity}y</p>")
    assert root.find("p").text == f"x{char}y"


def test_xml_entities_and_character_references_are_kept():
    assert text("<p>&lt;b&gt; &amp; &quot;q&quot; &apos;a&apos; &#8364; &#x20AC;</p>") == "<b> & \"q\" 'a' € €"


def test_entities_inside_cdata_stay_literal():
    root = root_of("<ac:plain-text-body><![CDATA[a &nbsp; <b> & ]]></ac:plain-text-body>")
    assert root[0].text == "a &nbsp; <b> & "


def test_unknown_entity_is_malformed_and_kept_as_text():
    parsed = parse_storage("<p>x &bogus; y &lt;z&gt;</p>")
    assert parsed.malformed
    assert text_of(parsed.root) == "x &bogus; y <z>"


def test_bare_ampersand_is_malformed_but_later_entities_survive_recovery():
    parsed = parse_storage("<p>R&D team</p><p>&lt;ac:task&gt; &nbsp;&ndash; done</p>")
    assert parsed.malformed
    assert text_of(parsed.root) == "R&D team <ac:task> – done"


def test_truncated_body_recovers_what_is_there():
    parsed = parse_storage("<p>one</p><table><tbody><tr><th>Action</th></tr><tr><td>Fix it")
    assert parsed.malformed
    assert text_of(parsed.root) == "one Action Fix it"


@pytest.mark.parametrize("body", ["", "   ", "\ufeff", "<", "&", "]]>", "<!--", "\x00\x01", "\ud800"])
def test_garbage_never_raises(body):
    parsed = parse_storage(body)
    assert parsed.root is not None


def test_leading_xml_declaration_is_tolerated():
    assert text('<?xml version="1.0" encoding="UTF-8"?><p>hi</p>') == "hi"


def test_external_entities_and_doctype_are_never_resolved(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    body = f'<!DOCTYPE x [<!ENTITY xxe SYSTEM "file://{secret}">]><p>&xxe;</p>'
    parsed = parse_storage(body)
    assert parsed.malformed
    assert "TOP-SECRET" not in text_of(parsed.root)


def test_network_is_never_touched():
    body = '<p xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="http://127.0.0.1:9/x"/>ok</p>'
    assert text_of(parse_storage(body).root) == "ok"


def test_large_page_parses():
    row = "<tr><td><p>" + "word " * 200 + "</p></td></tr>"
    body = "<table><tbody>" + row * 5000 + "</tbody></table>"
    assert len(body) > 5_000_000
    root = root_of(body)
    assert len(table_rows(root.find("table"))) == 5000


# --- text extraction --------------------------------------------------------------------------------


def test_blocks_are_whitespace_and_whitespace_collapses_including_nbsp():
    assert text("<p>a</p><p>b<br/>c</p><ul><li>d</li><li>e</li></ul>&nbsp;&nbsp;f \n\t g") == "a b c d e f g"


def test_inline_markup_keeps_its_text():
    assert text("<p>Use <code>ndots:2</code> and <strong>bold</strong> <em>it</em>"
                " <a href='https://x'>link text</a></p>") == "Use ndots:2 and bold it link text"


def test_silent_elements_contribute_nothing_but_their_tail_stays():
    body = (f"<p>Fix {CLOUD_USER} <time datetime='2026-03-01' /> now {JIRA.format(key='OPS-1')} "
            f"{STATUS.format(title='DONE')} <ac:emoticon ac:name='smile' ac:emoji-fallback='😄'/> "
            "<ac:placeholder>Describe it</ac:placeholder> end</p>")
    assert text(body) == "Fix now end"


def test_plain_text_link_body_is_kept_and_mention_link_text_is_not():
    body = ("<p>See <ac:link><ri:page ri:content-title='Runbook' /><ac:plain-text-link-body>"
            "<![CDATA[the runbook]]></ac:plain-text-link-body></ac:link> by <ac:link><ri:user ri:username='ann' />"
            "<ac:plain-text-link-body><![CDATA[Ann]]></ac:plain-text-link-body></ac:link></p>")
    assert text(body) == "See the runbook by"


def test_page_link_without_body_reads_as_its_title():
    assert text("<p>See <ac:link><ri:page ri:content-title='Upgrade runbook' /></ac:link>.</p>") == (
        "See Upgrade runbook.")


def test_cdata_is_text_never_markup():
    body = ("<ac:structured-macro ac:name='code'><ac:parameter ac:name='language'>xml</ac:parameter>"
            "<ac:plain-text-body><![CDATA[<ac:task><script>alert(1)</script> ]]]]><![CDATA[> x]]>"
            "</ac:plain-text-body></ac:structured-macro>")
    assert text(body) == "<ac:task><script>alert(1)</script> ]]> x"


def test_comments_are_ignored_but_following_text_is_kept():
    assert text("<p>a<!-- <b>hidden</b> -->b</p>") == "ab"


def test_literal_emoji_rtl_and_zero_width_characters_are_kept():
    assert text("<p>🔁 שלום\u200b مرحبا</p>") == "🔁 שלום\u200b مرحبا"


def test_nested_task_lists_can_be_left_out():
    body = ("<ac:task-body>Parent <ac:task-list><ac:task><ac:task-body>child</ac:task-body></ac:task>"
            "</ac:task-list> tail</ac:task-body>")
    task_body = root_of(body)[0]
    assert text_of(task_body, skip_task_lists=True) == "Parent tail"
    assert text_of(task_body) == "Parent child tail"


# --- readers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("user, expected", [
    ('<ri:user ri:account-id="557058:abc" />', Owner(account_id="557058:abc")),
    ('<ri:user ri:account-id="5d8f2a1b9c3e4d0012a4b6c8" />', Owner(account_id="5d8f2a1b9c3e4d0012a4b6c8")),
    ('<ri:user ri:userkey="8a7f808a7c1d2e3f" />', Owner(userkey="8a7f808a7c1d2e3f")),
    ('<ri:user ri:username="hwagner" />', Owner(username="hwagner")),
])
def test_mentions_of_all_three_kinds(user, expected):
    assert first_mention(root_of(f"<p>by <ac:link>{user}</ac:link></p>")) == expected


@pytest.mark.parametrize("link_body", [
    "<ac:plain-text-link-body><![CDATA[Hanna Wagner]]></ac:plain-text-link-body>",
    "<ac:link-body>Hanna <em>Wagner</em></ac:link-body>",
])
def test_mention_display_is_its_link_text(link_body):
    owner = first_mention(root_of(f'<p><ac:link><ri:user ri:username="hwagner" />{link_body}</ac:link></p>'))
    assert owner == Owner(username="hwagner", display="Hanna Wagner")


def test_user_without_any_id_is_not_a_mention():
    root = root_of('<p><ac:link><ri:user ri:account-id="" /></ac:link></p>')
    assert read_mention(next(root.iter(RI_USER))) is None
    assert first_mention(root) is None


def test_first_time_skips_invalid_dates_and_accepts_timestamps():
    root = root_of('<p><time datetime="tomorrow" /><time datetime="2026-03-01T10:00:00Z" /></p>')
    assert first_time(root) == date(2026, 3, 1)


def test_jira_macro_keys_ignore_jql_macros_and_other_macros():
    body = ('<p><ac:structured-macro ac:name="jira"><ac:parameter ac:name="jqlQuery">project = OPS'
            '</ac:parameter></ac:structured-macro>' + JIRA.format(key="OPS-7") +
            '<ac:structured-macro ac:name="info"><ac:parameter ac:name="key">NOT-1</ac:parameter>'
            '</ac:structured-macro></p>')
    assert jira_macro_keys(root_of(body)) == ["OPS-7"]


def test_status_title_reads_the_lozenge():
    assert status_title(root_of("<td>" + STATUS.format(title="IN PROGRESS") + "</td>")) == "IN PROGRESS"
    assert status_title(root_of("<td>plain</td>")) is None


@pytest.mark.parametrize("cell, key", [
    ('<td><a href="https://acme.atlassian.net/browse/PAY-2211">the ticket</a></td>', "PAY-2211"),
    ("<td>PAY-2210</td>", "PAY-2210"),
    ("<td>CFG-1042 <strong>TODO</strong></td>", "CFG-1042"),
    ("<td>Bug 5554823</td>", None),
    ("<td>b/99381</td>", None),
    ("<td>n/a</td>", None),
    ("<td>pay-12 or X-1</td>", None),
])
def test_reference_key_from_browse_link_or_plain_key(cell, key):
    assert reference_key(root_of(cell)[0]) == key


# --- tables -----------------------------------------------------------------------------------------


def test_grid_honours_rowspan_and_colspan():
    body = ("<table><tbody><tr><th>A</th><th>B</th><th>C</th></tr>"
            "<tr><td rowspan='2'>a1</td><td colspan='2'>bc1</td></tr>"
            "<tr><td>b2</td><td>c2</td></tr></tbody></table>")
    grid = table_grid(root_of(body)[0])
    assert [[text_of(cell) for cell in row] for row in grid.slots] == [
        ["A", "B", "C"], ["a1", "bc1", "bc1"], ["a1", "b2", "c2"]]


def test_grid_clamps_absurd_spans():
    grid = table_grid(root_of("<table><tr><td colspan='99999999' rowspan='-3'>x</td></tr></table>")[0])
    assert len(grid.slots[0]) == 1000


def test_rows_of_nested_tables_belong_to_the_nested_table():
    body = "<table><tr><td><table><tr><td>inner</td></tr></table></td></tr><tr><td>outer</td></tr></table>"
    outer = root_of(body)[0]
    assert [text_of(row) for row in table_rows(outer)] == ["inner", "outer"]
    assert len(table_rows(outer)) == 2


@pytest.mark.parametrize("row, is_header", [
    ("<tr><th>Action</th><th>Owner</th></tr>", True),
    ("<tr><td><strong>Action</strong></td><td><p><b>Owner</b></p></td></tr>", True),
    ("<tr><th>Key</th><td>value</td></tr>", False),
    ("<tr><td>Action</td><td>Owner</td></tr>", False),
    ("<tr><td><strong>Fix</strong> the thing</td></tr>", False),
])
def test_header_row_detection(row, is_header):
    root = root_of(f"<table><tbody>{row}</tbody></table>")
    assert is_header_row(next(root.iter("tr"))) is is_header


def test_thead_row_is_a_header():
    root = root_of("<table><thead><tr><td>Action</td></tr></thead><tbody><tr><td>x</td></tr></tbody></table>")
    assert is_header_row(next(root.iter("tr")))


# --- tag scanner ------------------------------------------------------------------------------------


def test_scanner_skips_cdata_comments_and_quoted_angle_brackets():
    body = ('<p title="a > b">x</p><!-- <table> --><ac:plain-text-body><![CDATA[<table><tr>]]>'
            '</ac:plain-text-body><br/><table><tr><td/></tr></table>')
    spans = scan_elements(body)
    assert [span.name for span in spans] == ["p", "ac:plain-text-body", "br", "table", "tr", "td"]
    paragraph = spans[0]
    assert body[paragraph.content_start:paragraph.content_end] == "x"
    assert body[paragraph.start:paragraph.end] == '<p title="a > b">x</p>'
    assert spans[-1].self_closing and spans[-1].content_start == spans[-1].content_end
