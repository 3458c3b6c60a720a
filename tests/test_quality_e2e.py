"""Postmortem quality end to end: the summary page's section (as the browser shows it), `report --json`, and the
opt-in panels on the pages (written, kept, replaced, removed; the user's text and concurrent edits kept)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

import pytest
import requests
from lxml import html as lxml_html

from sync.atlassian import make_adapters
from sync.cli import main
from sync.cycle import run_cycle
from sync.quality_panel import PANEL_TITLE, with_panel
from tests.harness import FLAVORS, SUMMARY_TITLE, replaced, table_page

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

INCIDENT = (date.today() - timedelta(days=1)).isoformat()
DETAILS = ('<ac:structured-macro ac:name="details" ac:schema-version="1"><ac:rich-text-body><table><tbody>'
           f"<tr><th>Incident date</th><td>{INCIDENT}</td></tr></tbody></table></ac:rich-text-body>"
           "</ac:structured-macro>")
SHAKY = "Postmortem: checkout outage"
CLEAN = "Postmortem: clean"
VAGUE = "Improve monitoring"
SPECIFIC = "Alert when checkout errors exceed 1% for 5 minutes"
ROOT_CAUSE = "<h2>Root cause</h2><p>Human error: an operator ran the migration on production.</p>"
OWN_WORDS = "<p>Our <em>own</em> words.</p>"


def pages() -> dict[str, str]:
    return {
        "shaky.xml": table_page(SHAKY, [VAGUE, SPECIFIC], before=DETAILS + OWN_WORDS + ROOT_CAUSE),
        "clean.xml": table_page(CLEAN, [SPECIFIC.replace("checkout", "search")], before=DETAILS),
    }


@pytest.fixture
def world(make_world, flavor):
    return make_world(pages(), flavor=flavor, sprint=False, quality={"annotate_pages": True},
                      sync={"lease_minutes": 0})


def sandbox_page(world, title: str):
    with world.sb.state.lock:
        return next(p for p in world.sb.state.confluence.pages.values() if p.title == title)


def page_writes(world) -> list[str]:
    return [route for route in world.sb.stats()["by_route"] if route.startswith("PUT ") and "content" in route]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_panel_lists_the_findings_and_leaves_everything_else_as_it_was(world, flavor):
    world.cycle()
    shaky, clean = sandbox_page(world, SHAKY), sandbox_page(world, CLEAN)
    body = shaky.body
    assert body.startswith('<ac:structured-macro ac:name="info"') and body.count(PANEL_TITLE) == 1
    panel = lxml_html.fromstring(body[:body.index("</ac:structured-macro>")])
    assert {"vague-item", "human-error-root-cause"} <= set(panel.xpath("//code/text()"))
    # The panel came on top of the write-back's version, which it left exactly as it was.
    assert with_panel(body, []) == shaky.versions[-2].body and "<p>Our <em>own</em> words.</p>" in body
    assert PANEL_TITLE not in clean.body
    # Cached as written: the next cycle takes the page from the cache, and it parses to the same items.
    cached = world.state.pages()[shaky.id]
    assert cached.version == shaky.current.number and [i.summary for i in cached.items] == [VAGUE, SPECIFIC]

    world.sb.reset_stats()
    again = world.cycle()
    assert again.plan.is_empty and page_writes(world) == []
    assert sandbox_page(world, SHAKY).current.number == shaky.current.number


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_panel_follows_the_findings_and_goes_with_them(world, flavor):
    world.cycle()
    world.edit_page(SHAKY, lambda b: b.replace(VAGUE, "Monitor p99 checkout latency per region").replace(
        "<p>Our <em>own</em> words.</p>", "<p>Our <em>own</em> words, edited.</p>"))
    world.cycle()
    body = sandbox_page(world, SHAKY).body
    assert body.count(PANEL_TITLE) == 1 and "human-error-root-cause" in body and "vague-item" not in body
    assert "words, edited." in body and "Monitor p99 checkout latency per region" in body

    world.edit_page(SHAKY, lambda b: b.replace("Human error: an operator ran the migration on production.",
                                               "The migration tool allowed a production run without review."))
    users_version = sandbox_page(world, SHAKY).body
    world.cycle()
    page = sandbox_page(world, SHAKY)
    assert PANEL_TITLE not in page.body
    assert page.body == with_panel(users_version, [])  # only our panel left; not one character of theirs


@pytest.mark.parametrize("flavor", FLAVORS)
def test_turning_annotation_off_removes_every_panel_we_wrote(world, flavor):
    world.cycle()
    before = sandbox_page(world, SHAKY).versions[-2].body
    world.cycle()  # a quiet cycle: the page is not read again, the memory says where our panels are
    world.daemon.restart(replaced(world.settings, quality={"annotate_pages": False}))
    world.sb.reset_stats()
    world.cycle()
    assert sandbox_page(world, SHAKY).body == before and page_writes(world)
    world.sb.reset_stats()
    world.cycle()
    assert page_writes(world) == []


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_user_edit_racing_the_panel_write_is_kept(world, flavor):
    world.cycle()  # issues and keys first; the panel is written in this cycle too
    world.edit_page(SHAKY, lambda b: with_panel(b, []).replace(SPECIFIC, SPECIFIC + " (paged)"))  # panel deleted
    jira, confluence = make_adapters(world.settings)
    original_update, raced = confluence.update_page, []

    def racing_update(page, body, **kwargs):
        if "quality" in kwargs.get("message", "") and not raced:  # a user saves between our read and our write
            raced.append(True)
            world.edit_page(page.title, lambda b: b.replace("<p>Our <em>own</em> words.</p>",
                                                            "<p>Our own words. USER EDIT</p>"))
        return original_update(page, body, **kwargs)

    confluence.update_page = racing_update
    assert run_cycle(world.settings, jira, confluence, world.state).ok and raced
    body = sandbox_page(world, SHAKY).body
    assert "USER EDIT" in body and "(paged)" in body and body.count(PANEL_TITLE) == 1


def test_panels_are_off_by_default(make_world):
    world = make_world(pages(), sprint=False)
    world.cycle()
    assert all(PANEL_TITLE not in body for body in world.bodies())


def summary_dom(world):
    page_id = world.page_id(SUMMARY_TITLE)
    return lxml_html.fromstring(requests.get(f"{world.url}/wiki/spaces/PM/pages/{page_id}", timeout=10).text)


def quality_rows(dom) -> list:
    heading = dom.xpath("//h2[normalize-space()='Postmortem quality']")
    assert len(heading) == 1
    return heading[0].xpath("following-sibling::table[1]//tr[td]")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_summary_page_shows_the_postmortems_with_findings(make_world, flavor):
    world = make_world(pages(), flavor=flavor, sprint=False)
    with world.sb.state.lock:  # a postmortem published 9 days after its incident, one 2 days after
        store = world.sb.state.confluence
        parent = next(p for p in store.pages.values() if p.title == "Postmortems")
        incident = datetime.now(UTC) - timedelta(days=30)
        for title, delay in (("Postmortem: published late", 9), ("Postmortem: published on time", 2)):
            details = DETAILS.replace(INCIDENT, incident.date().isoformat())
            body = table_page(title, [SPECIFIC], before=details).split("\n", 1)[1]
            page = store.create_page("PM", title, body, parent.created_by, parent_id=parent.id,
                                     when=incident + timedelta(days=delay))
            store.add_labels(page.id, [("global", "postmortem")])
    world.cycle()
    rows = quality_rows(summary_dom(world))
    titles = [row.xpath("string(td[1])") for row in rows]
    assert titles == [SHAKY, "Postmortem: published late"]  # newest incident first; the others have no findings
    shaky = rows[0]
    href, page_id = shaky.xpath("td[1]//a/@href")[0], world.page_id(SHAKY)
    assert f"/pages/{page_id}/" in href or href.endswith(f"pageId={page_id}")  # Cloud's and Data Center's links
    assert shaky.xpath("td[2]/text()") == [INCIDENT]
    assert shaky.xpath("td[3]//li/code/text()") == ["vague-item", "human-error-root-cause"]
    assert "“Improve monitoring”" in shaky.xpath("string(td[3])")
    assert rows[1].xpath("td[3]//li/code/text()") == ["published-late"]
    assert "Published 9 days after the incident" in rows[1].xpath("string(td[3])")


def test_the_summary_section_escapes_page_text(make_world):
    hostile = "Postmortem: <b>bold</b> & \"quoted\""
    world = make_world({"x.xml": table_page(hostile.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
                                            ["Improve <i>things</i>"], before=DETAILS)}, sprint=False)
    world.cycle()
    rows = quality_rows(summary_dom(world))
    assert [row.xpath("string(td[1])") for row in rows] == [hostile]
    assert "“Improve things”" in rows[0].xpath("string(td[3])")


def test_quality_can_be_turned_off(make_world):
    world = make_world(pages(), sprint=False, quality={"enabled": False})
    result = world.cycle()
    assert result.metrics.quality is None
    assert "Postmortem quality" not in world.summary_pages()[0]


def test_report_json_has_the_findings(make_world, tmp_path, capsys):
    world = make_world(pages(), sprint=False)
    world.cycle()
    config = world.write_config(tmp_path / "c.toml")
    capsys.readouterr()
    assert main(["report", "--json", "--config", str(config)]) == 0
    report = json.loads(capsys.readouterr().out)
    (shaky,) = report["quality"]
    assert shaky["title"] == SHAKY and shaky["incident_date"] == INCIDENT and shaky["page_id"]
    assert [f["code"] for f in shaky["findings"]] == ["vague-item", "human-error-root-cause"]
    assert shaky["findings"][0]["items"] == [VAGUE] and shaky["findings"][0]["sentence"].startswith("1 of 2")
    config_off = world.write_config(tmp_path / "off.toml", quality={"enabled": False})
    assert main(["report", "--json", "--config", str(config_off)]) == 0
    assert json.loads(capsys.readouterr().out)["quality"] is None


def test_the_due_date_is_checked_against_the_incident(make_world):
    early = (date.today() - timedelta(days=5)).isoformat()
    world = make_world({"p.xml": table_page("Postmortem: dates", [SPECIFIC], due=early, before=DETAILS)}, sprint=False)
    (quality,) = world.cycle().metrics.quality
    assert quality.codes == ("due-before-incident",)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_archived_postmortem_gets_no_panel_and_costs_no_request(make_world, flavor):
    """Confluence refuses edits to an archived page (404): its findings stay on the summary, but asking to annotate
    it every cycle would only cost requests (and, sorted first, hold the other pages' panels back)."""
    shaky = table_page("Postmortem: shaky", [VAGUE, SPECIFIC], before=DETAILS + ROOT_CAUSE)
    world = make_world({"a.xml": shaky}, flavor=flavor, sprint=False,
                       sync={"lease_minutes": 0, "full_reconcile_every": 1})
    world.cycle()
    page_id = world.page_id("Postmortem: shaky")
    world.sb.archive_page(page_id)
    world.cycle()  # the full reconcile finds it archived
    world.daemon.restart(replaced(world.daemon.settings, quality={"annotate_pages": True},
                                  sync={"full_reconcile_every": 1000}))
    measured = []
    for _ in range(2):
        world.sb.reset_stats()
        result = world.cycle()
        assert result.ok, world.sb.stats()["by_route"]
        assert not [route for route in world.sb.stats()["by_route"] if "content/{id}" in route or "pages/{id}" in route]
        measured += [result.metrics] if result.metrics else []  # `once` skips a settled conclusion (sync.settled)
    with world.sb.state.lock:
        assert PANEL_TITLE not in world.sb.state.confluence.pages[page_id].body
    assert any(q.page_id == page_id for q in measured[0].quality)
