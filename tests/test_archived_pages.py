"""Archived and view-restricted pages are not deleted pages (issue #14, item 4).

A full reconcile asks Confluence the status of every cached page its search no longer returns:
v1 with `status=any` (its default is current only, so an archived page would answer 404), v2 as is.
Only a trashed or purged page has its items flagged. An archived page keeps its items and still
counts on the summary page, marked archived. A 404 or 403 Confluence cannot explain (a view
restriction looks like a purge) is `page-check-failed`, and nothing is flagged on it.
"""

from __future__ import annotations

import pytest

from sync.problems import Problem, ProblemKind
from tests.harness import FLAVORS, SUMMARY_TITLE, item_pages

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

# Every cycle is a full reconcile, and a removed item is also transitioned: the worst a wrong guess could do.
FULL_AND_TRANSITION = {"sprint": False, "sync": {"full_reconcile_every": 1},
                       "jira": {"removed_transition": "Done"}}


@pytest.fixture(params=FLAVORS)
def world(request, make_world):
    world = make_world(item_pages(2, 3), flavor=request.param, **FULL_AND_TRANSITION)
    world.cycle()
    assert len(world.managed()) == 6
    return world


def untouched(world, page: int) -> bool:
    """Whether no item of the page was flagged removed or transitioned."""
    issues = [world.issue(f"Item {i} of page {page}") for i in range(3)]
    return all("pmsync-removed" not in i.labels and not i.comments and i.status.name != "Done" for i in issues)


def test_an_archived_postmortem_keeps_its_items_and_counts_on_the_summary_marked_archived(world):
    page_id = world.page_id("Postmortem 1")
    world.sb.archive_page(page_id)
    result = world.cycle()
    assert Problem(ProblemKind.PAGE_ARCHIVED, page_id) in result.problems
    assert not any(p.kind in (ProblemKind.PAGE_DELETED, ProblemKind.PAGE_CHECK_FAILED) for p in result.problems)
    assert result.plan.flags == () and untouched(world, 1)
    assert result.metrics.total == 6  # both pages still count
    row = next(p for p in result.metrics.postmortems if p.title == "Postmortem 1")
    assert row.archived and row.tally.total == 3
    summary = world.body(SUMMARY_TITLE)
    assert "Postmortem 1" in summary and "ARCHIVED" in summary
    assert not next(p for p in result.metrics.postmortems if p.title == "Postmortem 0").archived
    again = world.cycle()  # stable: nothing to do, still counted and marked
    assert again.plan.is_empty and again.metrics.total == 6 and untouched(world, 1)
    assert not again.summary_written


def test_an_archived_page_stays_marked_between_full_reconciles(make_world):
    world = make_world(item_pages(2, 3), sprint=False, sync={"full_reconcile_every": 3})
    world.cycle()
    world.sb.archive_page(world.page_id("Postmortem 1"))
    while not world.cycle().full:  # up to the next full reconcile, which notices the archive
        pass
    incremental = world.cycle()
    assert not incremental.full and incremental.metrics.total == 6
    assert next(p for p in incremental.metrics.postmortems if p.title == "Postmortem 1").archived


def test_a_view_restricted_page_is_a_failed_check_and_nothing_is_flagged(world):
    page_id = world.page_id("Postmortem 1")
    world.sb.restrict_page_view(page_id)  # 404, as for a page that does not exist
    result = world.cycle()
    failed = [p for p in result.problems if p.kind is ProblemKind.PAGE_CHECK_FAILED]
    assert [p.subject for p in failed] == [page_id] and "404" in (failed[0].detail or "")
    assert "view restriction" in (failed[0].detail or "")
    assert not any(p.kind is ProblemKind.PAGE_DELETED for p in result.problems)
    assert result.plan.flags == () and untouched(world, 1)


def test_a_view_restriction_answering_403_is_a_failed_check_too(world):
    page_id = world.page_id("Postmortem 1")
    world.sb.restrict_page_view(page_id, status=403)
    result = world.cycle()
    assert Problem(ProblemKind.PAGE_CHECK_FAILED, page_id) in [Problem(p.kind, p.subject) for p in result.problems]
    assert result.plan.flags == () and untouched(world, 1)


def test_a_trashed_page_is_flagged_as_before(world):
    page_id = world.page_id("Postmortem 1")
    world.sb.delete_page(page_id)
    result = world.cycle()
    assert Problem(ProblemKind.PAGE_DELETED, page_id) in result.problems
    for i in range(3):
        flagged = world.issue(f"Item {i} of page 1")
        assert "pmsync-removed" in flagged.labels and flagged.status.name == "Done"
    assert untouched(world, 0) and result.metrics.total == 3


def test_a_purged_page_is_flagged_on_cloud_and_a_failed_check_on_data_center(world):
    """Cloud's permission check answers 404 only for content that does not exist, so a purge is known;
    Data Center has no such check, and its 404 may be a view restriction: reported, nothing flagged."""
    page_id = world.page_id("Postmortem 1")
    world.sb.delete_page(page_id)
    world.confluence_client.delete(f"rest/api/content/{page_id}", params={"status": "trashed"})  # purge
    result = world.cycle()
    if world.flavor == "cloud":
        assert Problem(ProblemKind.PAGE_DELETED, page_id) in result.problems
        assert all("pmsync-removed" in world.issue(f"Item {i} of page 1").labels for i in range(3))
    else:
        failed = [p for p in result.problems if p.kind is ProblemKind.PAGE_CHECK_FAILED]
        assert [p.subject for p in failed] == [page_id] and "cannot tell" in (failed[0].detail or "")
        assert result.plan.flags == () and untouched(world, 1)
    assert untouched(world, 0)
