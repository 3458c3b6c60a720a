"""What users do to pages and issues behind the daemon's back, each with a defined outcome and event.

Outcomes (docs/reliability.md §3): a deleted page's issues are flagged, never deleted; a page that
only left the search is reported; a deleted or moved issue is reported and never re-created; our
labels removed from an issue are restored; oversized pages sync like any other.
"""

from __future__ import annotations

import time

import pytest
from structlog.testing import capture_logs

from sync.cli import _log_cycle
from sync.cycle import run_cycle
from sync.problems import Problem, ProblemKind
from tests.harness import KEY_PARAMETER, item_pages, table_page

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

# Every cycle is a full reconcile here: deletions are noticed on full reconciles.
EVERY_CYCLE_FULL = {"sprint": False, "sync": {"full_reconcile_every": 1}}


@pytest.fixture
def world(make_world):
    world = make_world(item_pages(2, 3), **EVERY_CYCLE_FULL)
    world.cycle()
    assert len(world.managed()) == 6
    return world


def events(result) -> list[dict]:
    with capture_logs() as logs:
        _log_cycle(result)
    return [e for e in logs if e["event"] == "cycle_problem"]


def test_a_deleted_page_flags_its_issues_and_leaves_the_summary(world):
    page_id = world.page_id("Postmortem 1")
    world.confluence_client.delete(f"rest/api/content/{page_id}")
    result = world.cycle()
    assert Problem(ProblemKind.PAGE_DELETED, page_id) in result.problems
    assert f"page-deleted:{page_id}" in map(str, result.problems)
    assert {"kind": "page-deleted", "problem": f"page-deleted:{page_id}"}.items() <= events(result)[0].items()
    for i in range(3):
        flagged = world.issue(f"Item {i} of page 1")
        assert "pmsync-removed" in flagged.labels and len(flagged.comments) == 1
        assert "postmortem page of this action item was deleted" in flagged.comments[0].body.as_wiki().lower()
    assert all("pmsync-removed" not in world.issue(f"Item {i} of page 0").labels for i in range(3))
    assert len(world.managed()) == 6  # nothing deleted in Jira
    assert result.metrics.total == 3  # the summary counts only the remaining page
    assert "Postmortem 1" not in world.body("Postmortem action items")
    again = world.cycle()
    assert again.plan.is_empty and not any(p.kind is ProblemKind.PAGE_DELETED for p in again.problems)


def test_a_page_that_only_left_the_search_is_reported_not_flagged(world):
    page_id = world.page_id("Postmortem 1")
    world.confluence_client.delete(f"rest/api/content/{page_id}/label/postmortem")
    result = world.cycle()
    assert Problem(ProblemKind.PAGE_OUT_OF_SCOPE, page_id) in result.problems
    assert result.plan.flags == ()
    assert all("pmsync-removed" not in i.labels for i in world.managed())


def test_a_deleted_issue_is_reported_and_never_recreated(world):
    key = world.issue("Item 0 of page 0").key
    world.jira_client.delete(f"rest/api/2/issue/{key}")
    result = world.cycle()
    assert f"unresolved-key:{key}:404" in map(str, result.problems)
    assert Problem(ProblemKind.ISSUE_GONE, key) in result.problems
    assert result.plan.creates == () and result.plan.write_backs == ()
    assert len(world.managed()) == 5
    assert world.body("Postmortem 0").count(f"{KEY_PARAMETER}{key}<") == 1  # the page is left as the user has it
    assert world.cycle().plan.creates == ()


def test_a_moved_issue_is_reported_and_left_alone(world):
    key = world.issue("Item 1 of page 0").key
    moved = world.sb.move_issue(key, "OTHER")
    result = world.cycle()
    assert Problem(ProblemKind.ISSUE_MOVED, key, moved) in result.problems
    assert result.plan.creates == () and result.plan.updates == ()
    assert world.issue("Item 1 of page 0").key == moved
    assert world.cycle().plan.is_empty


def test_our_labels_removed_in_jira_are_restored_and_the_users_kept(world):
    issue = world.issue("Item 2 of page 0")
    ours = [label for label in issue.labels if label.startswith("pmsync")]
    world.jira_client.put(f"rest/api/2/issue/{issue.key}", data={"update": {"labels": [
        *({"remove": label} for label in ours), {"add": "customer-impact"}]}})
    result = world.cycle()
    assert [u.record.issue_key for u in result.plan.updates] == [issue.key]
    assert set(world.issue("Item 2 of page 0").labels) == {*ours, "customer-impact"}
    assert result.plan.creates == ()


@pytest.mark.slow
def test_oversized_pages_sync_in_one_cycle(make_world):
    padding = "<p>" + ("Timeline entry: the cache kept evicting hot keys under load. " * 80) + "</p>"
    big = table_page("Postmortem huge", ["Item 0 of the huge page", "Item 1 of the huge page"],
                before="<h2>Timeline</h2>" + padding * (5 * 1024 * 1024 // len(padding) + 1))
    assert len(big.encode()) > 5 * 1024 * 1024
    rows = table_page("Postmortem rows", [f"Row {i} of the long table" for i in range(2000)])
    world = make_world({"huge.xml": big, "rows.xml": rows}, **EVERY_CYCLE_FULL)
    started = time.monotonic()
    result = world.cycle(force=True)  # 2,002 creates exceed the per-cycle safety limit
    elapsed = time.monotonic() - started
    assert len(world.managed()) == 2002
    assert world.body("Postmortem huge").count(KEY_PARAMETER) == 2
    assert world.body("Postmortem rows").count(KEY_PARAMETER) == 2000
    assert len(world.body("Postmortem huge").encode()) > 5 * 1024 * 1024  # nothing of the page lost
    assert result.metrics.total == 2002
    assert elapsed < 120, elapsed
    assert world.cycle().plan.is_empty


def test_a_user_editing_the_page_through_every_write_back_attempt_loses_nothing(make_world):
    world = make_world({"0.xml": table_page("Postmortem busy", [f"Item {i} of the busy page" for i in range(3)])},
                       **EVERY_CYCLE_FULL)
    page_id = world.page_id("Postmortem busy")
    real_update, edits = world.daemon.confluence.update_page, []

    def user_saves_first(page, body, **kwargs):  # the user saves just before each of our attempts
        if page.id != page_id:
            return real_update(page, body, **kwargs)
        current = world.confluence_client.get(f"rest/api/content/{page_id}", params={"expand": "body.storage,version"})
        note = f"<p>User note {len(edits)}</p>"
        world.confluence_client.put(f"rest/api/content/{page_id}", data={
            "id": page_id, "type": "page", "title": current["title"],
            "version": {"number": current["version"]["number"] + 1},
            "body": {"storage": {"value": current["body"]["storage"]["value"] + note, "representation": "storage"}}})
        edits.append(note)
        return real_update(page, body, **kwargs)

    world.daemon.confluence.update_page = user_saves_first
    busy = run_cycle(world.settings, world.daemon.jira, world.daemon.confluence, world.state)
    assert Problem(ProblemKind.WRITE_BACK_GAVE_UP, page_id) in busy.problems
    assert len(edits) == 4  # 409 on every attempt
    busy_body = world.body("Postmortem busy")
    assert busy_body.count(KEY_PARAMETER) == 0 and all(n in busy_body for n in edits)
    world.daemon.confluence.update_page = real_update  # the user stops typing
    calm = world.cycle()
    body = world.body("Postmortem busy")
    assert body.count(KEY_PARAMETER) == 3 and all(note in body for note in edits)  # keys once, notes kept
    assert len(world.managed()) == 3 and calm.plan.creates == ()
