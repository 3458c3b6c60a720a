"""Page editors cannot reach beyond the managed project (docs/reliability.md §1, §3, §4).

A key on a page that is not one by Jira's syntax never reaches a query; an issue in a project we do
not manage is shown, never written to; the summary page is only ever one we created; an issue moved
out of the managed project gets no flag when its row is removed.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from sync.cli import main
from sync.problems import Problem, ProblemKind
from sync.summary_page import SUMMARY_MARK
from tests.harness import DUE, FLAVORS, SUMMARY_TITLE, item_pages, table_page

BOTH_PROCESSES = True  # every world here runs as `run` and as `once` keep the state (tests/conftest.py)

EVERY_CYCLE_FULL = {"sprint": False, "sync": {"full_reconcile_every": 1}}
INJECTION = "OPS-1) OR project is not EMPTY OR key in (OPS-1, SEC-1"


def jira_macro(key: str) -> str:
    return (f'<ac:structured-macro ac:name="jira"><ac:parameter ac:name="key">{key}</ac:parameter>'
            "</ac:structured-macro>")


def macro_row(summary: str, key: str, owner: str = "owner") -> str:
    return f"<tr><td>{summary} {jira_macro(key)}</td><td>{owner}</td><td>{DUE}</td></tr>"


def spy_on_searches(daemon) -> list[str]:
    """The JQL of every search the daemon sends from now on."""
    sent: list[str] = []
    search = daemon.jira.search

    def recording(jql, **kwargs):
        sent.append(jql)
        return search(jql, **kwargs)

    daemon.jira.search = recording
    return sent


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_key_that_is_no_jira_key_never_reaches_a_query_and_is_reported(make_world, flavor):
    world = make_world({"0.xml": table_page("Postmortem 0", ["Plain item"], rows=macro_row("Injected", INJECTION))},
                       flavor=flavor, **EVERY_CYCLE_FULL)
    sent = spy_on_searches(world.daemon)
    result = world.cycle()
    page_id = world.page_id("Postmortem 0")
    assert Problem(ProblemKind.INVALID_KEY, page_id, INJECTION) in result.problems
    assert not any("EMPTY" in jql or "SEC-1" in jql for jql in sent), sent
    assert [c.record.summary for c in result.plan.creates] == ["Plain item"]  # the row is not given a new issue
    assert world.cycle().plan.is_empty


def foreign_issue(world, summary: str = "Security's own ticket") -> str:
    """An issue of project SEC, which the daemon does not manage (made in OPS, then moved: the sandbox's way)."""
    key = world.jira_client.post("rest/api/2/issue", data={"fields": {
        "project": {"key": "OPS"}, "summary": summary, "issuetype": {"name": "Task"}}})["key"]
    return world.sb.move_issue(key, "SEC")


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_issue_in_another_project_is_shown_never_adopted_or_written_to(make_world, flavor):
    world = make_world(item_pages(1, 1), flavor=flavor, **EVERY_CYCLE_FULL)
    world.cycle()
    key = foreign_issue(world)
    before = world.issue("Security's own ticket")
    labels, comments, assignee = list(before.labels), len(before.comments), before.assignee
    world.edit_page("Postmortem 0", lambda body: body.replace(
        "</tbody>", macro_row("Rotate the keys", key) + "</tbody>"))
    result = world.cycle()
    assert Problem(ProblemKind.FOREIGN_ISSUE, key, "SEC") in result.problems
    assert result.plan.adopts == () and result.plan.creates == () and result.plan.updates == ()
    summary = world.body("Postmortem action items")
    assert "Issues outside the managed projects" in summary and f'<ac:parameter ac:name="key">{key}<' in summary
    world.edit_page("Postmortem 0", lambda body: body.replace("Rotate the keys", "Rotate the keys now"))
    world.cycle()
    world.edit_page("Postmortem 0", lambda body: body[:body.index("<tr><td>Rotate")] + "</tbody></table>")
    result = world.cycle()
    assert result.plan.flags == ()
    after = world.issue("Security's own ticket")
    assert (list(after.labels), len(after.comments), after.assignee) == (labels, comments, assignee)
    assert "pmsync" not in " ".join(after.labels)


@pytest.mark.parametrize("flavor", FLAVORS)
def test_an_issue_in_a_configured_managed_project_is_adopted(make_world, flavor):
    world = make_world(item_pages(1, 1), flavor=flavor, jira={"managed_projects": ["SEC"]}, **EVERY_CYCLE_FULL)
    world.cycle()
    key = foreign_issue(world)
    world.edit_page("Postmortem 0", lambda body: body.replace(
        "</tbody>", macro_row("Rotate the keys", key) + "</tbody>"))
    result = world.cycle()
    assert [a.record.issue_key for a in result.plan.adopts] == [key]
    assert "pmsync" in world.issue("Security's own ticket").labels


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full-reconcile"])
def test_a_moved_issue_gets_nothing_when_its_row_is_removed(make_world, flavor, full):
    world = make_world(item_pages(1, 3), flavor=flavor, sprint=False,
                       sync={"full_reconcile_every": 1 if full else 1000})
    world.cycle()
    key = world.issue("Item 1 of page 0").key
    moved = world.sb.move_issue(key, "OTHER")
    world.edit_page("Postmortem 0", lambda body: body[:body.index("<tr><td>Item 1")]
                    + body[body.index("<tr><td>Item 2"):])
    result = world.cycle()
    assert Problem(ProblemKind.ISSUE_MOVED, key, moved) in result.problems
    issue = world.issue("Item 1 of page 0")
    assert issue.key == moved and "pmsync-removed" not in issue.labels and issue.comments == []
    assert world.cycle().plan.is_empty


@pytest.mark.parametrize("flavor", FLAVORS)
@pytest.mark.parametrize("lease_minutes", [15, 0], ids=["lease", "no-lease"])
def test_a_page_titled_like_the_summary_that_we_did_not_create_is_never_taken_over(make_world, tmp_path, capsys,
                                                                                  flavor, lease_minutes):
    world = make_world(item_pages(1, 2), flavor=flavor, sprint=False, sync={"lease_minutes": lease_minutes})
    theirs = world.confluence_client.post("rest/api/content", data={
        "type": "page", "title": SUMMARY_TITLE, "space": {"key": "PM"},
        "body": {"storage": {"value": "<p>Our team's own list.</p>", "representation": "storage"}}})
    code = main(["check", "--config", str(world.write_config(tmp_path / "c.toml"))])
    failed = [line for line in capsys.readouterr().out.splitlines() if line.startswith("FAIL")]
    assert code == 1 and any("not created by postmortem-sync" in line and theirs["id"] in line for line in failed)
    result = world.attempt()
    assert not result.ok
    assert [p.kind for p in result.problems if p.subject == theirs["id"]] == [ProblemKind.SUMMARY_NOT_OURS]
    with world.sb.state.lock:
        page = world.sb.state.confluence.pages[theirs["id"]]
        assert page.body == "<p>Our team's own list.</p>" and len(page.versions) == 1
    assert world.confluence_client.get(f"rest/api/content/{theirs['id']}/property")["results"] == []
    assert world.summary_pages() == ["<p>Our team's own list.</p>"]  # no second page, nothing written


@pytest.mark.parametrize("flavor", FLAVORS)
def test_the_summary_page_we_create_is_marked_and_found_again_by_a_new_instance(make_world, flavor):
    world = make_world(item_pages(1, 2), flavor=flavor, sprint=False)
    world.cycle()
    page_id = world.page_id(SUMMARY_TITLE)
    mark = world.confluence_client.get(f"rest/api/content/{page_id}/property/{SUMMARY_MARK}")
    assert mark["value"] == {"created_by": "postmortem-sync"}
    world.daemon.forget_state()
    world.edit_page("Postmortem 0", lambda body: body.replace("Item 0 of page 0", "Item 0 of page 0, reworded"))
    world.cycle()
    assert len(world.summary_pages()) == 1


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_summary_page_an_earlier_version_made_is_marked_from_the_state(make_world, flavor):
    world = make_world(item_pages(1, 2), flavor=flavor, sprint=False)
    world.cycle()
    page_id = world.page_id(SUMMARY_TITLE)
    world.confluence_client.delete(f"rest/api/content/{page_id}/property/{SUMMARY_MARK}")  # as before the mark
    world.state.set_meta(summary_marked=None)
    world.clock.offset += timedelta(minutes=30)  # the lease is renewed: the page is used again
    world.edit_page("Postmortem 0", lambda body: body.replace("Item 0 of page 0", "Item 0 of page 0, reworded"))
    world.cycle()
    assert world.confluence_client.get(f"rest/api/content/{page_id}/property/{SUMMARY_MARK}")["value"]
    assert len(world.summary_pages()) == 1
