"""Overdue reminders (issue #16, section 1): end to end on the sandbox in both flavours, and the pure rules.

An open issue past its due date gets one comment mentioning its assignee, with the postmortem's title and
link; again every `reminders.every_days`, at most `reminders.max` times; then one final comment that also
mentions the postmortem's owner (its owner field, else its author). Never on a done or flagged issue,
never twice for one step (the step's label on the issue says it was sent, even with the state deleted),
one request per reminder and nothing more on a cycle that sends none.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest

from sandbox.directory import API_USER
from sync.atlassian.jira_json import comment_markup
from sync.cli import render_plan_table
from sync.models import IssueSnapshot, Link, Owner, PageMeta, Postmortem
from sync.reminders import (
    ReminderRules,
    Sent,
    comment,
    next_step,
    plan_reminders,
    reminder_label,
    sent_steps,
)
from tests.harness import FLAVORS, table_row

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

ALICE = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"  # hwagner in the bundled users.json
BOB = "557058:f1cf1623-f9cc-a4c0-a936-7c72e691d7f1"  # nkaur
TITLE = "Postmortem: cache [stampede] {v2} | *hot*"  # wiki markup in a title must stay text
REMINDERS = {"enabled": True, "every_days": 7, "max": 3}
REMINDED = re.compile(r"^pmsync-reminded-(\d+|final)-\d{8}$")


def mention(flavor: str, account_id: str, username: str) -> str:
    attr = f'ri:account-id="{account_id}"' if flavor == "cloud" else f'ri:username="{username}"'
    return f"<ac:link><ri:user {attr} /></ac:link>"


def wiki_mention(flavor: str, account_id: str, username: str) -> str:
    return f"[~accountid:{account_id}]" if flavor == "cloud" else f"[~{username}]"


def day(offset: int) -> str:
    return (date.today() + timedelta(days=offset)).isoformat()


def pages(flavor: str) -> dict[str, str]:
    """A postmortem with an owner field and five items, and one without (its author is the owner)."""
    alice, bob = mention(flavor, ALICE, "hwagner"), mention(flavor, BOB, "nkaur")
    details = ('<ac:structured-macro ac:name="details"><ac:rich-text-body><table><tbody>'
               f"<tr><th>Postmortem owner</th><td>{bob}</td></tr></tbody></table></ac:rich-text-body>"
               "</ac:structured-macro>")
    rows = (table_row("Overdue item", alice, day(-3)) + table_row("Closed item", bob, day(-3))
            + table_row("Later item", alice, day(10)) + table_row("Removed item", bob, day(-3))
            + table_row("Unassigned item", "someone", day(-3)))
    table = "<h2>Action items</h2><table><tbody><tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
    return {
        "a.xml": f"<title>{TITLE.replace('&', '&amp;')}</title>\n{details}{table}{rows}</tbody></table>",
        "b.xml": f"<title>Postmortem: no owner</title>\n{table}{table_row('Author item', alice, day(-3))}"
                 "</tbody></table>",
    }


@pytest.fixture
def site(make_world, flavor):
    return make_world(pages(flavor), flavor=flavor, reminders=REMINDERS, sync={"lease_minutes": 0})


def comments(world, summary: str) -> list[str]:
    return [c.body.as_wiki() for c in world.issue(summary).comments]


def steps(world, summary: str) -> list[str]:
    return sorted(REMINDED.match(label).group(1) for label in world.issue(summary).labels if REMINDED.match(label))


def writes(world) -> dict[str, int]:
    return {route: n for route, n in world.sb.stats()["by_route"].items() if not route.startswith("GET ")}


def issue_edits(world) -> int:
    """Edits of one issue (PUT .../issue/{key}): a reminder is one, its comment and label together."""
    edits = [n for route, n in writes(world).items() if route.startswith("PUT ") and route.endswith("/{issueIdOrKey}")]
    return sum(edits)


def later(world, days: int) -> None:
    world.clock.offset += timedelta(days=days)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_overdue_items_are_reminded_every_week_then_once_with_the_owner(site, flavor):
    world = site
    world.cycle()  # creates the issues; they are known from the next cycle on
    world.transition_done(world.issue("Closed item").key)
    world.edit_page(TITLE, lambda body: re.sub(r"<tr><td>Removed item.*?</tr>", "", body))
    world.sb.reset_stats()
    second = world.cycle()
    sent = {r.issue_key for r in second.applied.reminded}
    assert sent == {world.issue(s).key for s in ("Overdue item", "Unassigned item", "Author item")}
    first = comments(world, "Overdue item")
    assert len(first) == 1 and first[0].startswith("Reminder 1 of 3: ")
    assert wiki_mention(flavor, ALICE, "hwagner") in first[0]
    page_url = world.sb.url + "/wiki"
    escaped = r"\[Postmortem: cache \\\[stampede\\\] \\\{v2\\\} \\\| \\\*hot\\\*\|"
    assert re.search(escaped + re.escape(page_url), first[0])
    assert "It has no assignee" in comments(world, "Unassigned item")[0]
    assert steps(world, "Overdue item") == ["1"]
    for quiet in ("Closed item", "Later item"):
        assert comments(world, quiet) == [] and steps(world, quiet) == []
    assert steps(world, "Removed item") == [] and len(comments(world, "Removed item")) == 1  # the removal note
    # one edit per reminder: comment and label together
    assert issue_edits(world) == 3 + 1  # three reminders and the removed item's label

    world.sb.reset_stats()
    assert not world.cycle().plan.reminders and world.sb.stats()["total"] <= 2  # the same day: quiet

    for step in ("2", "3"):
        later(world, 7)
        world.cycle()
        assert steps(world, "Overdue item")[-1] == step, steps(world, "Overdue item")
        assert comments(world, "Overdue item")[-1].startswith(f"Reminder {step} of 3: ")
    later(world, 7)
    world.cycle()
    final = comments(world, "Overdue item")[-1]
    assert final.startswith("Final reminder: ") and steps(world, "Overdue item") == ["1", "2", "3", "final"]
    assert wiki_mention(flavor, ALICE, "hwagner") in final and wiki_mention(flavor, BOB, "nkaur") in final
    author = comments(world, "Author item")[-1]  # no owner field: the page's author is the owner
    assert author.startswith("Final reminder: ")
    assert wiki_mention(flavor, API_USER.account_id, API_USER.username) in author
    later(world, 7)
    world.cycle()
    later(world, 30)
    world.cycle()
    assert len(comments(world, "Overdue item")) == 4  # three reminders and the final one, then nothing
    assert [c.split(":")[0] for c in comments(world, "Later item")] == ["Reminder 1 of 3", "Reminder 2 of 3",
                                                                        "Reminder 3 of 3", "Final reminder"]
    assert comments(world, "Closed item") == []


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_step_is_never_sent_twice_even_with_the_state_deleted(site):
    world = site
    world.cycle()
    world.cycle()
    assert len(comments(world, "Overdue item")) == 1
    world.daemon.forget_state()
    world.cycle()  # a full reconcile: the new state adopts the issues, their labels tell what was sent
    world.cycle()
    world.daemon.forget_state()
    world.cycle()
    assert len(comments(world, "Overdue item")) == 1 and steps(world, "Overdue item") == ["1"]
    later(world, 7)
    world.daemon.forget_state()
    world.cycle()
    world.cycle()
    assert steps(world, "Overdue item") == ["1", "2"] and len(comments(world, "Overdue item")) == 2


def test_the_lease_makes_a_new_instance_wait_for_the_search_after_reminders(make_world):
    """Without the state, only the label (a search) says a reminder was sent: a new holder waits the grace."""
    world = make_world(pages("cloud"), reminders=REMINDERS)
    world.cycle()
    world.cycle()
    assert len(comments(world, "Overdue item")) == 1
    world.daemon.stop()  # releases the lease, recording when its last search-only write was sent
    world.daemon.forget_state()
    blocked = world.attempt()
    assert any(p.kind.value == "lease-handover" for p in blocked.problems), blocked.problems
    world.clock.offset += timedelta(minutes=world.settings.sync.search_lag_grace_minutes + 1)
    world.cycle()
    assert len(comments(world, "Overdue item")) == 1


def test_reminders_off_sends_none(make_world):
    world = make_world(pages("cloud"), reminders={"enabled": False}, sync={"lease_minutes": 0})
    world.cycle()
    later(world, 30)
    result = world.cycle()
    assert not result.plan.reminders and all(not issue.comments for issue in world.managed())


def test_quiet_cycle_with_reminders_on_costs_at_most_two_requests(make_world):
    """The issue's cost rule: one request per reminder sent, nothing more on a cycle that sends none."""
    world = make_world(pages("cloud"), reminders=REMINDERS)
    world.cycle()
    world.sb.reset_stats()
    second = world.cycle()
    assert second.plan.reminders and not (second.plan.creates or second.plan.updates or second.plan.write_backs)
    assert issue_edits(world) == len(second.plan.reminders) == len(second.applied.reminded) == 5
    assert not [route for route in writes(world) if "/comment" in route]  # no comment sent on its own
    world.sb.reset_stats()
    third = world.cycle()
    assert third.plan.is_empty and writes(world) == {}
    assert world.sb.stats()["total"] <= 2  # incremental CQL + incremental JQL


