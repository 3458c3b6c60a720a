"""Workflows per issue type: a Done transition whose screen requires a Resolution, transitions cached per
project and issue type, and Data Center's required Epic Name (docs/atlassian-behaviours.md, "Workflows").

The sandbox's Task and Epic share a screenless workflow (Done is transition 31); its Bug has other
transition ids, and its Resolve and Won't do transitions require a Resolution.
"""

from __future__ import annotations

import pytest

from sync.problems import ProblemKind
from tests.harness import FLAVORS

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

TITLE = "Postmortem: queue stall"


def task(number: int, text: str, *, done: bool = False, key: str | None = None) -> str:
    macro = (f'<ac:structured-macro ac:name="jira" ac:schema-version="1"><ac:parameter ac:name="key">{key}'
             "</ac:parameter></ac:structured-macro> ") if key else ""
    status = "complete" if done else "incomplete"
    return (f"<ac:task><ac:task-id>{number}</ac:task-id><ac:task-status>{status}</ac:task-status>"
            f"<ac:task-body>{macro}{text}</ac:task-body></ac:task>")


def task_page(*tasks: str, title: str = TITLE) -> dict[str, str]:
    return {"page.xml": f"<title>{title}</title>\n<h2>Follow-up actions</h2><ac:task-list>{''.join(tasks)}"
                        "</ac:task-list>"}


def tick(body: str, number: int) -> str:
    return body.replace(f"<ac:task-id>{number}</ac:task-id><ac:task-status>incomplete",
                        f"<ac:task-id>{number}</ac:task-id><ac:task-status>complete")


def create_bug(world, summary: str) -> str:
    """A Bug a person filed in Jira (the Bug workflow: Resolve requires a Resolution)."""
    fields = {"project": {"key": "OPS"}, "issuetype": {"name": "Bug"}, "summary": summary}
    return world.jira_client.post("rest/api/2/issue", data={"fields": fields})["key"]


def transition_requests(world) -> dict[str, int]:
    by_route = world.sb.stats()["by_route"]
    return {method: by_route.get(f"{method} /rest/api/2/issue/{{issueIdOrKey}}/transitions", 0)
            for method in ("GET", "POST")}


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_done_transition_that_requires_a_resolution_gets_the_configured_one(make_world, flavor):
    world = make_world(task_page(task(1, "Drain the queue", done=True), task(2, "Alert on queue age")),
                       flavor=flavor, sprint=False, jira={"issue_type": "Bug"})
    first = world.cycle()
    drained = world.issue("Drain the queue")
    assert drained.issuetype.name == "Bug" and drained.status.name == "Done", first.problems
    assert drained.resolution.name == "Done" and drained.resolutiondate is not None
    assert not [p for p in first.problems if p.kind is ProblemKind.TRANSITION_FAILED]

    world.edit_page(TITLE, lambda body: tick(body, 2))
    second = world.cycle()
    alert = world.issue("Alert on queue age")
    assert second.applied.transitioned == 1
    assert (alert.status.name, alert.resolution.name) == ("Done", "Done")


def test_the_resolution_comes_from_the_configuration(make_world):
    world = make_world(task_page(task(1, "Drain the queue", done=True)), sprint=False,
                       jira={"issue_type": "Bug", "done_resolution": "Duplicate"})
    world.cycle()
    assert world.issue("Drain the queue").resolution.name == "Duplicate"


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_removed_transition_gets_the_removed_resolution(make_world, flavor):
    world = make_world(task_page(task(1, "Drain the queue"), task(2, "Alert on queue age")), flavor=flavor,
                       sprint=False, jira={"issue_type": "Bug", "removed_transition": "Won't do",
                                           "removed_resolution": "Won't Do"})
    world.cycle()
    world.edit_page(TITLE, lambda body: body.replace(body[body.index("<ac:task><ac:task-id>2"):
                                                          body.index("</ac:task-list>")], ""))
    result = world.cycle()
    alert = world.issue("Alert on queue age")
    assert result.applied.flagged == 1
    assert (alert.status.name, alert.resolution.name) == ("Done", "Won't Do")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_two_issue_types_in_one_run_each_take_their_own_transition(make_world, flavor):
    world = make_world(task_page(task(1, "Placeholder")), flavor=flavor, sprint=False)
    bugs = [create_bug(world, f"Queue stall bug {n}") for n in range(2)]
    world.edit_page(TITLE, lambda body: body.replace(task(1, "Placeholder"), "".join([
        task(1, "Drain the queue", done=True), task(2, "Alert on queue age", done=True),
        task(3, "Fix the consumer", done=True, key=bugs[0]), task(4, "Fix the producer", done=True, key=bugs[1]),
    ])))
    world.sb.reset_stats()
    result = world.cycle()

    assert result.applied.transitioned == 2 and len(result.applied.created) == 2, result.problems
    for summary in ("Drain the queue", "Alert on queue age"):
        assert world.issue(summary).status.name == "Done"
    for n in range(2):
        bug = world.issue(f"Queue stall bug {n}")
        assert (bug.status.name, bug.resolution.name) == ("Done", "Done")
    # One read of the transitions per (project, issue type), then the cached one: never Task's on a Bug.
    assert transition_requests(world) == {"GET": 2, "POST": 4}


