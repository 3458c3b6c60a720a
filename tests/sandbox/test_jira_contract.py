"""Jira REST through atlassian-python-api in both flavours; every exchange is validated against the
official v2/v3 specs (jira-platform-v2/v3)."""

from __future__ import annotations

import time

import pytest
from requests import HTTPError

from tests.sandbox.sandbox_helpers import adf, new_task


def test_server_info_names_the_deployment(sandbox, connect):
    info = connect(sandbox).jira.get_server_info()
    assert info["deploymentType"] == ("Cloud" if sandbox.options.is_cloud else "Server")
    assert info["baseUrl"] == sandbox.url and len(info["versionNumbers"]) == 3


def test_myself_project_priorities_and_fields(sandbox, connect):
    jira = connect(sandbox).jira
    me = jira.myself()
    assert me["emailAddress"] == "sandbox@example.com"
    assert ("accountId" in me) == sandbox.options.is_cloud and ("name" in me) != sandbox.options.is_cloud
    project = jira.get_project("OPS")
    assert project["key"] == "OPS" and {t["name"] for t in project["issueTypes"]} == {"Task", "Epic", "Bug"}
    assert [p["name"] for p in jira.get_all_priorities()] == ["Highest", "High", "Medium", "Low", "Lowest"]
    names = {f["name"] for f in jira.get_all_fields()}
    assert {"Summary", "Labels", "Due date", "Sprint"} <= names
    assert ("Epic Link" in names) != sandbox.options.is_cloud


def test_create_v2_with_a_wiki_string_reads_back_in_both_versions(cloud, connect):
    clients = connect(cloud)
    fields = new_task(description="Line one\n\nLine two", labels=["pmsync-abc"], duedate="2026-03-01")
    created = clients.jira.issue_create(fields)
    assert created["key"] == "OPS-1" and created["self"].endswith("/rest/api/2/issue/10000")
    v2 = clients.jira.issue("OPS-1")
    assert v2["fields"]["description"] == "Line one\n\nLine two"
    assert v2["fields"]["labels"] == ["pmsync-abc"] and v2["fields"]["duedate"] == "2026-03-01"
    assert v2["fields"]["status"]["statusCategory"]["key"] == "new" and v2["fields"]["resolutiondate"] is None
    v3 = clients.http.get(f"{cloud.url}/rest/api/3/issue/OPS-1").json()
    assert v3["fields"]["description"]["type"] == "doc"
    assert [block["content"][0]["text"] for block in v3["fields"]["description"]["content"]] == ["Line one", "Line two"]


def test_create_v3_needs_an_atlassian_document_description(cloud, connect):
    clients = connect(cloud)
    created = clients.http.post(f"{cloud.url}/rest/api/3/issue", json={"fields": new_task(description=adf("From ADF"))})
    assert created.status_code == 201
    assert clients.jira.issue(created.json()["key"])["fields"]["description"] == "From ADF"
    rejected = clients.http.post(f"{cloud.url}/rest/api/3/issue", json={"fields": new_task(description="plain string")})
    assert rejected.status_code == 400
    expected = {"description": "Operation value must be an Atlassian Document"}
    assert rejected.json() == {"errorMessages": [], "errors": expected}


def test_datacenter_serves_no_rest_api_3(datacenter, connect):
    clients = connect(datacenter)
    assert clients.raw.get(f"{datacenter.url}/rest/api/3/serverInfo").status_code == 404


def test_field_errors_are_collected_per_field(sandbox, connect):
    clients = connect(sandbox, allow_status=(400,))
    with pytest.raises(HTTPError) as bad:
        clients.jira.issue_create(new_task(
            summary="", duedate="2026/03/01", labels=["two words"], priority={"name": "Urgent"}, customfield_99999="x",
        ))
    errors = bad.value.response.json()["errors"]
    assert errors == {
        "summary": "You must specify a summary of the issue.",
        "duedate": "Error parsing date string: 2026/03/01",
        "labels": "The label 'two words' contains spaces which is invalid.",
        "priority": "The priority selected is invalid.",
        "customfield_99999":
            "Field 'customfield_99999' cannot be set. It is not on the appropriate screen, or unknown.",
    }


def test_assignee_is_an_account_id_on_cloud(cloud, connect):
    clients = connect(cloud, allow_status=(400,))
    alice = cloud.state.directory.by_username("hwagner")
    created = clients.jira.issue_create(new_task(assignee={"accountId": alice.account_id}))
    assert clients.jira.issue(created["key"])["fields"]["assignee"]["accountId"] == alice.account_id
    for assignee, message in (
        ({"name": "hwagner"}, "expected Object containing an 'accountId' property"),
        ({"accountId": "557058:nobody"}, "Account ID 557058:nobody does not exist."),
    ):
        with pytest.raises(HTTPError) as bad:
            clients.jira.issue_create(new_task(assignee=assignee))
        assert bad.value.response.json()["errors"] == {"assignee": message}


