"""`check` on screens and workflows (sync/checks/workflow.py): a required field we would not fill, a field we
edit that the edit screen lacks, a Done transition whose required field we cannot fill, and Data Center's
Epic Name field; all pass on the default sandbox."""

from __future__ import annotations

import pytest

from sync.checks import Check, run_checks
from tests.harness import FLAVORS, World, item_pages

WORKFLOW_CHECKS = {"required fields", "edit screen", "done transition", "epic name"}


def checks(world: World, **options) -> list[Check]:
    daemon = world.add_daemon(f"check-{len(world.daemons)}", **options) if options else world.daemon
    return [c for c in run_checks(daemon.settings, daemon.jira, daemon.confluence) if c.name in WORKFLOW_CHECKS]


def failed(results: list[Check]) -> list[str]:
    return [c.message for c in results if not c.passed]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_workflow_checks_pass_on_the_default_sandbox(make_world, flavor):
    world = make_world(item_pages(1, 2), flavor=flavor, sprint=False, epics=True)
    before = checks(world)
    assert failed(before) == [], before
    assert any(c.name == "edit screen" and c.message.startswith("not checked") for c in before)
    world.cycle()
    after = checks(world)
    assert failed(after) == [], after
    names = {c.name for c in after}
    assert {"required fields", "edit screen", "done transition"} <= names
    assert ("epic name" in names) == (flavor == "datacenter")
    assert not [c for c in after if c.message.startswith("not checked") or "not checked" in c.message], after


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_required_custom_field_we_do_not_fill_is_named(make_world, flavor):
    world = make_world(item_pages(1, 1), flavor=flavor, sprint=False)
    world.sb.require_field("OPS", "customfield_10200", "Root cause")
    failures = failed(checks(world))
    assert len(failures) == 1 and "Root cause" in failures[0] and "OPS/Task" in failures[0], failures
    rejected = world.attempt()
    assert any("Root cause is required." in str(p) for p in rejected.problems), rejected.problems


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_done_transition_field_we_cannot_fill_is_named(make_world, flavor):
    world = make_world(item_pages(1, 1), flavor=flavor, sprint=False, jira={"issue_type": "Bug"})
    world.cycle()
    assert failed(checks(world)) == []  # Resolve requires a Resolution: Done is one of its values
    failures = failed(checks(world, jira={"issue_type": "Bug", "done_resolution": "Fixed"}))
    assert len(failures) == 1 and "OPS/Bug" in failures[0] and "Resolution (no resolution named 'Fixed')" in failures[0]


def test_a_field_we_edit_off_the_edit_screen_is_named(make_world):
    world = make_world(item_pages(1, 1), sprint=False)
    world.cycle()
    world.sb.hide_field("OPS", "assignee")
    failures = [m for m in failed(checks(world)) if "edit screen" in m]
    assert len(failures) == 1 and failures[0].startswith("assignee not on the edit screen of OPS-1"), failures


def test_epic_name_is_checked_on_data_center(make_world):
    world = make_world(item_pages(1, 1), flavor="datacenter", sprint=False, epics=True)
    epic = [c for c in checks(world) if c.name == "epic name"]
    assert epic == [Check("epic name", True, "the Epic Name field (customfield_10100) is filled on every epic")]