def test_a_cached_transition_the_issue_refuses_is_read_again(make_world):
    """A workflow changed under a running daemon: the cached id answers 400, the transitions are read again."""
    world = make_world(task_page(task(1, "Drain the queue", done=True), task(2, "Alert on queue age")),
                       sprint=False)
    world.cycle()
    alert = world.issue("Alert on queue age")
    with world.sb.state.lock:  # an admin moved the project's tasks to the Bug workflow
        from sandbox.jira.catalog import BUG
        alert.issuetype = BUG
    world.edit_page(TITLE, lambda body: tick(body, 2))
    result = world.cycle()
    assert result.applied.transitioned == 1, result.problems
    assert (alert.status.name, alert.resolution.name) == ("Done", "Done")


def test_data_center_epics_get_their_epic_name(make_world):
    world = make_world(task_page(task(1, "Drain the queue")), flavor="datacenter", sprint=False, epics=True)
    result = world.cycle()
    assert not [p for p in result.problems if p.kind is ProblemKind.EPIC_REJECTED], result.problems
    with world.sb.state.lock:
        epics = [i for i in world.sb.state.jira.issues.values() if i.issuetype.name == "Epic"]
    assert len(epics) == 1 and epics[0].epic_name == epics[0].summary
    assert world.issue("Drain the queue").parent_key == epics[0].key


def test_data_center_refuses_an_epic_without_its_epic_name(make_world):
    world = make_world(task_page(task(1, "Drain the queue")), flavor="datacenter")
    answer = world.jira_client.session.post(f"{world.url}/rest/api/2/issue", json={"fields": {
        "project": {"key": "OPS"}, "issuetype": {"name": "Epic"}, "summary": "Follow-ups"}})
    assert answer.status_code == 400
    assert answer.json() == {"errorMessages": [], "errors": {"customfield_10100": "Epic Name is required."}}


@pytest.mark.parametrize("flavor", FLAVORS)
def test_jira_refuses_a_transition_without_the_resolution_its_screen_requires(make_world, flavor):
    world = make_world(task_page(task(1, "Drain the queue")), flavor=flavor)
    key = create_bug(world, "Queue stall")
    transitions = world.jira_client.get(f"rest/api/2/issue/{key}/transitions",
                                        params={"expand": "transitions.fields"})["transitions"]
    resolve = next(t for t in transitions if t["name"] == "Resolve")
    assert resolve["fields"]["resolution"]["required"] is True
    assert {"Done", "Won't Do"} <= {v["name"] for v in resolve["fields"]["resolution"]["allowedValues"]}
    path = f"{world.url}/rest/api/2/issue/{key}/transitions"
    refused = world.jira_client.session.post(path, json={"transition": {"id": resolve["id"]}})
    assert refused.status_code == 400
    assert refused.json() == {"errorMessages": ["Field Resolution is required."], "errors": {}}
    task_key = world.jira_client.post("rest/api/2/issue", data={"fields": {
        "project": {"key": "OPS"}, "issuetype": {"name": "Task"}, "summary": "A task"}})["key"]
    off_screen = world.jira_client.session.post(f"{world.url}/rest/api/2/issue/{task_key}/transitions", json={
        "transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}})
    assert off_screen.status_code == 400 and "resolution" in off_screen.json()["errors"]
