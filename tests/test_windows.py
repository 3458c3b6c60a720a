"""Incremental windows against sites in other time zones, with our clock off the servers': no edit missed, no duplicate.

Jira reads a date literal in the searching account's zone and Confluence in the site's (or the user's),
and our clock is never exactly the servers'. The matrix runs the daemon's life on one site: a first
sync, user edits on both sides spread over incremental cycles, a daemon that was down for 40 minutes,
and quiet cycles, with the account at UTC-8, UTC+5:30 and UTC+14 (the site in another of them) and our
clock 5 minutes ahead of and behind the servers'. Only incremental windows are under test: the full
reconcile, which would repair a miss, is pushed out of reach. After every cycle, every item on every
page has exactly one issue, with the page's words and due date, and the issues done in Jira are ticked.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sync.atlassian import make_adapters
from sync.clock import ServerClock
from sync.cycle import run_cycle
from sync.identity import MANAGED_LABEL, REMOVED_LABEL
from sync.parser import parse_page
from sync.state import State
from sync.state_codec import PAGE_FORMAT
from sync.window import covered, minutes_back, plan_window
from tests.harness import daemon_settings

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

USERS = Path(__file__).resolve().parents[1] / "sandbox" / "examples" / "users.json"
DUE = (date.today() + timedelta(days=30)).isoformat()
LATER = (date.today() + timedelta(days=45)).isoformat()
OWNER = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"
ZONES = {"UTC-8": "Etc/GMT+8", "UTC+5:30": "Asia/Kolkata", "UTC+14": "Pacific/Kiritimati"}
QUIET_ROUTES = {"GET /wiki/rest/api/content/search", "GET /rest/api/3/search/jql", "GET /rest/api/2/search"}


def morning() -> float:
    """A sandbox clock offset that starts the site's day at 06:00 UTC: the two hours of a test never cross
    midnight, when the summary page changes (what is overdue) and rightly costs a write."""
    now = datetime.now(UTC)
    six = now.replace(hour=6, minute=0, second=0, microsecond=0)
    return ((six if six > now else six + timedelta(days=1)) - now).total_seconds()


def row(text: str, due: str = DUE) -> str:
    owner = f'<ac:link><ri:user ri:account-id="{OWNER}" /></ac:link>'
    return f'<tr><td>{text}</td><td>{owner}</td><td><time datetime="{due}" /></td></tr>'


def task(number: int, text: str) -> str:
    return (f"<ac:task><ac:task-id>{number}</ac:task-id><ac:task-status>incomplete</ac:task-status>"
            f'<ac:task-body>{text} <time datetime="{DUE}" /></ac:task-body></ac:task>')


def seed(folder: Path) -> Path:
    folder.mkdir()
    (folder / "users.json").write_text(USERS.read_text())
    header = "<tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
    for name in ("A", "B"):
        rows = "".join(row(f"Item {i} of page {name}") for i in range(3))
        (folder / f"{name}.xml").write_text(f"<title>Postmortem {name}</title>\n<h2>Action items</h2>"
                                           f"<table><tbody>{header}{rows}</tbody></table>")
    tasks = "".join(task(i + 1, f"Task {i} of page C") for i in range(3))
    (folder / "C.xml").write_text(f"<title>Postmortem C</title>\n<h2>Action items</h2>"
                                  f"<ac:task-list>{tasks}</ac:task-list>")
    return folder


class Site:
    """One sandbox in the zones under test, and one daemon whose clock is `skew` off the sandbox's."""

    def __init__(self, sb, tmp: Path, skew: timedelta) -> None:
        self.sb = sb
        settings = daemon_settings(sb.url, tmp / "state.sqlite3", sprint=False)
        # Only the incremental windows are under test: no full reconcile comes to repair what they miss.
        sync = settings.sync.model_copy(update={"full_reconcile_every": 1000})
        self.settings = settings.model_copy(update={"sync": sync})
        self.jira, self.confluence = make_adapters(self.settings)
        self.state = State.open(self.settings.sync.state_path)
        self.ours = lambda: sb.now() + skew
        self.wiki, self.jira_client = sb.confluence_client(), sb.jira_client()

    def cycle(self):
        self.sb.reset_stats()
        result = run_cycle(self.settings, self.jira, self.confluence, self.state, now=self.ours)
        assert result.ok, result.problems
        return result

    def later(self, minutes: float) -> None:
        self.sb.advance_clock(timedelta(minutes=minutes))

    def edit(self, title: str, change) -> None:
        with self.sb.state.lock:
            page = next(p for p in self.sb.state.confluence.pages.values() if p.title == title)
            page_id, version, body = page.id, page.versions[-1].number, page.body
        self.wiki.put(f"rest/api/content/{page_id}", data={
            "id": page_id, "type": "page", "title": title, "version": {"number": version + 1},
            "body": {"storage": {"value": change(body), "representation": "storage"}}})

    def jira_done(self, summary: str) -> None:
        key = self.issue(summary).key
        done = next(t for t in self.jira_client.get(f"rest/api/2/issue/{key}/transitions")["transitions"]
                    if t["to"]["statusCategory"]["key"] == "done")
        self.jira_client.post(f"rest/api/2/issue/{key}/transitions", data={"transition": {"id": done["id"]}})

    def issue(self, summary: str):
        with self.sb.state.lock:
            found = [i for i in self.sb.state.jira.issues.values() if i.summary == summary]
        assert len(found) == 1, (summary, [i.key for i in found])
        return found[0]

    def assert_in_sync(self, moment: str) -> None:
        """Every item on every page has exactly one issue, as the page says; what Jira finished is ticked."""
        with self.sb.state.lock:
            pages = [(p.title, p.body) for p in self.sb.state.confluence.pages.values()
                     if p.title.startswith("Postmortem ")]
            issues = {i.key: i for i in self.sb.state.jira.issues.values() if MANAGED_LABEL in i.labels}
        live = {key: issue for key, issue in issues.items() if REMOVED_LABEL not in issue.labels}
        items = [item for title, body in pages for item in parse_page(body, title=title).items]
        keys = [item.jira_key for item in items]
        assert None not in keys and len(set(keys)) == len(keys), (moment, "an item without its key, or a key twice")
        assert set(keys) == set(live), (moment, "an issue per item, no more", sorted(keys), sorted(live))
        for item in items:
            issue = live[item.jira_key]
            assert issue.summary == item.summary, (moment, "missed a reword", item.summary, issue.summary)
            assert str(issue.duedate) == str(item.due), (moment, "missed a due date", item.summary)
            if item.origin.startswith("task:"):
                assert bool(item.done) == (issue.status.category.key == "done"), (moment, "tick", item.summary)


