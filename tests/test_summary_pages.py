"""The summary pages end to end, read as people read them: the browser view of the page (DOM assertions), once in
headless Chromium, and `report --json`; themes, recurrence, the trend by the postmortem's month, needs-attention
rows, one row per person, team pages written once and never on a no-change cycle, and `plan` by page title."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest
import requests
from lxml import html as lxml_html

from sync.cli import main
from tests.harness import FLAVORS, SUMMARY_TITLE

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

TEAM_TITLE = "Payments team: postmortem action items"
TEAM_PAGE = {"title": TEAM_TITLE, "space": "PM", "themes": ["payments"]}
WEBHOOKS = "Postmortem: payment webhooks timed out after the TLS library upgrade (2026-01-15)"
DOUBLE_CHARGE = "Incident postmortem – Duplicate card charges after payment-gateway retries (INC-5120)"
TLS_EXPIRY = "Postmortem 2026-01-27: expired TLS certificate on api.edge took the public API down for 47 minutes"
# Items per month of the postmortem (incident date, else the page's creation from its seed line): see sandbox/examples
EXAMPLE_MONTHS = {"2026-01": 11, "2026-02": 43, "2026-03": 10}  # by hand: 2026-03 is example 04 (5) and 13 (5)
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(params=FLAVORS)
def world(request, make_world):
    return make_world(flavor=request.param, summary_pages=[TEAM_PAGE])


def browser_view(world, title: str):
    """The page as the sandbox's browser view shows it, as a DOM."""
    page_id = world.page_id(title)
    return lxml_html.fromstring(requests.get(f"{world.sb.confluence_url}/spaces/PM/pages/{page_id}", timeout=30).text)


def section_table(dom, heading: str, column: str):
    """The table under an h2, found by one of its column headers; its rows as lists of cell elements."""
    tables = dom.xpath(f"//h2[normalize-space()='{heading}']/following-sibling::table"
                       f"[.//th[normalize-space()='{column}']][1]")
    assert tables, f"no table with column {column!r} under {heading!r}"
    return [row.xpath("./td") for row in tables[0].xpath(".//tr") if row.xpath("./td")]


def texts(cells) -> list[str]:
    return [" ".join(cell.text_content().split()) for cell in cells]


def test_the_summary_page_shows_themes_recurrence_trend_and_who_needs_to_act(world):
    world.cycle()
    dom = browser_view(world, SUMMARY_TITLE)
    headings = [" ".join(h.text_content().split()) for h in dom.xpath("//h2")]
    assert headings.index("By theme") < headings.index("Recurring") < headings.index("Monthly trend")
    themes = {texts(row)[0]: texts(row)[1:] for row in section_table(dom, "By theme", "Theme")}
    assert themes["payments"][0] == "2" and themes["tls"][0] == "2" and themes["database"][0] == "1"
    assert themes["orders-db"][0] == "1"  # a service named in the page properties is a theme too
    assert list(themes) == sorted(themes)
    recurring = [texts(row) for row in section_table(dom, "Recurring", "Before the next incident")]
    payments = recurring[[r[0] for r in recurring].index("payments"):][:2]
    assert [(r[1], r[2]) for r in payments] == [("2026-01-15", WEBHOOKS), ("2026-02-20", DOUBLE_CHARGE)]
    assert payments[0][4] == "NOT DONE BEFORE NEXT" and payments[1][4] == ""
    tls = recurring[[r[0] for r in recurring].index("tls"):][:2]
    assert [(r[1], r[2]) for r in tls] == [("2026-01-15", WEBHOOKS), ("2026-01-29", TLS_EXPIRY)]
    trend = {texts(row)[0]: texts(row)[1:] for row in section_table(dom, "Monthly trend", "Completion now")}
    assert len(trend) == 12
    for month, items in EXAMPLE_MONTHS.items():
        if month in trend:  # the window is the last 12 months
            assert int(trend[month][0]) == items
    assert trend[date.today().strftime("%Y-%m")][0] == "0"  # no tall bar for the month the tickets were created
    attention = section_table(dom, "Needs attention", "Owner")
    overdue = [row for row in attention if texts(row)[0].startswith("overdue since")]
    issue_link = ".//span[@class='jira-issue']/a[contains(@href, '/browse/')]"
    assert overdue and all(row[1].xpath(issue_link) for row in overdue)
    assert any(row[1].xpath(".//a[contains(@href, '/browse/OPS-')]") for row in overdue)
    links = {(a.text_content(), a.get("href")) for row in attention for a in row[4].xpath(".//a")}
    assert len(links) >= 2 and all(world.page_id(title) in href for title, href in links)  # the postmortem's URL
    assert any(row[3].xpath(".//span[@class='user-mention']") for row in attention)
    owners = texts(row[0] for row in section_table(dom, "By owner", "Owner"))
    assert len(owners) == len(set(owners))


