"""Every endpoint the daemon uses x every transient fault: the world ends up exactly as without faults.

One scenario exercises every route: a first sync (bulk create, epics, sprint, write-back, summary page,
write lease), then user edits (a due date changed, a row removed, a task ticked on the page, a task's
issue done in Jira) and a second cycle. The reference run, without faults, records the routes it used;
each (route, fault) pair then runs the scenario with that fault injected into both cycles, followed
by recovery cycles, and the final Jira issues, pages and summary are compared with the reference.

The timeout fault is a request the sandbox never answers nor carries out (while the test runs): the
daemon gives up after its 1 s timeout, every time, whatever the load. Retry waits are recorded, not
slept, and checked: after a 429 or a 503 with Retry-After, at least a second.

All of it runs twice: against Confluence Cloud with its v1 content routes, and as a scoped API token
meets it, through the API gateway with v1 content retired (410), each against its own reference.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from pathlib import Path

import pytest

from tests.harness import SUMMARY_TITLE, World, running_world

DUE = (date.today() + timedelta(days=30)).isoformat()
LATER_DUE = (date.today() + timedelta(days=60)).isoformat()
TIMEOUT_SECONDS = 1  # the daemon's request timeout here
# A timed-out request is held far longer than the client waits (an hour against a second), so it is
# never answered, nor carried out, while the test runs: no race between the two clocks.
HOLD_MS = 3_600_000

FAULTS = {
    "429": {"status": 429, "headers": {"Retry-After": "1"}},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503, "headers": {"Retry-After": "0"}},
    "reset": {"reset": True},
    "timeout": {"delay_ms": HOLD_MS},
}
# Faults whose reply asks for a wait: every retry after one waits at least a second (Retry-After, or
# the floor the retry policy puts under Retry-After: 0).
SERVER_WAITS = {"429", "503"}


def table_page(n: int) -> str:
    rows = "".join(f"<tr><td>Item {i} of page {n}</td><td>owner{n}</td><td>{DUE}</td></tr>" for i in range(3))
    return (f"<title>Postmortem {n}</title>\n<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")


def task_page() -> str:
    tasks = "".join(f"<ac:task><ac:task-id>{i + 1}</ac:task-id><ac:task-status>incomplete</ac:task-status>"
                    f"<ac:task-body>Task {i} of the task page <time datetime=\"{DUE}\" /></ac:task-body></ac:task>"
                    for i in range(3))
    return f"<title>Postmortem tasks</title>\n<h2>Action items</h2><ac:task-list>{tasks}</ac:task-list>"


PAGES = {**{f"{n}.xml": table_page(n) for n in range(2)}, "tasks.xml": task_page()}


def user_edits(world: World) -> None:
    """What users do between the cycles, on both sides."""
    world.edit_page("Postmortem 0",
                    lambda body: re.sub(f"(Item 0 of page 0.*?){DUE}", rf"\g<1>{LATER_DUE}", body, count=1))
    world.edit_page("Postmortem 1", lambda body: re.sub(r"<tr><td>Item 2 of page 1.*?</tr>", "", body))
    world.edit_page("Postmortem tasks", lambda body: body.replace(
        "<ac:task-status>incomplete</ac:task-status><ac:task-body>Task 0",
        "<ac:task-status>complete</ac:task-status><ac:task-body>Task 0"))
    world.transition_done(world.issue("Task 1 of the task page").key)


def outcome(world: World) -> dict:
    """The world with issue keys replaced by the summaries they stand for: comparable across runs."""
    sb = world.sb
    with sb.state.lock:
        issues = list(sb.state.jira.issues.values())
        pages = {p.title: p.body for p in sb.state.confluence.pages.values()
                 if p.title.startswith("Postmortem") and p.title != SUMMARY_TITLE}
        summaries = [p for p in sb.state.confluence.pages.values() if p.title == SUMMARY_TITLE]
    by_key = {i.key: i.summary for i in issues}
    described = sorted(
        (i.summary, i.status.name, str(i.duedate), len(i.sprint_ids), by_key.get(i.parent_key or ""),
         tuple(sorted(label for label in i.labels if label == "pmsync-removed")), len(i.comments))
        for i in issues)
    keyed = re.compile(r'<ac:parameter ac:name="key">([A-Z]+-\d+)</ac:parameter>')
    bodies = {title: keyed.sub(lambda m: f"[{by_key.get(m.group(1), '?')}]", body) for title, body in pages.items()}
    return {"issues": described, "pages": bodies, "summary_pages": len(summaries)}


def scenario(world: World, fault: dict | None, route: str | None) -> dict:
    """A first sync, then user edits and the cycle after them: each cycle with the fault queued, then
    recovery cycles (creates held back by their intent wait out the search-lag grace) until all is quiet."""
    for phase in ("first sync", "after user edits"):
        if phase == "after user edits":
            user_edits(world)
        if fault:
            world.sb.inject_fault(match=route, count=1, **fault)
        world.attempt()
        world.sb.clear_faults()
        for _ in range(3):  # the third cycle is past the search-lag grace (15 minutes), then one more
            world.clock.offset += timedelta(minutes=8)
            last = world.attempt()
        assert last.ok and last.plan.is_empty, (phase, last.problems, last.plan)
    return outcome(world)


def run_world(folder: Path, fault: dict | None = None, route: str | None = None, *,
              v1_gone: bool = False) -> tuple[dict, dict, list[float]]:
    """The scenario in a new world: its outcome, the routes it used and the retry waits it asked for.

    The waits are recorded, not slept (the request sequence is the same): a Retry-After costs no real time.
    """
    with running_world(folder, PAGES, epics=True, sprint=True, record_waits=True, v1_content_gone=v1_gone,
                       sync={"request_timeout_seconds": TIMEOUT_SECONDS},
                       retry={"backoff_cap_seconds": 0.05}) as world:  # short backoffs keep the matrix fast
        world.sb.reset_stats()
        result = scenario(world, fault, route)
        return result, world.sb.stats()["by_route"], world.daemon.waits


REFERENCE: dict = {}  # per variant (v1 gone or not): the outcome and the routes used
VARIANTS = pytest.mark.parametrize("v1_gone", [False, True], ids=["v1 content", "v1 content gone"])


def reference(tmp_path: Path, v1_gone: bool = False) -> tuple[dict, list[str]]:
    if v1_gone not in REFERENCE:
        outcome, routes, _ = run_world(tmp_path / "reference", v1_gone=v1_gone)
        REFERENCE[v1_gone] = {"outcome": outcome,
                              "routes": sorted(r for r in routes if not r.split(" ")[1].startswith("/_"))}
    return REFERENCE[v1_gone]["outcome"], REFERENCE[v1_gone]["routes"]


@VARIANTS
def test_the_reference_scenario_does_what_users_expect(tmp_path, v1_gone):
    outcome, routes = reference(tmp_path, v1_gone)
    summaries = [i[0] for i in outcome["issues"]]
    items = [f"Item {i} of page {n}" for n in range(2) for i in range(3)]
    items += [f"Task {i} of the task page" for i in range(3)]
    assert sorted(s for s in summaries if s in items) == sorted(items)  # one issue per item
    assert len(summaries) == len(items) + 3  # and one epic per postmortem
    issues = {i[0]: i for i in outcome["issues"]}
    assert issues["Item 0 of page 0"][2] == LATER_DUE and issues["Item 1 of page 0"][2] == DUE
    assert issues["Task 0 of the task page"][1] == "Done"  # ticked on the page
    assert '<ac:task-status>complete</ac:task-status><ac:task-body>Task 1' in outcome["pages"]["Postmortem tasks"]
    assert all(i[3] == 1 and i[4] for name, i in issues.items() if name in items)  # in the sprint, under the epic
    removed = issues["Item 2 of page 1"]
    assert removed[5] == ("pmsync-removed",) and removed[6] == 1  # flagged once, with one comment
    assert "[Item 2 of page 1]" not in outcome["pages"]["Postmortem 1"]
    for title, body in outcome["pages"].items():
        for item in items:
            if item in body:
                assert body.count(f"[{item}]") == 1, (title, item)  # its key written back once
    assert outcome["summary_pages"] == 1
    assert len(routes) >= 12, routes


@pytest.mark.slow
@VARIANTS
@pytest.mark.parametrize("fault_name", sorted(FAULTS))
def test_every_route_with_a_transient_fault_ends_like_the_reference(tmp_path, fault_name, v1_gone):
    expected, routes = reference(tmp_path, v1_gone)
    differences, waits = {}, {}
    for route in routes:
        folder = tmp_path / f"{fault_name}-{routes.index(route)}"
        got, _, waits[route] = run_world(folder, FAULTS[fault_name], route, v1_gone=v1_gone)
        if got != expected:
            differences[route] = got
    assert not differences, {route: (got, expected) for route, got in differences.items()}
    if fault_name in SERVER_WAITS:
        assert all(wait >= 1 for route_waits in waits.values() for wait in route_waits), waits
    if fault_name == "429":  # always retried, whatever the method: each route waited out its 429
        assert all(waits.values()), waits