def test_plan_lists_the_reminders_a_cycle_would_send(make_world):
    world = make_world(pages("cloud"), reminders=REMINDERS, sync={"lease_minutes": 0})
    world.cycle()
    dry = world.daemon.attempt(apply=False)
    table = render_plan_table(dry.plan)
    assert table.count("reminder 1") == 5 and world.issue("Overdue item").key in table
    assert all(not comments(world, s) for s in ("Overdue item", "Author item"))  # a dry run sends nothing


# --- the pure rules ---------------------------------------------------------------------------------

DUE = date(2026, 3, 2)
NOW = datetime(2026, 3, 10, 9, tzinfo=UTC)


def rules(today: date, **changes) -> ReminderRules:
    values = {"every_days": 7, "max": 3, "today": today, "now": NOW, "grace": timedelta(minutes=15)}
    return ReminderRules(**{**values, **changes})


def test_step_timing_derives_from_the_due_date_and_the_last_step_sent():
    none = Sent(0, False, None)
    assert next_step(DUE, none, rules(DUE)) is None  # due today: not overdue yet
    assert next_step(DUE, none, rules(DUE + timedelta(days=1))) == (1, False)
    first = Sent(1, False, DUE + timedelta(days=1))
    assert next_step(DUE, first, rules(DUE + timedelta(days=7))) is None
    assert next_step(DUE, first, rules(DUE + timedelta(days=8))) == (2, False)
    # months late: one step at a time, every_days apart, never several at once
    late = Sent(1, False, DUE + timedelta(days=200))
    assert next_step(DUE, late, rules(DUE + timedelta(days=201))) is None
    assert next_step(DUE, late, rules(DUE + timedelta(days=207))) == (2, False)
    third = Sent(3, False, DUE + timedelta(days=15))
    assert next_step(DUE, third, rules(DUE + timedelta(days=22))) == (4, True)
    assert next_step(DUE, Sent(3, True, DUE), rules(DUE + timedelta(days=400))) is None
    assert next_step(DUE, Sent(3, False, DUE), rules(DUE + timedelta(days=400), max=2)) == (3, True)  # max lowered


