"""The Jira adapter at the HTTP boundary (`responses`): search paging per deployment, bulk creates, updates,
transitions, agile calls and assignees."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
import responses

from sync.atlassian.jira_json import wiki_text
from sync.models import IssueFields, Owner
from sync.ports import AssigneeRejected, AtlassianError, CreateInterrupted, NotFound
from sync.query import jql_quote
from tests.adapters.adapter_helpers import CLOUD, DC_JIRA, WIKI, adapters, body, issue, query

# --- Jira search -----------------------------------------------------------------------------------


def test_cloud_search_uses_search_jql_with_next_page_token(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/3/search/jql", json={"issues": [issue("OPS-1"), issue("OPS-2")], "nextPageToken": "p2"})
    http.get(CLOUD + "/rest/api/3/search/jql", json={"issues": [issue("OPS-3", category="done",
             assignee={"accountId": "557058:abc", "displayName": "Ana"})], "isLast": True})
    jira, _ = adapters("cloud")
    snapshots = list(jira.search('labels = "pmsync"'))
    assert [s.key for s in snapshots] == ["OPS-1", "OPS-2", "OPS-3"]
    first, second = query(http.calls[0]), query(http.calls[1])
    assert first["jql"] == 'labels = "pmsync"' and first["maxResults"] == "100" and "nextPageToken" not in first
    assert first["fields"].split(",") == ["summary", "status", "labels", "assignee", "duedate", "priority",
                                          "issuetype", "project", "created", "updated", "resolutiondate"]
    assert second["nextPageToken"] == "p2"
    done = snapshots[2]
    assert done.status_category == "done" and done.is_done
    assert (done.assignee, done.assignee_display) == ("557058:abc", "Ana")
    assert done.due == date(2026, 7, 1)
    assert done.created == datetime(2026, 2, 11, 9, 12, tzinfo=UTC)
    assert done.updated is not None and done.updated.utcoffset().total_seconds() == 3600
    assert (done.priority, done.issue_type, done.project, done.labels) == ("High", "Task", "OPS", ("pmsync-abc",))
    assert jira.request_count == 2


def test_datacenter_search_uses_api_2_search_with_start_at(http: responses.RequestsMock) -> None:
    http.get(DC_JIRA + "/rest/api/2/search",
             json={"startAt": 0, "total": 3, "issues": [issue("OPS-1"), issue("OPS-2")]})
    http.get(DC_JIRA + "/rest/api/2/search", json={"startAt": 2, "total": 3,
             "issues": [issue("OPS-3", assignee={"name": "jdoe", "key": "JIRAUSER1"})]})
    jira, _ = adapters("datacenter")
    snapshots = list(jira.search("project = OPS"))
    assert [s.key for s in snapshots] == ["OPS-1", "OPS-2", "OPS-3"]
    assert [query(call)["startAt"] for call in http.calls] == ["0", "2"]
    assert snapshots[2].assignee == "jdoe"
    assert all("/rest/api/3/" not in call.request.url for call in http.calls)


def test_very_long_jql_goes_in_a_post_body(http: responses.RequestsMock) -> None:
    http.post(CLOUD + "/rest/api/3/search/jql", json={"issues": []})
    jira, _ = adapters("cloud")
    jql = "labels in (" + ", ".join(jql_quote(f"pmsync-{n:06d}") for n in range(200)) + ")"
    assert list(jira.search(jql)) == []
    sent = body(http.calls[0])
    assert sent["jql"] == jql and "summary" in sent["fields"]


def test_get_issue_not_found(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/issue/OPS-404", status=404,
             json={"errorMessages": ["Issue does not exist or you do not have permission to see it."]})
    jira, _ = adapters("cloud")
    with pytest.raises(NotFound) as caught:
        jira.get_issue("OPS-404")
    assert caught.value.status == 404


# --- Jira writes -----------------------------------------------------------------------------------


def bulk_reply(request):
    """A Jira bulk create: element 3 of the second request fails, the rest get keys."""
    updates = json.loads(request.body)["issueUpdates"]
    failing = 3 if updates[0]["fields"]["summary"] == "item 50" else None
    issues = [{"id": str(n), "key": f"OPS-{100 + int(u['fields']['summary'].split()[1])}"}
              for n, u in enumerate(updates) if n != failing]
    errors = [] if failing is None else [{"status": 400, "failedElementNumber": failing,
              "elementErrors": {"errorMessages": [], "errors": {"duedate": "Due date is invalid"}}}]
    return 201, {}, json.dumps({"issues": issues, "errors": errors})


def test_bulk_create_chunks_by_50_and_maps_errors_by_element(http: responses.RequestsMock) -> None:
    http.add_callback(responses.POST, CLOUD + "/rest/api/2/issue/bulk", callback=bulk_reply)
    jira, _ = adapters("cloud")
    items = [IssueFields(summary=f"item {n}", labels=("pmsync-x",), due=date(2026, 7, 1)) for n in range(120)]
    results = jira.create_issues(items)
    assert [len(body(call)["issueUpdates"]) for call in http.calls] == [50, 50, 20]
    assert len(results) == 120
    assert results[53].key is None and results[53].error == "duedate: Due date is invalid"
    assert results[52].key == "OPS-152" and results[54].key == "OPS-154"
    assert results[0].key == "OPS-100" and results[119].key == "OPS-219"
    fields = body(http.calls[0])["issueUpdates"][0]["fields"]
    assert fields["project"] == {"key": "OPS"} and fields["issuetype"] == {"name": "Task"}
    assert fields["duedate"] == "2026-07-01" and fields["labels"] == ["pmsync-x"]


def test_bulk_create_where_every_element_fails_maps_each_error(http: responses.RequestsMock) -> None:
    http.post(CLOUD + "/rest/api/2/issue/bulk", status=400, json={"issues": [], "errors": [
        {"status": 400, "failedElementNumber": n, "elementErrors": {"errorMessages": ["Project is archived"]}}
        for n in range(2)]})
    jira, _ = adapters("cloud")
    results = jira.create_issues([IssueFields(summary="a"), IssueFields(summary="b")])
    assert [(r.key, r.error) for r in results] == [(None, "Project is archived")] * 2


def test_bulk_create_is_not_retried_on_5xx_and_keeps_earlier_results(http: responses.RequestsMock) -> None:
    replies = iter([bulk_reply, lambda request: (502, {}, "Bad gateway")])
    http.add_callback(responses.POST, CLOUD + "/rest/api/2/issue/bulk", callback=lambda request: next(replies)(request))
    jira, _ = adapters("cloud")
    items = [IssueFields(summary=f"item {n}") for n in range(60)]
    with pytest.raises(CreateInterrupted) as caught:
        jira.create_issues(items)
    assert len(http.calls) == 2  # the failed chunk was sent exactly once
    assert caught.value.status == 502
    assert [r.key for r in caught.value.results] == [f"OPS-{100 + n}" for n in range(50)]


def test_bulk_create_is_retried_after_429(http: responses.RequestsMock, sleeps: list[float]) -> None:
    http.post(CLOUD + "/rest/api/2/issue/bulk", status=429, headers={"Retry-After": "0"}, json={})
    http.post(CLOUD + "/rest/api/2/issue/bulk", status=201,
              json={"issues": [{"id": "1", "key": "OPS-1"}], "errors": []})
    jira, _ = adapters("cloud", sleeps)
    assert [r.key for r in jira.create_issues([IssueFields(summary="a")])] == ["OPS-1"]
    assert len(http.calls) == 2 and sleeps and sleeps[0] >= 1.0


def test_description_is_rendered_verbatim_in_noformat(http: responses.RequestsMock) -> None:
    http.post(CLOUD + "/rest/api/2/issue/bulk", status=201, json={"issues": [{"id": "1", "key": "OPS-1"}]})
    jira, _ = adapters("cloud")
    text = "Fix *all* [alerts|http://x] {code} -now-\n{noformat}escape{NoFormat:title=x}"
    jira.create_issues([IssueFields(summary="multi\nline   summary", description=text)])
    fields = body(http.calls[0])["issueUpdates"][0]["fields"]
    assert fields["summary"] == "multi line summary"
    assert fields["description"] == (
        "{noformat}\nFix *all* [alerts|http://x] {code} -now-\n{ noformat}escape{ NoFormat:title=x}\n{noformat}"
    )


def test_wiki_text_contains_exactly_one_noformat_block() -> None:
    rendered = wiki_text("a {noformat} b {noformat}")
    assert rendered.count("{noformat}") == 2 and rendered.startswith("{noformat}\n")
    assert wiki_text("   ") == ""


def test_update_issue_maps_changes_to_fields_and_update(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/user", json={"accountId": "557058:abc"})
    http.put(CLOUD + "/rest/api/2/issue/OPS-7", status=204)
    jira, _ = adapters("cloud")
    jira.update_issue("OPS-7", {
        "summary": "New summary", "due": None, "priority": "Low", "description": "plain",
        "assignee": Owner(account_id="557058:abc"), "labels_add": ["pmsync-removed"], "labels_remove": ["old"],
    })
    sent = body(http.calls[-1])
    assert sent["fields"] == {"summary": "New summary", "duedate": None, "priority": {"name": "Low"},
                              "description": "{noformat}\nplain\n{noformat}", "assignee": {"accountId": "557058:abc"}}
    assert sent["update"] == {"labels": [{"add": "pmsync-removed"}, {"remove": "old"}]}
    with pytest.raises(ValueError):
        jira.update_issue("OPS-7", {"colour": "red"})


def test_transition_to_done_picks_the_done_category(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/issue/OPS-1/transitions", json={"transitions": [
        {"id": "11", "name": "Start", "to": {"name": "In Progress", "statusCategory": {"key": "indeterminate"}}},
        {"id": "31", "name": "Close it", "to": {"name": "Closed", "statusCategory": {"key": "done"}}},
    ]})
    http.post(CLOUD + "/rest/api/2/issue/OPS-1/transitions", status=204)
    jira, _ = adapters("cloud")
    assert jira.transition_to_done("OPS-1") is True
    assert body(http.calls[-1]) == {"transition": {"id": "31"}}
    assert jira.transition("OPS-1", "in progress") is True  # by target status name
    assert body(http.calls[-1]) == {"transition": {"id": "11"}}
    assert jira.transition("OPS-1", "Won't do") is False


def test_configured_done_transition_is_used_by_name(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/issue/OPS-1/transitions", json={"transitions": [
        {"id": "31", "name": "Close", "to": {"name": "Closed", "statusCategory": {"key": "done"}}},
        {"id": "41", "name": "Resolve", "to": {"name": "Resolved", "statusCategory": {"key": "done"}}},
    ]})
    http.post(CLOUD + "/rest/api/2/issue/OPS-1/transitions", status=204)
    jira, _ = adapters("cloud", done_transition="Resolve")
    assert jira.transition_to_done("OPS-1")
    assert body(http.calls[-1]) == {"transition": {"id": "41"}}


def test_no_done_transition_available(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/issue/OPS-1/transitions", json={"transitions": []})
    jira, _ = adapters("cloud")
    assert jira.transition_to_done("OPS-1") is False
    assert len(http.calls) == 1


def test_comment_remote_link_and_sprint(http: responses.RequestsMock) -> None:
    http.post(CLOUD + "/rest/api/2/issue/OPS-1/comment", status=201, json={"id": "1"})
    http.post(CLOUD + "/rest/api/2/issue/OPS-1/remotelink", status=201, json={"id": 5})
    http.get(CLOUD + "/rest/agile/1.0/board/1/sprint", json={"values": [{"id": 8, "state": "active"}]})
    http.post(CLOUD + "/rest/agile/1.0/sprint/8/issue", status=204)
    jira, _ = adapters("cloud")
    jira.add_comment("OPS-1", "Removed from the page")
    jira.add_remote_link("OPS-1", WIKI + "/x/1", "DB failover", "pmsync-page-1")
    assert jira.active_sprint(1) == 8
    jira.add_to_sprint(8, [f"OPS-{n}" for n in range(120)])
    assert body(http.calls[0]) == {"body": "{noformat}\nRemoved from the page\n{noformat}"}
    assert body(http.calls[1]) == {"globalId": "pmsync-page-1",
                                   "object": {"url": WIKI + "/x/1", "title": "DB failover"}}
    assert query(http.calls[2]) == {"state": "active"}
    assert [len(body(call)["issues"]) for call in http.calls[3:]] == [50, 50, 20]


def test_datacenter_create_links_epics_through_the_agile_api(http: responses.RequestsMock) -> None:
    http.post(DC_JIRA + "/rest/api/2/issue/bulk", status=201, json={"issues": [{"id": "1", "key": "OPS-1"}]})
    http.post(DC_JIRA + "/rest/agile/1.0/epic/OPS-EPIC/issue", status=204)
    jira, _ = adapters("datacenter")
    jira.create_issues([IssueFields(summary="a", parent_key="OPS-EPIC")])
    assert "parent" not in body(http.calls[0])["issueUpdates"][0]["fields"]
    assert body(http.calls[1]) == {"issues": ["OPS-1"]}


# --- assignees ---------------------------------------------------------------------------------------


def test_cloud_assignee_is_the_mentioned_account_id_without_a_lookup(http: responses.RequestsMock) -> None:
    jira, _ = adapters("cloud")
    assert jira.resolve_assignee(Owner(account_id="557058:abc")) == {"accountId": "557058:abc"}
    assert jira.resolve_assignee(Owner(username="jdoe")) is None  # Cloud has no usernames
    assert jira.resolve_assignee(Owner(display="Ana")) is None
    assert len(http.calls) == 0  # an unknown account is reported by the create itself


def test_datacenter_assignee_is_the_username_and_a_confluence_userkey_never_goes_to_jira(
    http: responses.RequestsMock,
) -> None:
    # A ri:userkey is Confluence's key (Jira's own look like JIRAUSER10100): sync.people resolves it
    # through Confluence to the username first; the Jira adapter never asks Jira about it.
    jira, _ = adapters("datacenter")
    confluence_key = "8a7f808a7c1d2e3f017c1d9b4e2a0012"
    assert jira.resolve_assignee(Owner(userkey=confluence_key)) is None
    assert jira.resolve_assignee(Owner(userkey=confluence_key, username="jdoe")) == {"name": "jdoe"}
    assert jira.resolve_assignee(Owner(username="jdoe")) == {"name": "jdoe"}
    assert jira.resolve_assignee(Owner(account_id="557058:abc")) is None
    assert len(http.calls) == 0


def test_unknown_user_is_no_assignee_and_create_omits_it(http: responses.RequestsMock) -> None:
    # Data Center userkeys Confluence could not resolve reach the adapter without a username; Cloud account
    # ids go to Jira as they are and an unknown one is reported per item by the bulk create (test_daemon_e2e).
    http.post(DC_JIRA + "/rest/api/2/issue/bulk", status=201, json={"issues": [{"id": "1", "key": "OPS-1"}]})
    jira, _ = adapters("datacenter")
    jira.create_issues([IssueFields(summary="a", assignee=Owner(userkey="gone"))])
    assert "assignee" not in body(http.calls[-1])["issueUpdates"][0]["fields"]
    assert [call.request.method for call in http.calls] == ["POST"]  # no user look-up in Jira


def test_an_edit_refused_for_its_assignee_raises_assignee_rejected(http: responses.RequestsMock) -> None:
    refusal = {"errorMessages": [], "errors": {"assignee": "User 'joe' cannot be assigned issues."}}
    http.put(DC_JIRA + "/rest/api/2/issue/OPS-1", status=400, json=refusal)
    http.put(DC_JIRA + "/rest/api/2/issue/OPS-1", status=400, json={"errorMessages": [], "errors": {
        "duedate": "Field 'duedate' cannot be set."}})
    jira, _ = adapters("datacenter")
    with pytest.raises(AssigneeRejected) as caught:
        jira.update_issue("OPS-1", {"due": date(2026, 12, 1), "assignee": Owner(username="joe")})
    assert caught.value.status == 400 and "cannot be assigned issues" in caught.value.message
    with pytest.raises(AtlassianError) as other:
        jira.update_issue("OPS-1", {"due": date(2026, 12, 1)})
    assert not isinstance(other.value, AssigneeRejected) and other.value.status == 400


def test_assignable_asks_user_assignable_search_by_each_deployments_identifier(
    http: responses.RequestsMock,
) -> None:
    http.get(DC_JIRA + "/rest/api/2/user/assignable/search", json=[{"name": "jdoe", "key": "JIRAUSER10100"}])
    http.get(DC_JIRA + "/rest/api/2/user/assignable/search", json=[])
    http.get(CLOUD + "/rest/api/2/user/assignable/search", json=[{"accountId": "557058:abc"}])
    dc, _ = adapters("datacenter")
    assert dc.assignable("OPS", Owner(username="jdoe")) is True
    assert dc.assignable("OPS", Owner(username="joe")) is False
    assert dc.assignable("OPS", Owner(userkey="8a7f808a7c1d2e3f017c1d9b4e2a0012")) is None
    assert query(http.calls[0]) == {"project": "OPS", "username": "jdoe", "maxResults": "50"}
    cloud, _ = adapters("cloud")
    assert cloud.assignable("OPS", Owner(account_id="557058:abc")) is True
    assert query(http.calls[2]) == {"project": "OPS", "accountId": "557058:abc", "maxResults": "50"}
