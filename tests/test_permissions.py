"""Bad configuration and missing permissions: `check` and the cycle say exactly what is wrong, and
nothing is half-written (no ticket without its due date, no write without the lease)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sync.cli import main
from sync.problems import ProblemKind
from sync.summary_page import SUMMARY_MARK
from tests.harness import FLAVORS, SUMMARY_TITLE, World, item_pages, replaced

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)


@pytest.fixture(params=FLAVORS)
def world(request, make_world):
    """The CLI's runs (write_config) and the in-process daemon share one state file: one instance."""
    return make_world(item_pages(2, 3), flavor=request.param, sprint=False)


def write_config(world: World, path: Path, *, project: str = "OPS", token: str = "sandbox-token",
                 pat: str = "sandbox-pat", lease_minutes: float = 15) -> Path:
    return world.write_config(path, jira={"api_token": token, "pat": pat, "project": project},
                              sync={"lease_minutes": lease_minutes, "full_reconcile_every": 1})


def check(config: Path, capsys) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(config)])
    return code, capsys.readouterr().out.splitlines()


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def test_check_passes_on_a_healthy_site(world, tmp_path, capsys):
    code, lines = check(write_config(world, tmp_path / "ok.toml"), capsys)
    assert code == 0 and failures(lines) == [], lines
    assert any("create screen of OPS/Task" in line for line in lines)


def test_check_names_a_wrong_token_and_a_missing_project(world, tmp_path, capsys):
    code, lines = check(write_config(world, tmp_path / "token.toml", token="wrong", pat="wrong"), capsys)
    assert code == 1 and "HTTP 401" in failures(lines)[0] and "check the email and API token" in failures(lines)[0]
    code, lines = check(write_config(world, tmp_path / "project.toml", project="NOPE"), capsys)
    assert code == 1
    assert any("project NOPE" in line for line in failures(lines)), lines


def test_duedate_off_the_create_screen_is_named_by_check_and_no_ticket_is_created_without_it(world, tmp_path, capsys):
    sb = world.sb
    sb.hide_field("OPS", "duedate")
    config = write_config(world, tmp_path / "c.toml")
    code, lines = check(config, capsys)
    assert code == 1
    assert [line for line in failures(lines) if "duedate not on the create screen of OPS/Task" in line], lines
    assert main(["once", "--config", str(config)]) == 0  # the cycle itself completes, and reports
    with sb.state.lock:
        assert [i for i in sb.state.jira.issues.values() if "pmsync" in i.labels] == []  # nothing half-made
        bodies = [p.body for p in sb.state.confluence.pages.values() if p.title.startswith("Postmortem ")]
    assert not any('ac:name="jira"' in body for body in bodies)
    world.daemon.restart(world.settings_for(sync={"full_reconcile_every": 1}))  # the same instance as `once`
    rejected = world.attempt(force=True)
    reasons = [str(p) for p in rejected.problems if p.kind is ProblemKind.CREATE_REJECTED]
    assert len(reasons) == 6 and all("duedate" in p and "not on the appropriate screen" in p for p in reasons)
    with sb.state.lock:
        sb.state.hidden_fields_by_project.clear()  # the admin fixes the screen
    fixed = world.attempt()
    assert fixed.ok and len(fixed.applied.created) == 6, fixed.problems


def test_a_summary_page_the_account_cannot_edit_blocks_writes_and_says_why(world, tmp_path, capsys):
    sb = world.sb
    page = world.confluence_client.post("rest/api/content", data={
        "type": "page", "title": SUMMARY_TITLE, "space": {"key": "PM"},
        "body": {"storage": {"value": "<p>old</p>", "representation": "storage"}}})
    # Our summary page (it carries our mark), which the account has since lost the right to edit.
    world.confluence_client.post(f"rest/api/content/{page['id']}/property", data={
        "key": SUMMARY_MARK, "value": {"created_by": "postmortem-sync"}})
    sb.restrict_page_edit(page["id"])
    config = write_config(world, tmp_path / "c.toml")
    code, lines = check(config, capsys)
    assert code == 1
    assert [line for line in failures(lines) if "cannot edit the summary page" in line and page["id"] in line], lines
    blocked = world.attempt()
    assert not blocked.ok and any(p.kind is ProblemKind.LEASE_DENIED and "HTTP 403" in str(p) for p in blocked.problems)
    with sb.state.lock:
        assert [i for i in sb.state.jira.issues.values() if "pmsync" in i.labels] == []
        assert sb.state.confluence.pages[page["id"]].body == "<p>old</p>"
    # Without the lease (a single instance), tickets sync and only the summary is reported.
    world.daemon.restart(replaced(world.settings, sync={"lease_minutes": 0}))
    alone = world.attempt()
    assert len(alone.applied.created) == 6
    assert any(p.kind is ProblemKind.SUMMARY_FAILED and "403" in str(p) for p in alone.problems), alone.problems