def test_labels_tell_the_steps_sent():
    labels = ("pmsync", reminder_label(1, False, date(2026, 3, 3)), reminder_label(2, False, date(2026, 3, 10)),
              "pmsync-reminded-x-1", "pmsync-page-1")
    assert sent_steps(labels) == Sent(2, False, date(2026, 3, 10))
    assert reminder_label(4, True, date(2026, 3, 24)) == "pmsync-reminded-final-20260324"
    assert sent_steps(["pmsync-reminded-final-20260324"]) == Sent(0, True, date(2026, 3, 24))


def test_a_label_with_an_impossible_date_is_not_a_step_and_stops_nothing():
    labels = ("pmsync-reminded-1-20260231", reminder_label(1, False, date(2026, 3, 3)))
    assert sent_steps(labels) == Sent(1, False, date(2026, 3, 3))
    assert sent_steps(["pmsync-reminded-2-20261399"]) == Sent(0, False, None)


def snapshot(key: str = "OPS-1", **changes) -> IssueSnapshot:
    values = {"key": key, "summary": "s", "status": "To Do", "status_category": "new", "due": DUE,
              "labels": ("pmsync", "pmsync-0123456789ab", "pmsync-page-7"), "assignee": ALICE,
              "assignee_display": "Alice", "project": "OPS"}
    return IssueSnapshot(**{**values, **changes})


