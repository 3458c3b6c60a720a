"""End to end through real HTTP: the daemon's cycles against the sandbox, in both flavours, and on Cloud
once more as a scoped API token meets it: through the API gateway, with v1 content routes retired."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from sync.atlassian import make_adapters
from sync.cli import main
from sync.cycle import run_cycle
from sync.identity import MANAGED_LABEL, REMOVED_LABEL
from sync.parser import parse_file
from sync.problems import ProblemKind
from tests.harness import EXAMPLES, FLAVORS

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

PAST = (date.today() - timedelta(days=10)).isoformat()
FUTURE = (date.today() + timedelta(days=30)).isoformat()
ALICE = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"  # hwagner in the bundled users.json
BOB = "557058:f1cf1623-f9cc-a4c0-a936-7c72e691d7f1"  # nkaur


def mention(flavor: str, account_id: str, username: str) -> str:
    attr = f'ri:account-id="{account_id}"' if flavor == "cloud" else f'ri:username="{username}"'
    return f"<ac:link><ri:user {attr} /></ac:link>"


def small_page(flavor: str) -> str:
    """Three table items (one done on the page, one overdue) and two tasks (one complete)."""
    alice, bob = mention(flavor, ALICE, "hwagner"), mention(flavor, BOB, "nkaur")
    return f"""<title>Postmortem: cache stampede</title>