def test_assignee_is_a_username_on_datacenter(datacenter, connect):
    clients = connect(datacenter, allow_status=(400,))
    created = clients.jira.issue_create(new_task(assignee={"name": "nkaur"}))
    assert clients.jira.issue(created["key"])["fields"]["assignee"]["name"] == "nkaur"
    for assignee, message in (
        ({"accountId": "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"}, "expected Object containing a 'name' property"),
        ({"name": "nobody"}, "User 'nobody' does not exist."),
    ):
        with pytest.raises(HTTPError) as bad:
            clients.jira.issue_create(new_task(assignee=assignee))
        assert bad.value.response.json()["errors"] == {"assignee": message}


def test_inactive_users_cannot_be_assigned(sandbox, connect):
    from sandbox.directory import BUILTIN_USERS

    departed = next(user for user in BUILTIN_USERS if not user.active)
    sandbox.state.directory.add(departed)
    clients = connect(sandbox, allow_status=(400,))
    reference = {"accountId": departed.account_id} if sandbox.options.is_cloud else {"name": departed.username}
    with pytest.raises(HTTPError) as bad:
        clients.jira.issue_create(new_task(assignee=reference))
    assert "cannot be assigned issues" in bad.value.response.json()["errors"]["assignee"]


def test_bulk_create_reports_failures_per_item(sandbox, connect):
    clients = connect(sandbox)
    result = clients.jira.create_issues([
        {"fields": new_task("first")},
        {"fields": new_task("second", duedate="tomorrow")},
        {"fields": new_task("third")},
    ])
    assert [issue["key"] for issue in result["issues"]] == ["OPS-1", "OPS-2"]
    assert result["errors"] == [{
        "status": 400, "failedElementNumber": 1,
        "elementErrors": {"errorMessages": [], "errors": {"duedate": "Error parsing date string: tomorrow"}},
    }]
    assert clients.jira.issue("OPS-2")["fields"]["summary"] == "third"


def test_bulk_create_refuses_more_than_fifty_and_all_failures_is_400(sandbox, connect):
    clients = connect(sandbox, allow_status=(400,))
    bulk = f"{sandbox.url}/rest/api/2/issue/bulk"
    too_many = clients.http.post(bulk, json={"issueUpdates": [{"fields": new_task(f"n{i}")} for i in range(51)]})
    assert too_many.status_code == 400 and too_many.json()["issues"] == []
    assert "maximum is 50" in too_many.json()["errors"][0]["elementErrors"]["errorMessages"][0]
    all_bad = clients.http.post(bulk, json={"issueUpdates": [{"fields": new_task("", duedate="x")}]})
    assert all_bad.status_code == 400 and all_bad.json()["errors"][0]["failedElementNumber"] == 0
    assert sandbox.state.jira.issues == {}


def test_edit_with_fields_and_update_operations(sandbox, connect):
    clients = connect(sandbox)
    key = clients.jira.issue_create(new_task(labels=["keep", "drop"]))["key"]
    changes = {"summary": "Renamed", "duedate": "2026-04-30", "priority": {"name": "High"}}
    clients.jira.update_issue_field(key, changes, notify_users=False)
    clients.jira.edit_issue(key, {"labels": [{"add": "pmsync-removed"}, {"remove": "drop"}]})
    fields = clients.jira.issue(key)["fields"]
    assert (fields["summary"], fields["duedate"], fields["priority"]["name"]) == ("Renamed", "2026-04-30", "High")
    assert fields["labels"] == ["keep", "pmsync-removed"]
    assert fields["updated"] >= fields["created"]
    time.sleep(0.01)  # so that a bumped `updated` would differ
    clients.jira.update_issue_field(key, {"summary": "Renamed"})  # same value: Jira keeps `updated`
    assert clients.jira.issue(key)["fields"]["updated"] == fields["updated"]


def test_transitions_set_and_clear_resolutiondate(sandbox, connect):
    clients = connect(sandbox)
    key = clients.jira.issue_create(new_task())["key"]
    transitions = {t["name"]: t["id"] for t in clients.jira.get_issue_transitions(key)}
    assert transitions == {"To Do": 11, "In Progress": 21, "Done": 31}
    clients.jira.set_issue_status_by_transition_id(key, "31")
    done = clients.jira.issue(key)["fields"]
    assert done["status"]["statusCategory"]["key"] == "done"
    assert done["resolutiondate"] and done["resolution"]["name"] == "Done"
    clients.jira.set_issue_status_by_transition_id(key, "21")
    reopened = clients.jira.issue(key)["fields"]
    assert reopened["status"]["name"] == "In Progress"
    assert reopened["resolutiondate"] is None and reopened["resolution"] is None
    bad = clients.http.post(f"{sandbox.url}/rest/api/2/issue/{key}/transitions", json={"transition": {"id": "99"}})
    assert bad.status_code == 400 and bad.json()["errorMessages"] == ["Transition id '99' is not valid for this issue."]


