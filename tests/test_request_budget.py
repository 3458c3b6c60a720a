"""The request budget as properties, at small N (bench/sync_bench.py measures the numbers at scale).

Time moves for both sides together: the sandbox's clocks and the daemon's `now` are shifted by the
same offset, so "once the 15-minute overlap has passed" needs no real waiting.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sandbox.demo import sandbox_settings
from sync.atlassian import make_adapters
from sync.cycle import run_cycle
from sync.state import State

PAGES, ITEMS_PER_PAGE, PAGE_SIZE, BULK = 60, 5, 50, 50
OWNER = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"
USERS = Path(__file__).resolve().parents[1] / "sandbox" / "examples" / "users.json"


def archive(folder: Path) -> None:
    folder.mkdir()
    (folder / "users.json").write_text(USERS.read_text())
    due = (date.today() + timedelta(days=20)).isoformat()
    for n in range(PAGES):
        rows = "".join(f'<tr><td>Action {i} of incident {n}</td><td><ac:link><ri:user ri:account-id="{OWNER}" />'
                       f'</ac:link></td><td><time datetime="{due}" /></td></tr>' for i in range(ITEMS_PER_PAGE))
        (folder / f"{n:03d}.xml").write_text(
            f"<title>Postmortem {n:03d}</title>\n<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")


class Clock:
    """Wall time plus an offset the test moves forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


@pytest.fixture
def world(tmp_path):
    archive(tmp_path / "seed")
    with running_sandbox(flavor="cloud", seed_dir=tmp_path / "seed", port=0) as sb:
        clock = Clock()
        sb.state.confluence.clock = clock
        sb.state.jira.clock = clock
        settings = sandbox_settings(sb.url, tmp_path / "state.sqlite3", sprint=False)
        jira, confluence = make_adapters(settings)
        state = State.open(settings.sync.state_path)

        def cycle(minutes_later: int = 0):
            clock.offset = timedelta(minutes=minutes_later)
            sb.reset_stats()
            result = run_cycle(settings, jira, confluence, state, now=clock)
            assert result.ok, result.problems
            return result, sb.stats()

        yield sb, cycle, clock


def test_first_sync_is_near_the_lower_bound_and_a_quiet_cycle_costs_two_requests(world):
    sb, cycle, clock = world
    items = PAGES * ITEMS_PER_PAGE
    _, first = cycle()
    # CQL pages with bodies + one JQL page + bulk creates + one write-back per page + summary (find + create)
    bound = math.ceil(PAGES / PAGE_SIZE) + 1 + math.ceil(items / BULK) + PAGES + 2
    assert first["total"] <= 1.3 * bound, first["by_route"]
    cycle(minutes_later=10)  # the cycles whose windows (the 15-minute overlap) still cover the first sync's writes:
    cycle(minutes_later=20)  # they read those pages again, but parse none of them (we wrote their versions)
    result, quiet = cycle(minutes_later=30)
    assert result.plan.is_empty
    assert quiet["total"] <= 2 and set(quiet["by_route"]) <= {"GET /wiki/rest/api/content/search",
                                                               "GET /rest/api/3/search/jql"}


def test_an_edit_cycle_costs_requests_for_what_changed_not_for_the_archive(world):
    sb, cycle, clock = world
    cycle()
    cycle(minutes_later=10)
    cycle(minutes_later=20)
    clock.offset = timedelta(minutes=25)
    wiki, jira = sb.confluence_client(), sb.jira_client()
    page = wiki.get("rest/api/content/search", params={"cql": 'title = "Postmortem 007"', "expand": "body.storage,version"})
    page = page["results"][0]
    body = page["body"]["storage"]["value"].replace("Action 2 of incident 7", "Action 2 of incident 7, reworded")
    wiki.put(f"rest/api/content/{page['id']}", data={
        "id": page["id"], "type": "page", "title": page["title"], "version": {"number": page["version"]["number"] + 1},
        "body": {"storage": {"value": body, "representation": "storage"}}})
    key = jira.get("rest/api/3/search/jql", params={"jql": "project = OPS", "maxResults": 1,
                                                    "fields": "summary"})["issues"][0]["key"]
    done = next(t for t in jira.get(f"rest/api/2/issue/{key}/transitions")["transitions"]
                if t["to"]["statusCategory"]["key"] == "done")
    jira.post(f"rest/api/2/issue/{key}/transitions", data={"transition": {"id": done["id"]}})
    result, edited = cycle(minutes_later=26)
    assert [u.changes for u in result.plan.updates] == [{"summary": "Action 2 of incident 7, reworded"}]
    # 1 CQL + 1 JQL + 1 issue update + the summary page (find + update) + renewing the write lease,
    # whose last write is over half a term ago (read + write): nothing scales with the archive
    assert edited["total"] <= 7, edited["by_route"]
    assert edited["by_route"].get("PUT /wiki/rest/api/content/{id}/property/{key}") == 1