PAGE = Postmortem(title="PM [x]", page_id="7", url="https://wiki/x?a=1|2",
                  meta=PageMeta(owner=Owner(account_id=BOB, display="Bob")), author=Owner(account_id="author"))


def test_only_open_overdue_items_of_known_pages_are_reminded():
    today = DUE + timedelta(days=1)
    issues = {s.key: s for s in (
        snapshot("OPS-1"), snapshot("OPS-2", status_category="done"),
        snapshot("OPS-3", labels=("pmsync", "pmsync-0123456789ab", "pmsync-page-7", "pmsync-removed")),
        snapshot("OPS-4", due=today), snapshot("OPS-5", labels=("pmsync", "pmsync-epic-7")),
        snapshot("OPS-6", labels=("pmsync", "pmsync-0123456789ab", "pmsync-page-8")),  # page unknown
        snapshot("OPS-7", project="OTHER"), snapshot("OPS-8"), snapshot("OPS-9", due=None))}
    planned = plan_reminders(issues, {"7": PAGE}.get, {}, rules(today, projects=frozenset({"OPS"})),
                             skip=frozenset({"OPS-8"}))
    assert [r.issue_key for r in planned] == ["OPS-1"]
    assert planned[0].label == "pmsync-reminded-1-" + today.strftime("%Y%m%d")


def test_a_step_of_unknown_outcome_holds_its_issue_for_the_grace():
    today = DUE + timedelta(days=1)
    meta = {"OPS-1": '{"label": "pmsync-reminded-1-20260303", "at": "2026-03-10T09:00:00+00:00", "sent": false}'}
    assert plan_reminders({"OPS-1": snapshot()}, {"7": PAGE}.get, meta, rules(today)) == ()
    later_rules = rules(today, now=NOW + timedelta(minutes=16))
    assert [r.step for r in plan_reminders({"OPS-1": snapshot()}, {"7": PAGE}.get, meta, later_rules)] == [1]
    sent = {"OPS-1": meta["OPS-1"].replace('"sent": false', '"sent": true')}
    assert plan_reminders({"OPS-1": snapshot()}, {"7": PAGE}.get, sent, later_rules) == ()  # the search lags


def test_the_comment_is_wiki_markup_that_keeps_titles_as_text():
    today = DUE + timedelta(days=22)
    parts = comment(snapshot(), PAGE, 4, True, rules(today))
    cloud = comment_markup(parts, cloud=True)
    assert cloud.startswith("Final reminder: this action item of the postmortem [PM \\[x\\]|https://wiki/x?a=1%7C2]")
    assert "[~accountid:" + ALICE + "]" in cloud and "[~accountid:" + BOB + "] (postmortem owner)" in cloud
    assert "22 days overdue" in cloud
    datacenter = comment_markup(comment(snapshot(assignee="hwagner"), PAGE, 1, False, rules(today)), cloud=False)
    assert "[~hwagner]" in datacenter and datacenter.startswith("Reminder 1 of 3: ")
    plain = comment(snapshot(), Postmortem(title="t", page_id="7", meta=PageMeta(owner=Owner(display="{x}"))), 4,
                    True, rules(today))
    assert "\\{x\\} (postmortem owner)" in comment_markup(plain, cloud=True)
    assert Link("a", "b") not in plain  # no URL: the title as text


def test_the_state_reads_only_the_journal_entries_and_pages_asked_for(tmp_path):
    from sync.state import State

    state = State.open(tmp_path / "state.sqlite3")
    state.save_pages([PAGE, Postmortem(title="other", page_id="8")])
    assert list(state.pages_of({"7", "9"})) == ["7"] and state.pages_of({"7"})["7"].url == PAGE.url
    state.save_reminder("OPS-1", '{"step": 1}')
    state.save_reminder("OPS-2", '{"step": 2}')
    state.save_reminder("OPS-1", '{"step": 2}')  # one entry per issue: the latest step
    assert state.reminders(["OPS-1", "OPS-3"]) == {"OPS-1": '{"step": 2}'}
    state.close()
    again = State.open(tmp_path / "state.sqlite3")  # committed at once, as the journal must be
    assert again.reminders(["OPS-1", "OPS-2"]) == {"OPS-1": '{"step": 2}', "OPS-2": '{"step": 2}'}


# --- a search index that lags writes by 12 minutes -----------------------------------------------------

LAG_MS = 12 * 60_000