def test_report_json_has_themes_recurrence_and_the_trend_by_month(world, tmp_path, capsys):
    world.cycle()
    capsys.readouterr()  # the daemon's own log lines
    config = world.write_config(tmp_path / "report.toml", state=tmp_path / "report.sqlite3")
    assert main(["report", "--json", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    themes = {t["theme"]: t for t in data["by_theme"]}
    assert themes["payments"]["postmortems"] == 2 and themes["payments"]["total"] == 9
    recurring = {r["theme"]: r["incidents"] for r in data["recurring"]}
    assert sorted(recurring) == ["payments", "tls"]
    assert [(i["date"], i["done_before_next"]) for i in recurring["payments"]] == [("2026-01-15", False),
                                                                                 ("2026-02-20", None)]
    months = {t["month"]: t for t in data["trend"]}
    assert set(months[next(iter(months))]) == {"month", "items", "done", "done_on_time", "completion"}
    for month, items in EXAMPLE_MONTHS.items():
        if month in months:
            assert months[month]["items"] == items
    assert data["attention"][0].keys() >= {"reason", "issue_key", "owner", "page_url"}


def test_a_team_page_is_written_once_and_not_again_on_a_cycle_without_change(world):
    first = world.cycle()
    assert first.scoped_written == [TEAM_TITLE]
    team = browser_view(world, TEAM_TITLE)
    assert "Scope: themes payments." in team.text_content()
    titles = texts(row[0] for row in section_table(team, "By postmortem", "Postmortem"))
    assert sorted(titles) == sorted([WEBHOOKS, DOUBLE_CHARGE])
    version = world.page(TEAM_TITLE)["version"]["number"]
    for minutes in (10, 20, 30):  # past the overlap: the last is a quiet cycle
        world.clock.offset = timedelta(minutes=minutes)
        world.sb.reset_stats()
        result = world.cycle()
        assert result.scoped_written == [] and not result.summary_written
    stats = world.sb.stats()
    assert stats["total"] <= 2, stats["by_route"]
    assert world.page(TEAM_TITLE)["version"]["number"] == version


def test_plan_names_postmortems_by_title_and_prints_no_none(world, tmp_path, capsys):
    config = world.write_config(tmp_path / "plan.toml", state=tmp_path / "plan.sqlite3")
    assert main(["plan", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert "None" not in out and WEBHOOKS[:60] in out
    creates = [line for line in out.splitlines() if line.startswith("create ")]
    assert creates and all("page " not in line.split("  ")[1] for line in creates)


def _person_page(flavor: str) -> str:
    person = 'ri:account-id="557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"' if flavor == "cloud" else \
        'ri:username="hwagner"'
    due = (date.today() + timedelta(days=30)).isoformat()
    plain = f"<ac:link><ri:user {person} /></ac:link>"
    named = (f"<ac:link><ri:user {person} />"
             "<ac:plain-text-link-body><![CDATA[Hanna]]></ac:plain-text-link-body></ac:link>")
    rows = "".join(f'<tr><td>{summary}</td><td>{owner}</td><td><time datetime="{due}" /></td></tr>'
                   for summary, owner in (("Add the alert", plain), ("Write the runbook", named)))
    return (f"<title>Postmortem: one person, two mentions</title>\n<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_one_row_per_person_when_mentions_differ_in_link_text(make_world, flavor):
    world = make_world({"person.xml": _person_page(flavor)}, flavor=flavor)
    world.cycle()
    rows = section_table(browser_view(world, SUMMARY_TITLE), "By owner", "Owner")
    assert len(rows) == 1 and texts(rows[0])[1] == "0/2"
    assert rows[0][0].xpath(".//span[@class='user-mention']")


@pytest.mark.browser
def test_headless_chromium_renders_the_summary_page_with_its_new_sections(make_world, tmp_path):
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    world = make_world(flavor="cloud", summary_pages=[TEAM_PAGE])
    world.cycle()
    url = f"{world.sb.confluence_url}/spaces/PM/pages/{world.page_id(SUMMARY_TITLE)}"
    command = [
        str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", url,
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = lxml_html.fromstring(result.stdout)
    recurring = [texts(row) for row in section_table(dom, "Recurring", "Before the next incident")]
    assert recurring[[r[0] for r in recurring].index("payments")][:3] == ["payments", "2026-01-15", WEBHOOKS]
    assert section_table(dom, "By theme", "Postmortems")
    assert dom.xpath("//h2[normalize-space()='Monthly trend']/following-sibling::figure[1]//svg//rect")
    attention = section_table(dom, "Needs attention", "Issue")
    assert any(row[1].xpath(".//span[@class='jira-issue']/a") for row in attention)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_team_page_titled_like_one_we_did_not_create_is_left_alone(make_world, flavor):
    from sync.problems import ProblemKind
    from tests.harness import item_pages

    world = make_world(item_pages(1, 2), flavor=flavor, sprint=False, summary_pages=[{"title": TEAM_TITLE}])
    theirs = world.confluence_client.post("rest/api/content", data={
        "type": "page", "title": TEAM_TITLE, "space": {"key": "PM"},
        "body": {"storage": {"value": "<p>Our team's own list.</p>", "representation": "storage"}}})
    result = world.attempt()
    assert [p.kind for p in result.problems if p.subject == theirs["id"]] == [ProblemKind.SUMMARY_NOT_OURS]
    assert result.summary_written and result.scoped_written == []  # the global page is written all the same
    with world.sb.state.lock:
        page = world.sb.state.confluence.pages[theirs["id"]]
        assert page.body == "<p>Our team's own list.</p>" and len(page.versions) == 1
