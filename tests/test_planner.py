"""The pure planner: table-driven scenarios over plain data, asserting the plan (the end state to write)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest

from sync.cli import render_plan_table
from sync.identity import MANAGED_LABEL, item_key, item_label, page_label
from sync.issue_fields import PlanOptions, page_record
from sync.models import ActionItem, IssueSnapshot, Owner, Postmortem
from sync.planner import plan_changes
from sync.problems import Problem, ProblemKind
from sync.state_view import StateView

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
OPTIONS = PlanOptions(project="OPS", priority_map={"P1": "High", "Fix": "Medium"}, default_priority="Low")
ALICE = Owner(account_id="acc-alice", display="Alice")
BOB = Owner(account_id="acc-bob")


def item(summary="Add alerting", *, origin="row:1:1", **fields) -> ActionItem:
    return ActionItem(summary=summary, owner=fields.pop("owner", ALICE), due=fields.pop("due", date(2026, 12, 1)),
                      origin=origin, **fields)


def page(*items, page_id="100", problems=()) -> Postmortem:
    return Postmortem(title="PM: outage", items=tuple(items), problems=tuple(problems), page_id=page_id,
                      url=f"https://wiki/pages/{page_id}")


def synced(pm: Postmortem, keys: list[str], *, options=OPTIONS):
    """State and Jira snapshots as they are right after a successful sync of pm."""
    records, snapshots = {}, {}
    for it, issue_key in zip(pm.items, keys, strict=True):
        k = item_key(pm.page_id, it)
        record = page_record(pm.page_id, k, it, issue_key, options)
        records[k] = record
        labels = (MANAGED_LABEL, item_label(k), page_label(pm.page_id)) + ((record.type,) if record.type else ())
        snapshots[issue_key] = IssueSnapshot(
            key=issue_key, summary=it.summary, status="To Do", status_category="new", labels=labels,
            assignee=it.owner.account_id if it.owner else None, due=it.due, priority=record.priority,
            created=NOW - timedelta(days=1))
    return StateView(items=records), snapshots


def test_first_cycle_creates_one_issue_per_item_with_fields():
    pm = page(item("Fix the pool", priority="P1", type="Fix"), item("Write runbook", origin="row:1:2", owner=None))
    plan = plan_changes([pm], {}, StateView(), OPTIONS, NOW)
    assert [c.fields.summary for c in plan.creates] == ["Fix the pool", "Write runbook"]
    first = plan.creates[0].fields
    assert first.assignee == ALICE and first.due == date(2026, 12, 1) and first.priority == "High"
    assert set(first.labels) >= {MANAGED_LABEL, page_label("100"), item_label(plan.creates[0].record.item_key),
                                 "pmsync-type-fix"}
    assert "https://wiki/pages/100" in first.description and "Fix the pool" in first.description
    assert plan.creates[1].fields.assignee is None and plan.creates[1].fields.priority == "Low"
    assert [w.keys for w in plan.write_backs] == [(("row:1:1", plan.creates[0].record.item_key, "Fix the pool"),
                                                   ("row:1:2", plan.creates[1].record.item_key, "Write runbook"))]


def test_unchanged_second_cycle_plans_nothing():
    pm = page(item(jira_key="OPS-1"), item("Second", origin="row:1:2", jira_key="OPS-2"))
    state, snapshots = synced(pm, ["OPS-1", "OPS-2"])
    assert plan_changes([pm], snapshots, state, OPTIONS, NOW).is_empty


@pytest.mark.parametrize(
    "page_edit, jira_edit, expected_changes, expected_problem",
    [
        ({"due": date(2027, 1, 1)}, {}, {"due": date(2027, 1, 1)}, None),
        ({"owner": BOB}, {}, {"assignee": BOB}, None),
        ({"summary": "Add better alerting"}, {}, {"summary": "Add better alerting"}, None),
        ({"priority": "P1"}, {}, {"priority": "High"}, None),
        ({"due": date(2027, 1, 1)}, {"due": date(2027, 2, 1)}, None, Problem(ProblemKind.JIRA_WINS, "OPS-1", "due")),
        ({"summary": "Page text"}, {"summary": "Jira text"}, None, Problem(ProblemKind.JIRA_WINS, "OPS-1", "summary")),
        ({}, {"due": date(2027, 2, 1)}, None, None),  # changed in Jira only: Jira keeps it
    ],
)
def test_three_way_compare(page_edit, jira_edit, expected_changes, expected_problem):
    original = page(item(jira_key="OPS-1"))
    state, snapshots = synced(original, ["OPS-1"])
    snapshots["OPS-1"] = replace(snapshots["OPS-1"], **jira_edit)
    edited = page(replace(original.items[0], **page_edit))
    plan = plan_changes([edited], snapshots, state, OPTIONS, NOW)
    assert [u.changes for u in plan.updates] == ([expected_changes] if expected_changes else [])
    if expected_problem:
        assert expected_problem in plan.problems
    else:
        assert not any(p.kind is ProblemKind.JIRA_WINS for p in plan.problems)


def test_removed_item_is_flagged_once_and_never_on_a_failed_or_malformed_page():
    pm = page(item(jira_key="OPS-1"), item("Gone soon", origin="row:1:2", jira_key="OPS-2"))
    state, snapshots = synced(pm, ["OPS-1", "OPS-2"])
    shorter = page(pm.items[0])
    plan = plan_changes([shorter], snapshots, state, OPTIONS, NOW)
    assert [f.record.issue_key for f in plan.flags] == ["OPS-2"] and plan.flags[0].record.flagged
    assert plan_changes([shorter], snapshots, state, OPTIONS, NOW, failed_page_ids=frozenset({"100"})).flags == ()
    assert plan_changes([replace(shorter, problems=("malformed",))], snapshots, state, OPTIONS, NOW).flags == ()
    assert plan_changes([replace(shorter, problems=("table-too-large",))], snapshots, state, OPTIONS, NOW).flags == ()
    flagged = StateView(items={k: replace(r, flagged=r.issue_key == "OPS-2") for k, r in state.items.items()})
    assert plan_changes([shorter], snapshots, flagged, OPTIONS, NOW).flags == ()


def test_reappearing_item_is_unflagged():
    pm = page(item(jira_key="OPS-1"))
    state, snapshots = synced(pm, ["OPS-1"])
    state = StateView(items={k: replace(r, flagged=True) for k, r in state.items.items()})
    plan = plan_changes([pm], snapshots, state, OPTIONS, NOW)
    assert [u.record.issue_key for u in plan.unflags] == ["OPS-1"]


def test_key_on_page_is_adopted_and_unknown_key_reported_not_replaced():
    known = IssueSnapshot(key="ENG-7", summary="x", status="To Do", status_category="new", labels=("team",))
    pm = page(item(jira_key="ENG-7"), item("Other", origin="row:1:2", jira_key="ENG-404"))
    plan = plan_changes([pm], {"ENG-7": known}, StateView(), OPTIONS, NOW)
    assert [a.record.issue_key for a in plan.adopts] == ["ENG-7"]
    assert MANAGED_LABEL in plan.adopts[0].add_labels and "team" not in plan.adopts[0].add_labels
    assert plan.creates == () and Problem(ProblemKind.UNKNOWN_ISSUE, "ENG-404") in plan.problems


def test_crash_recovery_adopts_the_labelled_issue_even_without_state():
    pm = page(item())
    key = item_key("100", pm.items[0])
    orphan = IssueSnapshot(key="OPS-9", summary="Add alerting", status="To Do", status_category="new",
                           labels=(MANAGED_LABEL, item_label(key)))
    plan = plan_changes([pm], {"OPS-9": orphan}, StateView(), OPTIONS, NOW)
    assert plan.creates == () and [a.record.issue_key for a in plan.adopts] == ["OPS-9"]
    assert plan.write_backs[0].keys == (("row:1:1", key, "Add alerting"),)


def test_pending_intent_holds_off_a_second_create_until_the_grace_has_passed():
    pm = page(item())
    key = item_key("100", pm.items[0])
    young = StateView(intents={key: NOW - timedelta(seconds=30)})
    assert plan_changes([pm], {}, young, OPTIONS, NOW).creates == ()
    old = StateView(intents={key: NOW - OPTIONS.search_lag_grace})  # the cycle looked it up: not found
    assert len(plan_changes([pm], {}, old, OPTIONS, NOW).creates) == 1


def test_duplicate_labelled_issues_use_the_oldest_and_are_reported():
    pm = page(item())
    key = item_key("100", pm.items[0])
    make = lambda k, age: IssueSnapshot(key=k, summary="s", status="To Do", status_category="new",  # noqa: E731
                                        labels=(item_label(key),), created=NOW - timedelta(days=age))
    plan = plan_changes([pm], {"OPS-2": make("OPS-2", 1), "OPS-1": make("OPS-1", 2)}, StateView(), OPTIONS, NOW)
    assert plan.adopts[0].record.issue_key == "OPS-1"
    assert Problem(ProblemKind.DUPLICATE_ISSUES, key, "OPS-1,OPS-2") in plan.problems
    assert f"duplicate-issues:{key}:OPS-1,OPS-2" in map(str, plan.problems)


def test_done_on_the_page_transitions_and_done_in_jira_ticks_the_task():
    done_row = page(item(done=True))
    plan = plan_changes([done_row], {}, StateView(), OPTIONS, NOW)
    assert plan.creates[0].mark_done
    task = item("Task", origin="task:3", jira_key="OPS-1", done=False)
    state, snapshots = synced(page(task), ["OPS-1"])
    snapshots["OPS-1"] = replace(snapshots["OPS-1"], status="Done", status_category="done")
    plan = plan_changes([page(task)], snapshots, state, OPTIONS, NOW)
    assert plan.write_backs[0].complete == (("task:3", "Task"),)
    state2, snaps2 = synced(page(task), ["OPS-1"])
    plan = plan_changes([page(replace(task, done=True))], snaps2, state2, OPTIONS, NOW)
    assert [t.record.issue_key for t in plan.transitions] == ["OPS-1"]


def test_identical_rows_get_distinct_keys():
    pm = page(item("Same words"), item("Same words", origin="row:1:2"))
    plan = plan_changes([pm], {}, StateView(), OPTIONS, NOW)
    assert len({c.record.item_key for c in plan.creates}) == 2


def test_safety_limits_mark_the_plan_unsafe():
    pm = page(*(item(f"Item {n}", origin=f"row:1:{n}") for n in range(5)))
    plan = plan_changes([pm], {}, StateView(), replace(OPTIONS, max_creates=3), NOW)
    assert plan.unsafe_reason and "5 creates" in plan.unsafe_reason
    assert "UNSAFE" in render_plan_table(plan)


def test_write_back_off_plans_no_page_edit():
    plan = plan_changes([page(item())], {}, StateView(), replace(OPTIONS, write_back=False), NOW)
    assert len(plan.creates) == 1 and plan.write_backs == ()


def test_plan_table_lists_each_change():
    plan = plan_changes([page(item("Fix the pool"))], {}, StateView(), OPTIONS, NOW)
    table = render_plan_table(plan)
    assert "create" in table and "Fix the pool" in table
    assert render_plan_table(plan_changes([], {}, StateView(), OPTIONS, NOW)) == "Nothing to change."


def test_a_new_type_swaps_the_type_label_and_lost_identity_labels_come_back():
    original = page(item(jira_key="OPS-1", type="Bug"))
    state, snapshots = synced(original, ["OPS-1"])
    snapshots["OPS-1"] = replace(snapshots["OPS-1"], labels=tuple(
        label for label in snapshots["OPS-1"].labels if label != MANAGED_LABEL))  # someone removed it in Jira
    plan = plan_changes([page(replace(original.items[0], type="Fix"))], snapshots, state, OPTIONS, NOW)
    (update,) = plan.updates
    assert update.changes == {"priority": "Medium"}  # the priority map knows "Fix"
    assert update.add_labels == ("pmsync-type-fix", MANAGED_LABEL) and update.remove_labels == ("pmsync-type-bug",)
