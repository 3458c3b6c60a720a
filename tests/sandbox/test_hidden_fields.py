"""A field an admin took off a project's create and edit screens (`Sandbox.hide_field`): createmeta and
editmeta stop listing it, and creates and edits that set it get Jira's 400 and change nothing. Every
exchange is validated against the official v2/v3 specs."""

from __future__ import annotations

import pytest
import requests
from requests import HTTPError

from sandbox.jira.catalog import TASK
from tests.sandbox.sandbox_helpers import new_task

DUE = "2026-05-01"
OFF_SCREEN = "Field 'duedate' cannot be set. It is not on the appropriate screen, or unknown."
REFUSED = {"errorMessages": [], "errors": {"duedate": OFF_SCREEN}}


def create_screen(jira) -> set[str]:
    """Field ids createmeta lists for a Task in OPS (Cloud pages them as `fields`, Data Center as `values`)."""
    page = jira.issue_createmeta_fieldtypes("OPS", TASK.id)
    return {field["fieldId"] for field in page.get("fields") or page.get("values")}


def edit_screen(jira, key: str) -> set[str]:
    return set(jira.issue_editmeta(key)["fields"])


def issue_count(sandbox) -> int:
    with sandbox.state.lock:
        return len(sandbox.state.jira.issues)


def test_a_hidden_field_leaves_createmeta_and_editmeta(sandbox, connect):
    jira = connect(sandbox).jira
    key = jira.issue_create(new_task())["key"]
    assert "duedate" in create_screen(jira) and "duedate" in edit_screen(jira, key)
    sandbox.hide_field("OPS", "duedate")
    assert "duedate" not in create_screen(jira) and "duedate" not in edit_screen(jira, key)
    assert {"summary", "labels", "project"} <= create_screen(jira)
    assert {"summary", "labels", "comment"} <= edit_screen(jira, key) and "project" not in edit_screen(jira, key)


def test_editmeta_describes_each_field_it_lists(sandbox, connect):
    jira = connect(sandbox).jira
    fields = jira.issue_editmeta(jira.issue_create(new_task())["key"])["fields"]
    assert fields["duedate"] == {"required": False, "schema": {"type": "date", "system": "duedate"},
                                 "name": "Due date", "key": "duedate", "hasDefaultValue": False, "operations": ["set"]}
    assert fields["labels"]["operations"] == ["add", "set", "remove"]


def test_v3_createmeta_and_editmeta_on_cloud_omit_it_too(cloud, connect):
    clients = connect(cloud)
    key = clients.jira.issue_create(new_task())["key"]
    cloud.hide_field("OPS", "duedate")
    createmeta = clients.http.get(f"{cloud.url}/rest/api/3/issue/createmeta/OPS/issuetypes/{TASK.id}").json()
    editmeta = clients.http.get(f"{cloud.url}/rest/api/3/issue/{key}/editmeta").json()
    assert "duedate" not in {f["fieldId"] for f in createmeta["fields"]} and "duedate" not in editmeta["fields"]


@pytest.mark.parametrize("body", [
    {"fields": new_task(duedate=DUE)},
    {"fields": new_task(duedate="not a date")},  # off the screen: refused whatever the value
    {"fields": new_task(), "update": {"duedate": [{"set": DUE}]}},
], ids=["fields", "bad-value", "update"])
def test_a_create_that_sets_it_is_refused_and_creates_nothing(sandbox, connect, body):
    clients = connect(sandbox, allow_status=(400,))
    sandbox.hide_field("OPS", "duedate")
    response = clients.http.post(f"{sandbox.url}/rest/api/2/issue", json=body)
    assert (response.status_code, response.json()) == (400, REFUSED)
    assert issue_count(sandbox) == 0


def test_the_library_sees_jiras_message_and_other_field_errors_come_with_it(sandbox, connect):
    clients = connect(sandbox, allow_status=(400,))
    sandbox.hide_field("OPS", "duedate")
    with pytest.raises(HTTPError) as refused:
        clients.jira.issue_create(new_task(summary="", duedate=DUE))
    assert refused.value.response.json()["errors"] == {
        "duedate": OFF_SCREEN, "summary": "You must specify a summary of the issue."}
    assert OFF_SCREEN in str(refused.value)
    assert issue_count(sandbox) == 0


