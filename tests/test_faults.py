"""Faults and hostile input through real HTTP: nothing duplicated, nothing lost, nothing injected."""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sandbox.demo import sandbox_settings
from sync.atlassian import make_adapters
from sync.cycle import run_cycle
from sync.problems import Problem, ProblemKind
from sync.state import State

USERS = Path(__file__).resolve().parents[1] / "sandbox" / "examples" / "users.json"
DUE = (date.today() + timedelta(days=30)).isoformat()
HOSTILE = 'Fix " OR project = X -- <script>alert(1)</script> ]]> \u202egnp.exe\u200b &amp; R&amp;D'


def page(n: int, summaries: list[str]) -> str:
    rows = "".join(f"<tr><td>{s}</td><td>owner{n}</td><td>{DUE}</td></tr>" for s in summaries)
    return (f"<title>Postmortem {n}</title>\n<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")


@pytest.fixture
def world(tmp_path):
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "users.json").write_text(USERS.read_text())
    for n in range(3):
        (seed / f"{n}.xml").write_text(page(n, [f"Item {i} of page {n}" for i in range(4)]))
    with running_sandbox(flavor="cloud", seed_dir=seed, port=0) as sb:
        settings = sandbox_settings(sb.url, tmp_path / "state.sqlite3", sprint=False)
        jira, confluence = make_adapters(settings)
        state = State.open(settings.sync.state_path)
        yield sb, lambda **kw: run_cycle(settings, jira, confluence, state, **kw)


def managed_issues(sb) -> list:
    with sb.state.lock:
        return [i for i in sb.state.jira.issues.values() if "pmsync" in i.labels]


def written_keys(sb) -> list[str]:
    with sb.state.lock:
        bodies = [p.body for p in sb.state.confluence.pages.values() if p.title.startswith("Postmortem ")]
    return [key for body in bodies for key in body.split('<ac:parameter ac:name="key">')[1:]]


def assert_exactly_once(sb, items: int = 12) -> None:
    issues = managed_issues(sb)
    assert len(issues) == items and len({i.summary for i in issues}) == items
    assert len(written_keys(sb)) == items


def test_429_burst_on_bulk_create_is_retried_after_retry_after(world):
    sb, cycle = world
    sb.inject_fault(match="POST /rest/api/2/issue/bulk", status=429, headers={"Retry-After": "1"}, count=2)
    started = time.monotonic()
    result = cycle()
    assert result.ok, result.problems
    assert time.monotonic() - started >= 2.0  # two Retry-After: 1 waits honoured
    assert_exactly_once(sb)


def test_500_on_create_is_not_resent_blindly_and_the_intent_recovers_later(world):
    sb, cycle = world
    sb.inject_fault(match="POST /rest/api/2/issue/bulk", status=500, count=1)
    first = cycle()
    assert any(p.kind is ProblemKind.CREATE_INTERRUPTED for p in first.problems), first.problems
    assert managed_issues(sb) == []
    soon = cycle()  # within the search-lag grace: the journal holds off a second create
    assert soon.plan.creates == () and any(p.kind is ProblemKind.CREATE_PENDING for p in soon.problems), \
        (soon.pages_seen, soon.problems)
    sb.advance_clock(timedelta(minutes=16))  # the servers' clock, which the daemon keeps time by
    cycle()  # grace passed and the label search found nothing: now it creates
    assert_exactly_once(sb)


@pytest.mark.parametrize("route, status", [
    ("GET /wiki/rest/api/content/search", 503),
    ("GET /rest/api/3/search/jql", 502),
    ("PUT /wiki/rest/api/content/{id}", 503),
    ("POST /wiki/rest/api/content", 500),
])
def test_server_errors_are_retried_or_fail_cleanly_and_the_next_cycle_completes(world, route, status):
    sb, cycle = world
    path = route.split(" ", 1)[1].split("{")[0].rstrip("/")
    sb.inject_fault(match=route.split(" ")[0] + " " + path, status=status, count=2)
    cycle()
    cycle()  # a POST is never re-sent within a cycle, so each cycle meets one of the two faults
    final = cycle()
    assert final.ok, final.problems
    assert_exactly_once(sb)


def test_connection_resets_are_retried(world):
    sb, cycle = world
    sb.inject_fault(match="GET /wiki/rest/api/content/search", reset=True, count=1)
    assert cycle().ok
    assert_exactly_once(sb)


def test_hostile_text_reaches_jira_verbatim_and_the_summary_page_escaped(world, tmp_path):
    sb, cycle = world
    wiki = sb.confluence_client()
    found = wiki.get("rest/api/content/search", params={"cql": 'title = "Postmortem 0"', "expand": "body.storage,version"})
    current = found["results"][0]
    body = current["body"]["storage"]["value"].replace("Item 0 of page 0", HOSTILE.replace("<", "&lt;").replace(">", "&gt;"))
    wiki.put(f"rest/api/content/{current['id']}", data={
        "id": current["id"], "type": "page", "title": current["title"], "version": {"number": current["version"]["number"] + 1},
        "body": {"storage": {"value": body, "representation": "storage"}}})
    result = cycle()
    assert result.ok, result.problems
    expected = 'Fix " OR project = X -- <script>alert(1)</script> ]]> \u202egnp.exe\u200b & R&D'
    assert expected in {i.summary for i in managed_issues(sb)}
    with sb.state.lock:
        summary = next(p.body for p in sb.state.confluence.pages.values() if p.title == "Postmortem action items")
    assert "<script>" not in summary and "alert(1)" not in summary or "&lt;script&gt;" in summary
    assert_exactly_once(sb)
    assert cycle().plan.is_empty


def test_a_broken_page_is_reported_and_the_others_sync(world):
    sb, cycle = world
    wiki = sb.confluence_client()
    parent = wiki.get("rest/api/content/search", params={"cql": 'title = "Postmortem 0"'})["results"][0]
    created = wiki.post("rest/api/content", data={
        "type": "page", "title": "Postmortem broken", "space": {"key": "PM"},
        "body": {"storage": {"value": "<h2>Action items</h2><table><tr><th>Action</th></tr><tr><td>Half a row",
                             "representation": "storage"}}})
    wiki.post(f"rest/api/content/{created['id']}/label", data=[{"prefix": "global", "name": "postmortem"}])
    assert parent
    result = cycle()
    assert result.ok
    assert Problem(ProblemKind.PAGE, created["id"], "malformed") in result.problems
    assert any(created["id"] in str(p) and "malformed" in str(p) for p in result.problems)
    assert len([i for i in managed_issues(sb) if i.summary.startswith("Item ")]) == 12
