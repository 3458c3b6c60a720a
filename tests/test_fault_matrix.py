"""Every endpoint the daemon uses x every transient fault: the world ends up exactly as without faults.

One scenario exercises every route: a first sync (bulk create, epics, sprint, write-back, summary page,
write lease), then user edits (a due date changed, a row removed, a task ticked on the page, a task's
issue done in Jira) and a second cycle. The reference run, without faults, records the routes it used;
each (route, fault) pair then runs the scenario with that fault injected into both cycles, followed
by recovery cycles, and the final Jira issues, pages and summary are compared with the reference.
"""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sandbox.demo import sandbox_settings
from sync.atlassian import make_adapters
from sync.cycle import run_cycle
from sync.state import State

USERS = Path(__file__).resolve().parents[1] / "sandbox" / "examples" / "users.json"
DUE = (date.today() + timedelta(days=30)).isoformat()
LATER_DUE = (date.today() + timedelta(days=60)).isoformat()
SUMMARY_TITLE = "Postmortem action items"

FAULTS = {
    "429": {"status": 429, "headers": {"Retry-After": "1"}},
    "500": {"status": 500},
    "502": {"status": 502},
    "503": {"status": 503, "headers": {"Retry-After": "0"}},
    "reset": {"reset": True},
    "timeout": {"delay_ms": 1500},  # the daemon's request timeout is 1 s here
}


def table_page(n: int) -> str:
    rows = "".join(f"<tr><td>Item {i} of page {n}</td><td>owner{n}</td><td>{DUE}</td></tr>" for i in range(3))
    return (f"<title>Postmortem {n}</title>\n<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")


def task_page() -> str:
    tasks = "".join(f"<ac:task><ac:task-id>{i + 1}</ac:task-id><ac:task-status>incomplete</ac:task-status>"
                    f"<ac:task-body>Task {i} of the task page <time datetime=\"{DUE}\" /></ac:task-body></ac:task>"
                    for i in range(3))
    return f"<title>Postmortem tasks</title>\n<h2>Action items</h2><ac:task-list>{tasks}</ac:task-list>"