<h2>Summary</h2><p>Things broke.</p>
<h2>Action items</h2>
<table><tbody>
<tr><th>Action</th><th>Owner</th><th>Due</th><th>Type</th><th>Status</th></tr>
<tr><td>Add request coalescing to the cache client</td><td>{alice}</td>\
<td><time datetime="{FUTURE}" /></td><td>Fix</td><td>Open</td></tr>
<tr><td>Alert on cache hit ratio below 80%</td><td>{bob}</td>\
<td><time datetime="{PAST}" /></td><td>Detect</td><td>In progress</td></tr>
<tr><td>Write the stampede runbook</td><td>{alice}</td>\
<td><time datetime="{FUTURE}" /></td><td>Respond</td><td>Done</td></tr>
</tbody></table>
<h3>Follow-ups</h3>
<ac:task-list><ac:task><ac:task-id>1</ac:task-id><ac:task-status>incomplete</ac:task-status>\
<ac:task-body>Load test the coalescing path {bob} <time datetime="{FUTURE}" /></ac:task-body></ac:task>
<ac:task><ac:task-id>2</ac:task-id><ac:task-status>complete</ac:task-status>\
<ac:task-body>Share the timeline with support {alice} <time datetime="{FUTURE}" /></ac:task-body></ac:task>\
</ac:task-list>
"""


@pytest.fixture(params=[*FLAVORS, "cloud-v1-gone"])
def variant(request) -> str:
    return request.param


@pytest.fixture
def world(make_world, variant):
    flavor, v1_gone = variant.removesuffix("-v1-gone"), variant.endswith("-v1-gone")
    return make_world({"cache.xml": small_page(flavor)}, flavor=flavor, v1_content_gone=v1_gone)


def issues_of(world) -> list[dict]:
    fields = "summary,labels,assignee,duedate,status,priority"
    return world.search(f"project = OPS and labels = {MANAGED_LABEL}", fields)


def by_summary(world) -> dict[str, dict]:
    return {i["fields"]["summary"]: i for i in issues_of(world)}


def assignee(world, issue: dict) -> str | None:
    person = issue["fields"].get("assignee")
    return None if person is None else person.get("accountId" if world.flavor == "cloud" else "name")


def test_first_cycle_creates_one_issue_per_item_with_fields_and_summary(world):
    world.cycle()
    issues = by_summary(world)
    assert len(issues_of(world)) == 5
    coalescing = issues["Add request coalescing to the cache client"]
    assert coalescing["fields"]["duedate"] == FUTURE
    assert assignee(world, coalescing) == (ALICE if world.flavor == "cloud" else "hwagner")
    assert "pmsync-type-fix" in coalescing["fields"]["labels"]
    assert issues["Write the stampede runbook"]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert issues["Share the timeline with support"]["fields"]["status"]["statusCategory"]["key"] == "done"
    # every key written back into its row or task, once
    body = world.page("Postmortem: cache stampede")["body"]["storage"]["value"]
    for issue in issues_of(world):
        assert body.count(f'<ac:parameter ac:name="key">{issue["key"]}</ac:parameter>') == 1
    # hand count: 5 items, 2 done today before their due dates (runbook, timeline), 1 overdue, 3 open
    summary = world.page("Postmortem action items")["body"]["storage"]["value"]
    overview = re.search(r"<h2>Overview</h2>(.*?)</table>", summary, re.S).group(1)
    assert re.findall(r"<td>(.*?)</td>", overview)[:5] == ["40%", "100%", "3", "2", "1"]
    assert "2/5" in summary and "Alert on cache hit ratio below 80%" in summary


def test_second_cycle_makes_no_writes(world):
    world.cycle()
    world.sb.reset_stats()
    second = world.cycle()
    assert second.plan.is_empty
    routes = world.sb.stats()["by_route"]
    writes = {route: n for route, n in routes.items() if not route.startswith("GET ")}
    assert writes == {}
    assert world.sb.stats()["total"] <= 2  # incremental CQL + incremental JQL


def test_page_edits_flow_to_jira_and_jira_edits_survive(world):
    world.cycle()
    before = by_summary(world)
    hit_ratio_key = before["Alert on cache hit ratio below 80%"]["key"]
    # meanwhile in Jira: someone raises the priority of the runbook issue
    runbook_key = before["Write the stampede runbook"]["key"]
    world.jira_client.put(f"rest/api/2/issue/{runbook_key}", data={"fields": {"priority": {"name": "Highest"}}})
    new_due = (date.today() + timedelta(days=60)).isoformat()

    def edit(body: str) -> str:
        body = body.replace("Add request coalescing to the cache client",
                            "Add request coalescing to every cache client")
        body = body.replace(mention(world.flavor, BOB, "nkaur") + f'</td><td><time datetime="{PAST}"',
                            mention(world.flavor, ALICE, "hwagner") + f'</td><td><time datetime="{new_due}"')
        removed = re.search(r"<tr><td>Alert on cache hit ratio.*?</tr>", body).group(0)
        added = (f"<tr><td>Cap cache fill concurrency per key</td><td>{mention(world.flavor, BOB, 'nkaur')}</td>"
                 f'<td><time datetime="{FUTURE}" /></td><td>Prevent</td><td>Open</td></tr>')
        return body.replace(removed, added)

    # the removed row's issue keeps its ticket; the edited rows keep theirs (their keys are in the rows)
    world.edit_page("Postmortem: cache stampede", edit)
    second = world.cycle()
    after = by_summary(world)
    assert len(issues_of(world)) == 6  # one created, none deleted
    assert "Add request coalescing to every cache client" in after
    assert (after["Add request coalescing to every cache client"]["key"]
            == before["Add request coalescing to the cache client"]["key"])
    assert "Cap cache fill concurrency per key" in after
    flagged = next(i for i in issues_of(world) if i["key"] == hit_ratio_key)
    assert REMOVED_LABEL in flagged["fields"]["labels"]
    comments = world.jira_client.get(f"rest/api/2/issue/{hit_ratio_key}/comment")["comments"]
    assert len(comments) == 1
    assert after["Write the stampede runbook"]["fields"]["priority"]["name"] == "Highest"
    assert len(second.applied.created) == 1 and second.applied.flagged == 1
    # a third cycle flags nothing again
    assert world.cycle().plan.is_empty


def test_owner_and_due_edits_update_only_that_issue(world):
    world.cycle()
    key = by_summary(world)["Add request coalescing to the cache client"]["key"]
    new_due = (date.today() + timedelta(days=90)).isoformat()

    def edit(body: str) -> str:
        row = re.search(r"<tr><td>Add request coalescing.*?</tr>", body).group(0)
        changed = row.replace(mention(world.flavor, ALICE, "hwagner"), mention(world.flavor, BOB, "nkaur"))
        return body.replace(row, changed.replace(FUTURE, new_due))

    world.edit_page("Postmortem: cache stampede", edit)
    result = world.cycle()
    assert [u.record.issue_key for u in result.plan.updates] == [key]
    issue = by_summary(world)["Add request coalescing to the cache client"]
    assert issue["fields"]["duedate"] == new_due
    assert assignee(world, issue) == (BOB if world.flavor == "cloud" else "nkaur")


def test_done_in_jira_moves_completion_and_ticks_the_task(world):
    world.cycle()
    issues = by_summary(world)
    for summary in ("Add request coalescing to the cache client", "Load test the coalescing path"):
        world.transition_done(issues[summary]["key"])
    result = world.cycle()
    assert result.metrics.done == 4 and result.metrics.total == 5
    summary = world.page("Postmortem action items")["body"]["storage"]["value"]
    assert "4/5" in summary and "80%" in summary
    body = world.page("Postmortem: cache stampede")["body"]["storage"]["value"]
    assert "incomplete" not in body  # the load-test task is ticked on the page


def test_write_back_racing_a_user_edit_keeps_both(world):
    jira, confluence = make_adapters(world.settings)
    original_update = confluence.update_page
    raced = []

    def racing_update(page, body, **kwargs):
        if not raced:  # a user saves the page between our read and our write
            raced.append(True)
            world.edit_page(page.title, lambda b: b.replace("<p>Things broke.</p>", "<p>Things broke. USER EDIT</p>"))
        return original_update(page, body, **kwargs)

    confluence.update_page = racing_update
    result = run_cycle(world.settings, jira, confluence, world.state)
    assert result.ok and raced
    body = world.page("Postmortem: cache stampede")["body"]["storage"]["value"]
    assert "USER EDIT" in body
    for issue in issues_of(world):
        assert body.count(f'<ac:parameter ac:name="key">{issue["key"]}</ac:parameter>') == 1


class Crash(BaseException):
    """Stands for the process dying: not an Exception, so nothing in the cycle catches it."""


@pytest.mark.parametrize("lose_state", [False, True])
def test_crash_between_create_and_write_back_makes_no_duplicate(world, lose_state, tmp_path):
    jira, confluence = make_adapters(world.settings)

    def crash(*args, **kwargs):
        raise Crash()

    confluence.update_page = crash
    with pytest.raises(Crash):
        run_cycle(world.settings, jira, confluence, world.state)
    assert len(issues_of(world)) == 5  # created, but no key on the page yet
    if lose_state:
        world.daemon.forget_state()
        # A new instance now: it waits for the dead one's write lease to end, then for the search lag.
        blocked = world.cycle()
        assert blocked.applied is None and any(p.kind is ProblemKind.LEASE_HELD for p in blocked.problems)
        # Time passes on the servers' clock, which the daemon keeps time by (its `Date` headers).
        world.clock.offset += timedelta(minutes=16)
        world.cycle()  # the dead holder's lease has run out: taken over
        world.clock.offset += timedelta(minutes=16)
        world.cycle()  # past the search-lag grace (15 minutes) after taking over
    else:  # the intent journal alone must also hold off a re-create until Jira's index can be asked
        world.cycle()
        world.cycle()
    assert len(issues_of(world)) == 5
    body = world.page("Postmortem: cache stampede")["body"]["storage"]["value"]
    for issue in issues_of(world):
        assert body.count(f'<ac:parameter ac:name="key">{issue["key"]}</ac:parameter>') == 1


def test_plan_lists_creates_and_changes_nothing(world, tmp_path, capsys, monkeypatch):
    config = tmp_path / "sandbox.toml"
    config.write_text(Path("config/sandbox.toml").read_text().replace("http://127.0.0.1:8990", world.sb.url)
                      .replace('"state/sandbox.sqlite3"', json.dumps(str(tmp_path / "plan.sqlite3"))))
    world.sb.reset_stats()
    assert main(["plan", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.count("create") == 5 and "Add request coalescing" in out
    writes = [r for r in world.sb.stats()["by_route"] if not r.startswith("GET ")]
    assert writes == []
    assert issues_of(world) == []


def test_once_with_the_example_config_syncs_the_bundled_examples(make_world, tmp_path, monkeypatch):
    examples = make_world(flavor="cloud")
    config = tmp_path / "sandbox.toml"
    config.write_text(Path("config/sandbox.toml").read_text().replace("http://127.0.0.1:8990", examples.url)
                      .replace('"state/sandbox.sqlite3"', json.dumps(str(tmp_path / "s.sqlite3"))))
    assert main(["once", "--config", str(config)]) == 0
    expected = sum(1 for f in EXAMPLES.glob("*.xml") for item in parse_file(f).items if not item.jira_key)
    found = examples.jira_client.get("rest/api/3/search/jql", params={"jql": "project = OPS", "maxResults": 500})
    assert len(found["issues"]) == expected


def test_epic_per_postmortem_and_sprint(world):
    world.daemon.restart(world.settings_for(epics=True))
    world.cycle()
    epics = world.search("project = OPS and issuetype = Epic", "summary,labels")
    assert [e["fields"]["summary"] for e in epics] == ["Postmortem: cache stampede"]
    with world.sb.state.lock:
        issues = [i for i in world.sb.state.jira.issues.values() if i.issuetype.name != "Epic"]
        assert len(issues) == 5
        assert {i.parent_key for i in issues} == {epics[0]["key"]}
        assert all(i.sprint_ids for i in issues)  # added to the board's active sprint
    assert world.cycle().plan.is_empty  # the epic is found again by its label: no second epic


def test_write_back_off_links_issues_to_the_page_instead(world):
    world.daemon.restart(world.settings_for(write_back=False))
    world.cycle()
    body = world.page("Postmortem: cache stampede")["body"]["storage"]["value"]
    assert 'ac:name="jira"' not in body
    for issue in issues_of(world):
        links = world.jira_client.get(f"rest/api/2/issue/{issue['key']}/remotelink")
        assert len(links) == 1 and "/pages/" in links[0]["object"]["url"]
    assert world.cycle().plan.is_empty


def test_unknown_owner_gets_an_unassigned_ticket_and_a_report(world):
    ghost = mention(world.flavor, "557058:00000000-dead-beef-0000-000000000000", "ghost")
    world.edit_page("Postmortem: cache stampede", lambda body: body.replace(
        "</tbody></table>", f"<tr><td>Owned by nobody we know</td><td>{ghost}</td><td>{FUTURE}</td>"
                            "<td>Fix</td><td>Open</td></tr></tbody></table>", 1))
    result = world.cycle()
    issue = by_summary(world)["Owned by nobody we know"]
    assert issue["fields"].get("assignee") is None
    assert any(p.kind is ProblemKind.UNKNOWN_USER for p in result.problems)
    assert len(issues_of(world)) == 6
    assert world.cycle().plan.is_empty