def lagging_site(tmp_path):
    """A Cloud sandbox whose JQL index lags 12 minutes, two postmortems of three overdue items."""
    from sandbox import running_sandbox
    from tests.harness import USERS, mixed_pages, seed
    from tests.test_windows import morning

    owner = json.loads(USERS.read_text())[0]["accountId"]
    folder = seed(tmp_path / "seed", mixed_pages(2, 3, owner, day(-3)))
    return running_sandbox(flavor="cloud", seed_dir=folder, search_lag_ms=LAG_MS, clock_offset_s=morning() + 86400)


def lag_daemon(sb, path, **sync):
    from sync.atlassian import make_adapters
    from sync.state import State
    from tests.harness import daemon_settings

    settings = daemon_settings(sb.url, path, sprint=False, reminders=REMINDERS, sync=sync)
    return settings, *make_adapters(settings), State.open(settings.sync.state_path)


def reminder_comments(sb) -> dict[str, int]:
    with sb.state.lock:
        return {i.key: len(i.comments) for i in sb.state.jira.issues.values() if "pmsync" in i.labels}


@pytest.mark.parametrize("lose_state", [False, True], ids=["state-kept", "state-deleted"])
def test_a_lagging_search_never_makes_a_reminder_go_twice(tmp_path, lose_state):
    """Reminders sent, then a cycle every 5 minutes: for 12 minutes the search shows the issues as they were
    before, without their step label. The journal (state kept), or the lease's wait for the search (state
    deleted: a new instance), keeps every step to one comment."""
    from sync.cycle import run_cycle

    with lagging_site(tmp_path) as sb:
        settings, jira, confluence, state = lag_daemon(sb, tmp_path / "a.sqlite3")
        assert run_cycle(settings, jira, confluence, state, now=sb.now).ok  # creates
        sb.advance_clock(timedelta(minutes=20))  # the index shows the issues as created
        sent = run_cycle(settings, jira, confluence, state, now=sb.now)
        assert len(sent.applied.reminded) == 6 and set(reminder_comments(sb).values()) == {1}
        if lose_state:
            from sync.lease import release

            release(confluence, state, sb.now())  # a clean shutdown, then the state file is lost
            state.close()
            settings, jira, confluence, state = lag_daemon(sb, tmp_path / "b.sqlite3")
        for _ in range(8):
            sb.advance_clock(timedelta(minutes=5))
            result = run_cycle(settings, jira, confluence, state, now=sb.now)
            assert not (result.applied and result.applied.reminded), result.plan.reminders
        assert set(reminder_comments(sb).values()) == {1}
        state.close()


def test_a_hand_made_label_with_an_impossible_date_does_not_stop_the_cycle(make_world):
    world = make_world(pages("cloud"), flavor="cloud", reminders=REMINDERS, sync={"lease_minutes": 0})
    world.cycle()
    key = world.issue("Overdue item").key
    typed = {"update": {"labels": [{"add": "pmsync-reminded-1-20260231"}]}}  # 31 February: not a date
    world.jira_client.put(f"rest/api/2/issue/{key}", data=typed)
    world.clock.offset += timedelta(minutes=5)
    assert world.attempt().ok


def test_a_cycle_sends_at_most_max_per_cycle_reminders_the_longest_overdue_first(make_world):
    """A backfilled archive is mostly overdue: its reminders are spread over cycles, none lost, none twice."""
    rows = "".join(table_row(f"Overdue {n}", "someone", day(-n - 1)) for n in range(5))
    table = "<h2>Action items</h2><table><tbody><tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
    world = make_world({"a.xml": f"<title>Postmortem: archive</title>\n{table}{rows}</tbody></table>"},
                       reminders={**REMINDERS, "max_per_cycle": 2}, sync={"lease_minutes": 0})
    world.cycle()  # creates the issues
    summaries = {world.issue(f"Overdue {n}").key: f"Overdue {n}" for n in range(5)}
    sent = [[summaries[r.issue_key] for r in world.cycle().applied.reminded] for _ in range(3)]
    assert [len(batch) for batch in sent] == [2, 2, 1]
    assert [summary for batch in sent for summary in batch] == [f"Overdue {n}" for n in (4, 3, 2, 1, 0)]
    last = world.cycle()
    assert last.applied is None or not last.applied.reminded
    assert all(steps(world, summary) == ["1"] for summary in summaries.values())
