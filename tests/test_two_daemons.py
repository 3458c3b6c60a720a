"""Two daemons against one site (a rolling deploy, or a second replica by mistake): no duplicates.

Each daemon has its own state file (its own instance), its own adapters and HTTP connections; they
run their cycles at the same moment, in threads, against one sandbox. The write lease (sync.lease)
lets exactly one of them write; the other reads and reports, then takes over when the first stops.
"""

from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sandbox.demo import sandbox_settings
from sync.atlassian import make_adapters
from sync.clock import passed_for_all
from sync.cycle import run_cycle
from sync.lease import release
from sync.problems import ProblemKind
from sync.state import State

USERS = Path(__file__).resolve().parents[1] / "sandbox" / "examples" / "users.json"
DUE = (date.today() + timedelta(days=30)).isoformat()
PAGES, ITEMS = 8, 5
LEASE_KINDS = {ProblemKind.LEASE_PAGE_MISSING, ProblemKind.LEASE_DENIED, ProblemKind.LEASE_LOST,
               ProblemKind.LEASE_FAILED, ProblemKind.LEASE_HELD, ProblemKind.LEASE_HANDOVER}


class Clock:
    """Wall time plus an offset the test moves forward, shared by the sandbox and both daemons."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(timezone.utc) + self.offset


class Daemon:
    def __init__(self, sb, folder: Path, clock: Clock) -> None:
        self.settings = sandbox_settings(sb.url, folder / "state.sqlite3", sprint=False)
        self.jira, self.confluence = make_adapters(self.settings)
        self.state = State.open(self.settings.sync.state_path)
        self.clock = clock

    def cycle(self):
        return run_cycle(self.settings, self.jira, self.confluence, self.state, now=self.clock, force=True)

    def stop(self) -> None:  # as `postmortem-sync run` does on SIGTERM: ended by the servers' clock
        release(self.confluence, self.state, passed_for_all(self.jira, self.clock()))


@pytest.fixture
def site(tmp_path):
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "users.json").write_text(USERS.read_text())
    for n in range(PAGES):
        rows = "".join(f"<tr><td>Item {i} of page {n}</td><td>owner</td><td>{DUE}</td></tr>" for i in range(ITEMS))
        (seed / f"{n}.xml").write_text(f"<title>Postmortem {n}</title>\n<h2>Action items</h2><table><tbody>"
                                       f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")
    with running_sandbox(flavor="cloud", seed_dir=seed, port=0, latency_ms=5) as sb:
        clock = Clock()
        sb.state.confluence.clock = sb.state.jira.clock = clock
        (tmp_path / "a").mkdir()
        (tmp_path / "b").mkdir()
        yield sb, clock, Daemon(sb, tmp_path / "a", clock), Daemon(sb, tmp_path / "b", clock)


def side_by_side(*daemons: Daemon) -> list:
    """One cycle of each daemon, started at the same instant."""
    start, results = threading.Barrier(len(daemons)), [None] * len(daemons)

    def run(index: int) -> None:
        start.wait()
        results[index] = daemons[index].cycle()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(daemons))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def assert_exactly_once(sb) -> None:
    with sb.state.lock:
        issues = [i for i in sb.state.jira.issues.values() if "pmsync" in i.labels]
        bodies = [p.body for p in sb.state.confluence.pages.values() if p.title.startswith("Postmortem ")]
        summaries = [p for p in sb.state.confluence.pages.values() if p.title == "Postmortem action items"]
    expected = sorted(f"Item {i} of page {n}" for n in range(PAGES) for i in range(ITEMS))
    assert sorted(i.summary for i in issues) == expected  # one issue per item, none twice
    written = [key for body in bodies for key in body.split('<ac:parameter ac:name="key">')[1:]]
    assert len(written) == len(expected)  # every key written back once
    assert len(summaries) == 1


def test_two_daemons_starting_together_create_each_issue_once(site):
    sb, clock, a, b = site
    first = side_by_side(a, b)
    writers = [r for r in first if r.applied is not None]
    assert len(writers) == 1, [r.problems for r in first]  # exactly one held the lease
    standby = next(r for r in first if r.applied is None)
    lease_lost = {ProblemKind.LEASE_HELD, ProblemKind.LEASE_LOST, ProblemKind.LEASE_FAILED}
    assert any(p.kind in lease_lost for p in standby.problems), standby.problems
    for minutes in (5, 10, 15):  # both keep running; the standby never writes while the lease is live
        clock.offset = timedelta(minutes=minutes)
        for result in side_by_side(a, b):
            assert result.ok or any(p.kind in LEASE_KINDS for p in result.problems), result.problems
    assert_exactly_once(sb)


def test_rolling_deploy_hands_over_after_the_search_lag_grace(site):
    sb, clock, old, new = site
    assert old.cycle().applied is not None  # the old version syncs alone
    held = new.cycle()  # the new pod starts while the old one still holds the lease
    assert held.applied is None and any(p.kind is ProblemKind.LEASE_HELD for p in held.problems), held.problems
    old.stop()  # SIGTERM: the old pod finishes its cycle and releases the lease
    wiki = sb.confluence_client()
    found = wiki.get("rest/api/content/search", params={"cql": 'title = "Postmortem 0"', "expand": "body.storage,version"})
    page = found["results"][0]
    body = page["body"]["storage"]["value"].replace("</tbody>", f"<tr><td>Item 5 of page 0</td><td>owner</td><td>{DUE}</td></tr></tbody>")
    wiki.put(f"rest/api/content/{page['id']}", data={
        "id": page["id"], "type": "page", "title": page["title"], "version": {"number": page["version"]["number"] + 1},
        "body": {"storage": {"value": body, "representation": "storage"}}})
    taking_over = new.cycle()  # takes the lease, but its reads may predate the old pod's last writes
    assert taking_over.applied is None and any(p.kind is ProblemKind.LEASE_HANDOVER for p in taking_over.problems)
    clock.offset = timedelta(minutes=16)  # past the 15-minute grace: the new pod writes, only what is new
    after = new.cycle()
    assert after.ok and after.applied is not None, after.problems
    assert [c.fields.summary for c in after.plan.creates] == ["Item 5 of page 0"]
    with sb.state.lock:
        issues = sorted(i.summary for i in sb.state.jira.issues.values() if "pmsync" in i.labels)
    assert issues == sorted([f"Item {i} of page {n}" for n in range(PAGES) for i in range(ITEMS)] + ["Item 5 of page 0"])


def test_a_killed_holder_blocks_writes_until_its_lease_expires(site):
    sb, clock, crashed, other = site
    assert crashed.cycle().applied is not None  # then SIGKILL: no release
    clock.offset = timedelta(minutes=10)
    assert other.cycle().applied is None  # 15-minute term not over yet
    clock.offset = timedelta(minutes=16)
    assert any(p.kind is ProblemKind.LEASE_HANDOVER for p in other.cycle().problems)
    clock.offset = timedelta(minutes=20)
    final = other.cycle()
    assert final.ok and final.plan.creates == (), final.problems
    assert_exactly_once(sb)