def test_remote_links_are_idempotent_by_global_id(sandbox, connect):
    clients = connect(sandbox)
    key = clients.jira.issue_create(new_task())["key"]
    url = f"{sandbox.confluence_url}/spaces/PM/pages/1"
    links = f"{sandbox.url}/rest/api/2/issue/{key}/remotelink"
    first = clients.http.post(links, json={"globalId": "pmsync:page=1", "object": {"url": url, "title": "Postmortem"}})
    again = clients.http.post(links, json={"globalId": "pmsync:page=1", "object": {"url": url, "title": "Renamed"}})
    assert (first.status_code, again.status_code) == (201, 200) and first.json()["id"] == again.json()["id"]
    links = clients.jira.get_issue_remote_links(key)
    assert [(link["globalId"], link["object"]["title"]) for link in links] == [("pmsync:page=1", "Renamed")]
    single = clients.jira.get_issue_remote_links(key, global_id="pmsync:page=1")
    assert single["object"]["url"] == url
    clients.jira.create_or_update_issue_remote_links(key, url, "Via library", global_id="pmsync:page=1")
    assert len(clients.jira.get_issue_remote_links(key)) == 1


def test_comments_in_v2_strings_and_v3_documents(cloud, connect):
    clients = connect(cloud)
    key = clients.jira.issue_create(new_task())["key"]
    clients.jira.issue_add_comment(key, "Removed from the postmortem page")
    added = clients.http.post(f"{cloud.url}/rest/api/3/issue/{key}/comment", json={"body": adf("From v3")})
    assert added.status_code == 201 and added.json()["body"]["type"] == "doc"
    page = clients.jira.issue_get_comments(key)
    assert page["total"] == 2
    assert [c["body"] for c in page["comments"]] == ["Removed from the postmortem page", "From v3"]


def test_issue_properties_round_trip(sandbox, connect):
    clients = connect(sandbox)
    key = clients.jira.issue_create(new_task())["key"]
    clients.jira.set_issue_property(key, "pmsync", {"page": "1310722", "item": "abc"})
    assert clients.jira.get_issue_property(key, "pmsync")["value"] == {"page": "1310722", "item": "abc"}


def test_users_are_found_by_each_deployments_identifier(sandbox, connect):
    clients = connect(sandbox, allow_status=(400,))
    wagner = sandbox.state.directory.by_username("hwagner")
    if sandbox.options.is_cloud:
        assert clients.jira.user(account_id=wagner.account_id)["displayName"] == wagner.display_name
        found = clients.http.get(f"{sandbox.url}/rest/api/2/user/search", params={"query": "hwag"}).json()
        legacy = clients.http.get(f"{sandbox.url}/rest/api/2/user", params={"username": "hwagner"})
        assert legacy.status_code == 400 and "GDPR" in legacy.json()["errorMessages"][0]
    else:
        # Jira's own key (JIRAUSER<n>): Data Center products keep separate user keys
        assert clients.jira.user(username="hwagner")["key"] == wagner.jira_key == "JIRAUSER10100"
        assert wagner.jira_key != wagner.userkey
        found = clients.http.get(f"{sandbox.url}/rest/api/2/user/search", params={"username": "hwag"}).json()
    assert [u["displayName"] for u in found] == [wagner.display_name]


def test_unknown_issue_is_jiras_404(sandbox, connect):
    clients = connect(sandbox)
    missing = clients.http.get(f"{sandbox.url}/rest/api/2/issue/OPS-999")
    assert missing.status_code == 404
    not_found = "Issue does not exist or you do not have permission to see it."
    assert missing.json() == {"errorMessages": [not_found], "errors": {}}


def test_epics_are_parents_on_cloud_and_epic_links_on_datacenter(sandbox, connect):
    clients = connect(sandbox)
    epic_name = {} if sandbox.options.is_cloud else {"customfield_10100": "Follow-ups"}  # DC: Epic Name
    epic = clients.jira.issue_create(new_task("Postmortem follow-ups", issuetype={"name": "Epic"}, **epic_name))["key"]
    link = {"parent": {"key": epic}} if sandbox.options.is_cloud else {"customfield_10101": epic}
    child = clients.jira.issue_create(new_task(**link))["key"]
    fields = clients.jira.issue(child)["fields"]
    assert (fields["parent"]["key"] if sandbox.options.is_cloud else fields["customfield_10101"]) == epic
