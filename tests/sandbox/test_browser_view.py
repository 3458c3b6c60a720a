"""The browser view: storage format rendered as escaped HTML, checked directly and in headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
from lxml import html as lxml_html

from sandbox.browser.render import IssueInfo, RenderContext, render_storage
from tests.sandbox.sandbox_helpers import new_task

CHROMIUM = Path("/usr/bin/chromium")


def _dom(markup: str):
    return lxml_html.fromstring(f"<div>{markup}</div>")


def test_everything_from_the_page_is_escaped():
    body = (
        '<p onclick="x()">R&D <script>alert(1)</script><a href="javascript:alert(2)">go</a> &lt;b&gt;</p>'
        "<img src=x onerror=y>"
    )
    out = render_storage(body, RenderContext())
    dom = _dom(out)
    assert not dom.xpath("//script | //img | //*[starts-with(name(@*), 'on')] | //a[contains(@href, 'javascript')]")
    assert not any(name.startswith("on") for element in dom.iter() for name in element.attrib)
    assert "R&amp;D" in out and "&lt;b&gt;" in out and "alert(1)" in dom.text_content()


def test_macros_mentions_tasks_and_dates():
    body = (
        '<p><ac:link><ri:user ri:account-id="557058:abc" /></ac:link> <time datetime="2026-03-01" /></p>'
        '<ac:structured-macro ac:name="status"><ac:parameter ac:name="colour">Green</ac:parameter>'
        '<ac:parameter ac:name="title">DONE</ac:parameter></ac:structured-macro>'
        '<ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">OPS-7</ac:parameter></ac:structured-macro>'
        "<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>complete</ac:task-status>"
        "<ac:task-body>Ship <ac:placeholder>hint</ac:placeholder></ac:task-body></ac:task></ac:task-list>"
        '<ac:structured-macro ac:name="chart"><ac:rich-text-body><table><tr><th>Month</th><th>Closed</th></tr>'
        "<tr><td>Jan</td><td>4</td></tr><tr><td>Feb</td><td>7</td></tr></table>"
        "</ac:rich-text-body></ac:structured-macro>"
        '<ac:structured-macro ac:name="code"><ac:plain-text-body><![CDATA[<ac:task>not markup</ac:task>]]>'
        "</ac:plain-text-body></ac:structured-macro>"
    )
    issues = {"OPS-7": IssueInfo("Fix it", "In Progress", "indeterminate")}
    context = RenderContext(user_name={"557058:abc": "Ada Lovelace"}.get, issue=issues.get)
    dom = _dom(render_storage(body, context))
    assert dom.xpath("string(//span[@class='user-mention'])") == "@Ada Lovelace"
    assert dom.xpath("string(//time)") == "1 Mar 2026"
    assert dom.xpath("string(//span[contains(@class,'status-green')])") == "DONE"
    assert dom.xpath("//a[@href='/browse/OPS-7']")
    assert dom.xpath("string(//span[@class='jira-issue']//span[contains(@class,'status-blue')])") == "In Progress"
    assert dom.xpath("//li[contains(@class,'complete')]/input[@checked]") and "hint" not in dom.text_content()
    assert len(dom.xpath("//svg//rect")) == 2 and dom.xpath("//figure//table")
    assert dom.xpath("string(//pre/code)") == "<ac:task>not markup</ac:task>"


def test_body_view_expansion_renders_html(cloud, connect):
    clients = connect(cloud)
    page_id = next(p.id for p in cloud.state.confluence.pages.values() if p.labels)
    page = clients.confluence.get_page_by_id(page_id, expand="body.view")
    assert page["body"]["view"]["representation"] == "view" and "<table>" in page["body"]["view"]["value"]


def test_issue_page_shows_fields_links_and_comments(cloud, connect):
    clients = connect(cloud)
    fields = new_task("Fix <the> alert", labels=["pmsync-1"], duedate="2026-03-01", description="Why: <b>")
    key = clients.jira.issue_create(fields)["key"]
    page_url = f"{cloud.confluence_url}/spaces/PM/pages/1"
    clients.jira.create_or_update_issue_remote_links(key, page_url, "Postmortem page", global_id="g")
    clients.jira.issue_add_comment(key, "Removed from the page")
    dom = lxml_html.fromstring(requests.get(f"{cloud.url}/browse/{key}").text)
    assert dom.xpath("string(//h1)") == f"{key} Fix <the> alert"
    assert "To Do" in dom.xpath("string(//table[@class='issue-fields'])") and "pmsync-1" in dom.xpath("string(//table)")
    assert dom.xpath("//ul[@class='remote-links']/li/a/@href") == [f"{cloud.confluence_url}/spaces/PM/pages/1"]
    assert "Removed from the page" in dom.xpath("string(//div[@class='comment'])")
    assert requests.get(f"{cloud.url}/browse/OPS-999").status_code == 404


def test_space_lists_pages_with_links_that_api_webui_points_to(sandbox, connect):
    clients = connect(sandbox)
    dom = lxml_html.fromstring(requests.get(f"{sandbox.confluence_url}/spaces/PM").text)
    hrefs = dom.xpath("//table[@class='page-list']//a/@href")
    assert len(hrefs) == 14  # the parent page and the thirteen examples
    page = clients.confluence.get_page_by_id(next(iter(sandbox.state.confluence.pages)))
    view = requests.get(page["_links"]["base"] + page["_links"]["webui"])
    assert view.status_code == 200 and f"<h1 id=\"title-text\">{page['title']}</h1>" in view.text


@pytest.mark.browser
def test_headless_chromium_renders_a_seeded_postmortem(cloud, connect, tmp_path):
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        pytest.skip("chromium not installed: apt-get install chromium")
    clients = connect(cloud)
    key = clients.jira.issue_create(new_task("Point orders-api at the writer VIP"))["key"]
    page = next(p for p in cloud.state.confluence.pages.values() if p.title.startswith("Postmortem: orders-db"))
    parameter = f'<ac:parameter ac:name="key">{key}</ac:parameter>'
    macro = f'<ac:structured-macro ac:name="jira">{parameter}</ac:structured-macro>'
    written_back = page.body + f"<p>{macro}</p>"
    clients.confluence.put(f"rest/api/content/{page.id}", data={
        "id": page.id, "type": "page", "title": page.title, "version": {"number": 2, "minorEdit": True},
        "body": {"storage": {"value": written_back, "representation": "storage"}},
    })
    command = [
        str(CHROMIUM if CHROMIUM.exists() else shutil.which("chromium")), "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", f"{cloud.confluence_url}/spaces/PM/pages/{page.id}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=90)
    assert result.returncode == 0, result.stderr[-2000:]
    dom = lxml_html.fromstring(result.stdout)
    action_table = dom.xpath("//table[.//th[normalize-space()='Action'] and .//th[normalize-space()='Owner']]")
    assert action_table and "Point orders-api at the pgbouncer writer VIP" in action_table[0].text_content()
    owner = cloud.state.directory.by_account_id("557058:9b1e7c44-0a2f-4c3d-8e5b-6f7a1d2c3b90").display_name
    assert f"@{owner}" in [m.text_content() for m in action_table[0].xpath(".//span[@class='user-mention']")]
    assert dom.xpath("string(//span[contains(@class,'status-lozenge') and contains(@class,'status-red')])") == "SEV 2"
    assert action_table[0].xpath(".//a[@href='/browse/ORD-1183']")
    written = dom.xpath(f"//span[@class='jira-issue'][a[@href='/browse/{key}']]")
    assert written and "To Do" in written[0].text_content()
    assert "Version 2 (minor edit)" in dom.xpath("string(//p[@class='meta'])")
