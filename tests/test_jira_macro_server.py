"""Written-back Jira macros name the Jira application link where it is known (`server`, `serverId`): from
the configuration, else from the page's own macros for our projects' issues; never guessed otherwise
(docs/atlassian-behaviours.md, "Workflows, required fields and macros")."""

from __future__ import annotations

import re

import pytest

from sandbox.state import PRIMARY_JIRA_LINK
from sync.jira_macro import JiraServer, jira_macro_xml, page_server
from sync.storage_edits import edit_items
from sync.storage_format import parse_well_formed
from tests.harness import FLAVORS, table_page

LINK_ID = "5c1f7e2a-0b3d-4e8f-9a6c-2d4b6f8a0c1e"
TITLE = "Postmortem: queue stall"


def macro(key: str, server: str | None = None, server_id: str | None = None) -> str:
    return jira_macro_xml(key, JiraServer(server, server_id))


def written_macros(body: str) -> list[str]:
    return re.findall(r'<ac:structured-macro ac:name="jira".*?</ac:structured-macro>', body)


def test_the_macro_carries_server_and_server_id_before_the_key():
    assert macro("OPS-1", "System Jira", LINK_ID) == (
        '<ac:structured-macro ac:name="jira" ac:schema-version="1">'
        '<ac:parameter ac:name="server">System Jira</ac:parameter>'
        f'<ac:parameter ac:name="serverId">{LINK_ID}</ac:parameter>'
        '<ac:parameter ac:name="key">OPS-1</ac:parameter></ac:structured-macro>')
    assert macro("OPS-1") == jira_macro_xml("OPS-1") and "server" not in jira_macro_xml("OPS-1")
    assert "&lt;b&gt;" in macro("OPS-1", "<b>")


@pytest.mark.parametrize(("macros", "expected"), [
    ([("OPS-1", "System Jira", LINK_ID)], JiraServer("System Jira", LINK_ID)),
    ([("OPS-1", "System Jira", LINK_ID), ("OPS-2", None, None)], JiraServer("System Jira", LINK_ID)),
    ([("HOT-1", "Vendor Jira", "other-link")], None),  # another project's issue may live in another Jira
    ([("OPS-1", "System Jira", LINK_ID), ("OPS-2", "Old Jira", "old-link")], None),  # they disagree
    ([("OPS-1", None, None)], None),
])
def test_the_page_tells_the_link_when_its_macros_for_our_projects_agree(macros, expected):
    root = parse_well_formed("<p>" + "".join(macro(*m) for m in macros) + "</p>")
    assert page_server(root, ("OPS",)) == expected
    assert page_server(root, ()) is None


def test_edit_items_prefers_the_configured_link():
    body = table_page(TITLE, ["Drain the queue"], before=f"<p>{macro('OPS-1', 'Page Jira', 'page-link')}</p>")
    body = body.split("\n", 1)[1]
    configured, _ = edit_items(body, links=[("row:0:1", "OPS-2", None)], server=JiraServer("Ops Jira", LINK_ID),
                               projects=("OPS",))
    from_page, _ = edit_items(body, links=[("row:0:1", "OPS-2", None)], projects=("OPS",))
    assert written_macros(configured)[-1] == macro("OPS-2", "Ops Jira", LINK_ID)
    assert written_macros(from_page)[-1] == macro("OPS-2", "Page Jira", "page-link")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_written_back_macro_names_the_link_the_page_already_uses(make_world, flavor):
    world = make_world({"page.xml": table_page(TITLE, ["Drain the queue"], before="<p>Ticket: OPS-TICKET</p>")},
                       flavor=flavor, sprint=False)
    ticket = world.jira_client.post("rest/api/2/issue", data={"fields": {
        "project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Incident ticket"}})["key"]
    world.edit_page(TITLE, lambda body: body.replace("OPS-TICKET", macro(ticket, "System Jira", LINK_ID)))
    world.cycle()
    key = world.issue("Drain the queue").key
    assert macro(key, "System Jira", LINK_ID) in world.body(TITLE)


def test_a_written_back_macro_names_the_configured_link(make_world):
    world = make_world({"page.xml": table_page(TITLE, ["Drain the queue"])}, sprint=False,
                       confluence={"jira_server": "Ops Jira", "jira_server_id": LINK_ID})
    world.cycle()
    assert macro(world.issue("Drain the queue").key, "Ops Jira", LINK_ID) in world.body(TITLE)


def test_no_link_is_named_when_none_is_known(world):
    """The bundled example 07 links HOT-2207 through a named link: another project's, so it does not count."""
    world.cycle()
    written = [m for body in world.bodies("") for m in written_macros(body) if "OPS-" in m]
    assert written and not [m for m in written if "server" in m]
    assert any("HOT-2207" in m and "serverId" in m for body in world.bodies("") for m in written_macros(body))


def test_confluence_renders_a_macro_against_the_link_it_names(make_world):
    """The sandbox's links: the primary one is its own Jira (used without serverId), another one points
    elsewhere, and a serverId naming no link renders Confluence's error instead of the issue."""
    world = make_world({"page.xml": table_page(TITLE, ["Drain the queue"])}, sprint=False)
    world.sb.add_jira_link("vendor-link", "https://vendor.example.com")
    key = world.jira_client.post("rest/api/2/issue", data={"fields": {
        "project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "Incident ticket"}})["key"]
    macros = [macro(key), macro(key, "System Jira", PRIMARY_JIRA_LINK), macro(key, "Vendor Jira", "vendor-link"),
              macro(key, "Old Jira", "retired-link")]
    world.edit_page(TITLE, lambda body: body.replace("<h2>", "".join(f"<p>{m}</p>" for m in macros) + "<h2>", 1))
    view = world.confluence_client.get(f"rest/api/content/{world.page_id(TITLE)}",
                                       params={"expand": "body.view"})["body"]["view"]["value"]
    paragraphs = re.findall(r"<p>(.*?)</p>", view)[:4]
    assert all("Incident ticket" in p and f'href="/browse/{key}"' in p for p in paragraphs[:2]), paragraphs
    assert f'href="https://vendor.example.com/browse/{key}"' in paragraphs[2] and "Incident ticket" not in paragraphs[2]
    assert "Unable to locate Jira server for this macro" in paragraphs[3] and key not in paragraphs[3]