class Clock:
    """Wall time plus an offset the scenario moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


class World:
    """A seeded sandbox and the daemon's settings, adapters and state against it."""

    def __init__(self, sb, tmp_path: Path) -> None:
        self.sb = sb
        settings = sandbox_settings(sb.url, tmp_path / "state.sqlite3", epics=True, sprint=True)
        # Short timeouts and backoffs keep the matrix fast; Retry-After is still honoured (>= 1 s).
        self.settings = settings.model_copy(update={
            "sync": settings.sync.model_copy(update={"request_timeout_seconds": 1}),
            "retry": settings.retry.model_copy(update={"backoff_cap_seconds": 0.05})})
        self.clock = Clock()  # both sides' time, moved forward by the scenario
        sb.state.confluence.clock = sb.state.jira.clock = self.clock
        self.jira, self.confluence = make_adapters(self.settings)
        self.state = State.open(self.settings.sync.state_path)
        self.wiki, self.jira_client = sb.confluence_client(), sb.jira_client()

    def cycle(self):
        return run_cycle(self.settings, self.jira, self.confluence, self.state, now=self.clock)

    def edit_page(self, title: str, edit) -> None:
        found = self.wiki.get("rest/api/content/search", params={"cql": f'title = "{title}"',
                                                                 "expand": "body.storage,version"})["results"][0]
        self.wiki.put(f"rest/api/content/{found['id']}", data={
            "id": found["id"], "type": "page", "title": title, "version": {"number": found["version"]["number"] + 1},
            "body": {"storage": {"value": edit(found["body"]["storage"]["value"]), "representation": "storage"}}})

    def user_edits(self) -> None:
        """What users do between the cycles, on both sides."""
        self.edit_page("Postmortem 0", lambda body: re.sub(f"(Item 0 of page 0.*?){DUE}", rf"\g<1>{LATER_DUE}", body, count=1))
        self.edit_page("Postmortem 1", lambda body: re.sub(r"<tr><td>Item 2 of page 1.*?</tr>", "", body))
        self.edit_page("Postmortem tasks", lambda body: body.replace(
            "<ac:task-status>incomplete</ac:task-status><ac:task-body>Task 0",
            "<ac:task-status>complete</ac:task-status><ac:task-body>Task 0"))
        key = self.issue("Task 1 of the task page")["key"]
        done = next(t for t in self.jira_client.get(f"rest/api/2/issue/{key}/transitions")["transitions"]
                    if t["to"]["statusCategory"]["key"] == "done")
        self.jira_client.post(f"rest/api/2/issue/{key}/transitions", data={"transition": {"id": done["id"]}})

    def issues(self) -> list:
        with self.sb.state.lock:
            return [i for i in self.sb.state.jira.issues.values() if "pmsync" in i.labels]

    def issue(self, summary: str) -> dict:
        with self.sb.state.lock:
            found = [i for i in self.sb.state.jira.issues.values() if i.summary == summary]
        assert len(found) == 1, (summary, [i.key for i in found])
        return {"key": found[0].key}

    def outcome(self) -> dict:
        """The world with issue keys replaced by the summaries they stand for: comparable across runs."""
        with self.sb.state.lock:
            issues = list(self.sb.state.jira.issues.values())
            pages = {p.title: p.body for p in self.sb.state.confluence.pages.values()
                     if p.title.startswith("Postmortem") and p.title != SUMMARY_TITLE}
            summaries = [p for p in self.sb.state.confluence.pages.values() if p.title == SUMMARY_TITLE]
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
            world.user_edits()
        if fault:
            world.sb.inject_fault(match=route, count=1, **fault)
        world.cycle()
        world.sb.clear_faults()
        for _ in range(3):  # the third cycle is past the search-lag grace (15 minutes), then one more
            world.clock.offset += timedelta(minutes=8)
            last = world.cycle()
        assert last.ok and last.plan.is_empty, (phase, last.problems, last.plan)
    return world.outcome()


@pytest.fixture
def seed(tmp_path):
    folder = tmp_path / "seed"
    folder.mkdir()
    (folder / "users.json").write_text(USERS.read_text())
    for n in range(2):
        (folder / f"{n}.xml").write_text(table_page(n))
    (folder / "tasks.xml").write_text(task_page())
    return folder


def run_world(seed: Path, tmp_path: Path, fault: dict | None = None, route: str | None = None):
    with running_sandbox(flavor="cloud", seed_dir=seed, port=0) as sb:
        world = World(sb, tmp_path)
        sb.reset_stats()
        outcome = scenario(world, fault, route)
        return outcome, sb.stats()["by_route"]


REFERENCE: dict = {}


def reference(seed: Path, tmp_path: Path) -> tuple[dict, list[str]]:
    if not REFERENCE:
        outcome, routes = run_world(seed, tmp_path / "reference")
        REFERENCE.update(outcome=outcome, routes=sorted(r for r in routes if not r.split(" ")[1].startswith("/_")))
    return REFERENCE["outcome"], REFERENCE["routes"]


def test_the_reference_scenario_does_what_users_expect(seed, tmp_path):
    outcome, routes = reference(seed, tmp_path)
    summaries = [i[0] for i in outcome["issues"]]
    items = [f"Item {i} of page {n}" for n in range(2) for i in range(3)] + [f"Task {i} of the task page" for i in range(3)]
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


@pytest.mark.parametrize("fault_name", sorted(FAULTS))
def test_every_route_with_a_transient_fault_ends_like_the_reference(seed, tmp_path, fault_name):
    expected, routes = reference(seed, tmp_path)
    differences = {}
    for route in routes:
        folder = tmp_path / f"{fault_name}-{routes.index(route)}"
        got, _ = run_world(seed, folder, FAULTS[fault_name], route)
        if got != expected:
            differences[route] = got
    assert not differences, {route: (got, expected) for route, got in differences.items()}