def test_bulk_create_reports_the_failed_element_and_creates_the_others(sandbox, connect):
    clients = connect(sandbox, allow_status=(400,))
    sandbox.hide_field("OPS", "duedate")
    result = clients.jira.create_issues([{"fields": new_task("kept")}, {"fields": new_task("dated", duedate=DUE)}])
    assert [issue["key"] for issue in result["issues"]] == ["OPS-1"]
    assert result["errors"] == [{"status": 400, "elementErrors": REFUSED, "failedElementNumber": 1}]
    assert issue_count(sandbox) == 1
    everything_refused = clients.http.post(f"{sandbox.url}/rest/api/2/issue/bulk",
                                           json={"issueUpdates": [{"fields": new_task("dated", duedate=DUE)}]})
    assert everything_refused.status_code == 400
    assert everything_refused.json() == {"issues": [], "errors": [
        {"status": 400, "elementErrors": REFUSED, "failedElementNumber": 0}]}
    assert issue_count(sandbox) == 1


def test_an_edit_that_sets_it_is_refused_and_changes_nothing(sandbox, connect):
    clients = connect(sandbox, allow_status=(400,))
    key = clients.jira.issue_create(new_task("Before", duedate=DUE))["key"]
    before = clients.jira.issue(key)["fields"]
    sandbox.hide_field("OPS", "duedate")
    with pytest.raises(HTTPError) as refused:
        clients.jira.update_issue_field(key, {"summary": "After", "duedate": "2026-06-01"})
    assert refused.value.response.status_code == 400 and refused.value.response.json() == REFUSED
    via_update = clients.http.put(f"{sandbox.url}/rest/api/2/issue/{key}",
                                  json={"update": {"duedate": [{"set": None}]}})
    assert (via_update.status_code, via_update.json()) == (400, REFUSED)
    after = clients.jira.issue(key)["fields"]
    assert (after["summary"], after["duedate"], after["updated"]) == ("Before", DUE, before["updated"])
    clients.jira.update_issue_field(key, {"summary": "Other fields still edit"})
    assert clients.jira.issue(key)["fields"]["summary"] == "Other fields still edit"


def test_v3_create_and_edit_on_cloud_are_refused_the_same_way(cloud, connect):
    clients = connect(cloud, allow_status=(400,))
    key = clients.jira.issue_create(new_task())["key"]
    cloud.hide_field("OPS", "duedate")
    created = clients.http.post(f"{cloud.url}/rest/api/3/issue", json={"fields": new_task(duedate=DUE)})
    edited = clients.http.put(f"{cloud.url}/rest/api/3/issue/{key}", json={"fields": {"duedate": DUE}})
    assert [(r.status_code, r.json()) for r in (created, edited)] == [(400, REFUSED), (400, REFUSED)]
    assert issue_count(cloud) == 1 and clients.jira.issue(key)["fields"]["duedate"] is None


def test_hiding_is_per_project(sandbox, connect):
    clients = connect(sandbox)
    moved = sandbox.move_issue(clients.jira.issue_create(new_task())["key"], "OTHER")
    staying = clients.jira.issue_create(new_task())["key"]
    sandbox.hide_field("OTHER", "duedate")
    assert "duedate" in create_screen(clients.jira) and "duedate" in edit_screen(clients.jira, staying)
    assert "duedate" not in edit_screen(clients.jira, moved)
    clients.jira.update_issue_field(staying, {"duedate": DUE})
    clients.jira.issue_create(new_task(duedate=DUE))
    refused = clients.raw.put(f"{sandbox.url}/rest/api/2/issue/{moved}", json={"fields": {"duedate": DUE}})
    assert (refused.status_code, refused.json()) == (400, REFUSED)



def test_the_admin_route_hides_a_field(sandbox, connect):
    jira = connect(sandbox).jira
    hidden = requests.post(f"{sandbox.url}/_sandbox/jira/projects/ops/fields/duedate/hide", timeout=5)
    assert (hidden.status_code, hidden.json()) == (200, {"project": "OPS", "hidden": ["duedate"]})
    assert "duedate" not in create_screen(jira)
    unknown = requests.post(f"{sandbox.url}/_sandbox/jira/projects/NOPE/fields/duedate/hide", timeout=5)
    assert (unknown.status_code, unknown.json()) == (404, {"error": "No project could be found with key 'NOPE'."})


def test_reset_puts_the_field_back_on_every_screen(sandbox, connect):
    jira = connect(sandbox).jira
    sandbox.hide_field("OPS", "duedate")
    sandbox.hide_field("OPS", "summary")
    sandbox.reset()
    assert {"duedate", "summary"} <= create_screen(jira)
    key = jira.issue_create(new_task(duedate=DUE))["key"]
    assert jira.issue(key)["fields"]["duedate"] == DUE
