"""A custom `[[templates]]` page end to end: the write-back finds the rows the parser read, with the same templates."""

from __future__ import annotations

import re
from datetime import date, timedelta

from sync.atlassian import make_adapters
from sync.cli import main
from sync.cycle import run_cycle
from sync.settings import load_settings
from sync.state import State

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

ALICE = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"
DUE = (date.today() + timedelta(days=30)).isoformat()
TITLE = "Postmortem: signing key rollover"
REMEDIES = ("Rotate the signing keys every quarter", "Alert when a key is older than 80 days")
# No built-in template knows a "Remedy" column or a "Remedies" heading: only this one reads the page.
TEMPLATE = """
[[templates]]
name = "acme-remedies"
section_headings = ['\\bremedies\\b']
columns = { summary = ["Remedy"], owner = ["Owner"], due = ["Due"] }
"""
KEY = re.compile(r'<ac:parameter ac:name="key">([A-Z]+-\d+)</ac:parameter>')


def page() -> str:
    mention = f'<ac:link><ri:user ri:account-id="{ALICE}" /></ac:link>'
    rows = "".join(f'<tr><td>{text}</td><td>{mention}</td><td><time datetime="{DUE}" /></td></tr>' for text in REMEDIES)
    return (f"<title>{TITLE}</title>\n<h2>Summary</h2><p>The signing key expired.</p>"
            f"<h2>Remedies</h2><table><tbody><tr><th>Remedy</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")


def test_custom_template_rows_get_their_keys_written_back_once(tmp_path, make_world):
    world = make_world({"remedies.xml": page()})
    sb = world.sb
    # Every cycle a full reconcile, so the second one plans the page again rather than skipping it unchanged.
    config = world.write_config(tmp_path / "config.toml", state=tmp_path / "state.sqlite3",
                                sync={"full_reconcile_every": 1})
    config.write_text(config.read_text() + TEMPLATE)
    assert main(["once", "--config", str(config)]) == 0

    issues = sb.jira_client().get("rest/api/3/search/jql", params={
        "jql": "project = OPS", "fields": "summary", "maxResults": 100})["issues"]
    key_of = {issue["fields"]["summary"]: issue["key"] for issue in issues}
    assert sorted(key_of) == sorted(REMEDIES)
    found = sb.confluence_client().get("rest/api/content/search", params={
        "cql": f'space = PM and title = "{TITLE}"', "expand": "body.storage"})
    body = found["results"][0]["body"]["storage"]["value"]
    for text in REMEDIES:  # each row carries its own issue's Jira macro, once
        row = re.search(rf"<tr><td>{re.escape(text)}.*?</tr>", body).group(0)
        assert KEY.findall(row) == [key_of[text]], row
    assert len(KEY.findall(body)) == 2

    settings = load_settings(config)
    jira, confluence = make_adapters(settings)
    state = State.open(settings.sync.state_path)
    try:
        sb.reset_stats()
        second = run_cycle(settings, jira, confluence, state)
    finally:
        state.close()
    assert second.ok and second.full, second.problems
    assert not second.plan.write_backs and second.plan.is_empty, second.plan
    assert [route for route in sb.stats()["by_route"] if not route.startswith("GET ")] == []