def life_of_a_site(site: Site) -> list[dict]:
    """A first sync, edits on both sides between incremental cycles, 40 minutes down, then quiet; the request counts."""
    requests = []

    def cycle_and_check(moment: str):
        result = site.cycle()
        requests.append(site.sb.stats())
        site.assert_in_sync(moment)
        return result

    cycle_and_check("first sync")
    site.later(5)
    cycle_and_check("re-reading our own write-backs")
    site.later(2)
    site.edit("Postmortem A", lambda body: body.replace("Item 0 of page A", "Item 0 of page A, reworded"))
    site.jira_done("Task 1 of page C")
    site.later(3)
    cycle_and_check("a reword, and a task done in Jira")
    site.later(4)
    site.edit("Postmortem B", lambda body: re.sub(f"(Item 1 of page B.*?){DUE}", rf"\g<1>{LATER}", body, count=1))
    site.edit("Postmortem A", lambda body: body.replace("</tbody>", row("Item 3 of page A") + "</tbody>"))
    site.jira_client.put(f"rest/api/2/issue/{site.issue('Item 2 of page A').key}",
                         data={"fields": {"priority": {"name": "Highest"}}})
    site.later(1)
    cycle_and_check("a new due date, a new row, a Jira-side priority")
    site.later(1)  # just after a cycle the daemon goes down for 40 minutes; a user edits meanwhile
    site.edit("Postmortem C", lambda body: body.replace("Task 2 of page C", "Task 2 of page C, reworded"))
    site.later(40)
    cycle_and_check("an edit made while the daemon was down")
    assert site.issue("Item 2 of page A").priority.name == "Highest"  # Jira's own edit survived
    for _ in range(2):
        site.later(20)
        quiet = cycle_and_check("quiet")
        assert quiet.plan.is_empty
    return requests


@pytest.mark.parametrize("skew_minutes", [-5, 5], ids=["our-clock-behind", "our-clock-ahead"])
@pytest.mark.parametrize("zone", list(ZONES), ids=list(ZONES))
def test_no_edit_missed_and_no_duplicate_in_any_zone_with_our_clock_off(tmp_path, zone, skew_minutes):
    site_zone = ZONES["UTC+14" if zone != "UTC+14" else "UTC-8"]  # the site in yet another zone
    with running_sandbox(flavor="cloud", seed_dir=seed(tmp_path / "seed"), timezone=ZONES[zone],
                         site_timezone=site_zone, clock_offset_s=morning()) as sb:
        requests = life_of_a_site(Site(sb, tmp_path, timedelta(minutes=skew_minutes)))
    for stats in requests[-2:]:  # a quiet cycle: one CQL and one JQL request, never asked again
        assert stats["total"] == 2 and set(stats["by_route"]) <= QUIET_ROUTES, stats


@pytest.mark.parametrize("cql_timezone", ["site", "user"])
def test_data_center_and_either_cql_zone(tmp_path, cql_timezone):
    with running_sandbox(flavor="datacenter", seed_dir=seed(tmp_path / "seed"), timezone=ZONES["UTC-8"],
                         site_timezone=ZONES["UTC+5:30"], cql_timezone=cql_timezone, clock_offset_s=morning()) as sb:
        life_of_a_site(Site(sb, tmp_path, timedelta(minutes=-5)))


def test_a_server_clock_that_jumped_is_noticed_and_the_window_asked_again(tmp_path):
    """Our clock runs on, the servers' jumps 30 minutes ahead (a clock set while we ran): the Date header of
    the first answer shows the window was short, so the search is sent again reaching far enough."""
    with running_sandbox(flavor="cloud", seed_dir=seed(tmp_path / "seed"), clock_offset_s=morning()) as sb:
        site = Site(sb, tmp_path, timedelta())
        site.ours = lambda: datetime.now(UTC)  # the machine's clock, whatever the sandbox says
        site.cycle()
        site.later(5)
        site.cycle()
        site.later(10)
        site.edit("Postmortem A", lambda body: body.replace("Item 1 of page A", "Item 1 of page A, edited"))
        site.later(20)
        result = site.cycle()
        assert [u.changes for u in result.plan.updates] == [{"summary": "Item 1 of page A, edited"}]
        routes = sb.stats()["by_route"]
        assert routes["GET /wiki/rest/api/content/search"] == 2 and routes["GET /rest/api/3/search/jql"] == 2
        site.assert_in_sync("after the jump")
        assert site.cycle().plan.is_empty and sb.stats()["total"] == 2  # no jump since: each search sent once


def test_pages_we_wrote_are_read_again_in_the_overlap_without_a_parse_or_a_write(tmp_path, monkeypatch):
    import sync.page_parses

    parsed: list[str] = []
    real_parse = sync.page_parses.parse_page
    monkeypatch.setattr(sync.page_parses, "parse_page",
                        lambda body, **kw: parsed.append(kw["title"]) or real_parse(body, **kw))
    with running_sandbox(flavor="cloud", seed_dir=seed(tmp_path / "seed"), clock_offset_s=morning()) as sb:
        site = Site(sb, tmp_path, timedelta())
        first = site.cycle()
        assert first.applied.written_back == 3 and len(parsed) == 3 + 3  # each page as read, and as we wrote it
        parsed.clear()
        for minutes in (5, 5, 5):  # within the 15-minute overlap: the write-backs are read again
            site.later(minutes)
            again = site.cycle()
            assert again.pages_seen == 3 and again.plan.is_empty and parsed == []
            assert set(sb.stats()["by_route"]) <= QUIET_ROUTES
        site.edit("Postmortem B", lambda body: body.replace("Item 2 of page B", "Item 2 of page B!"))
        site.later(1)
        site.cycle()
        assert parsed == ["Postmortem B"]  # an edit by someone else is parsed, once


# --- the pure parts ---------------------------------------------------------------------------------


T0 = datetime.fromisoformat("2026-12-01T20:00:00+00:00")


def test_minutes_back_covers_the_elapsed_time_the_overlap_and_a_minute_to_spare():
    assert minutes_back(T0, T0 + timedelta(minutes=5, seconds=10), 15) == 15 + 6 + 1
    assert minutes_back(T0, T0, 0) == 2  # the margin: HTTP dates have whole seconds
    assert minutes_back(T0, T0 - timedelta(minutes=3), 15) == 17  # a clock behind the watermark: no negative window
    assert covered(22, T0, T0 + timedelta(minutes=5, seconds=10), 15)
    assert covered(22, T0, T0 + timedelta(minutes=6, seconds=50), 15)  # an estimate short by under a minute
    assert not covered(22, T0, T0 + timedelta(minutes=7), 15)


def test_watermarks_of_older_versions_start_with_a_full_reconcile():
    assert plan_window({"cycle": "3", "confluence_since": T0.isoformat()}, 12).full
    current = {"pages_seen_at": T0.isoformat(), "issues_seen_at": T0.isoformat(), "page_format": PAGE_FORMAT}
    window = plan_window({"cycle": "3", **current}, 12)
    assert not window.full and window.number == 4 and window.pages_since == T0
    assert plan_window({"cycle": "11", **current}, 12).full
    assert plan_window({"cycle": "3", **current, "page_format": "1"}, 12).full  # parses cached by an older version


def test_the_server_clock_keeps_the_latest_lower_bound_and_follows_a_clock_set_back():
    now = [100.0]
    clock = ServerClock(monotonic=lambda: now[0])
    assert clock.now() is None
    clock.observe(format_datetime(T0, usegmt=True))
    now[0] = 160.0
    assert clock.now() == T0 + timedelta(minutes=1)
    clock.observe(format_datetime(T0 + timedelta(seconds=59), usegmt=True))  # a Date 1 s behind: kept the bound
    assert clock.now() == T0 + timedelta(minutes=1)
    clock.observe(format_datetime(T0 + timedelta(minutes=31), usegmt=True))  # set forward
    assert clock.now() == T0 + timedelta(minutes=31)
    clock.observe(format_datetime(T0 + timedelta(minutes=2), usegmt=True))  # set back
    assert clock.now() == T0 + timedelta(minutes=2)
    clock.observe("not a date")
    assert clock.now() == T0 + timedelta(minutes=2)
