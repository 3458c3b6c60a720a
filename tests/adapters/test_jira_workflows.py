"""The Jira adapter's workflows at the HTTP boundary (`responses`): a required resolution filled in, one
Jira asks for without having said so, the done transition cached per project and issue type, and the
Epic Name of a Data Center epic."""

from __future__ import annotations

import responses

from sync.models import IssueFields
from tests.adapters.adapter_helpers import CLOUD, DC_JIRA, adapters, body, query

RESOLUTION = {"required": True, "name": "Resolution", "key": "resolution", "hasDefaultValue": False,
              "operations": ["set"], "schema": {"type": "resolution", "system": "resolution"},
              "allowedValues": [{"id": "1", "name": "Done"}, {"id": "2", "name": "Won't Do"}]}


def done(transition_id: str, **fields: dict) -> dict:
    return {"id": transition_id, "name": "Done", "to": {"name": "Done", "statusCategory": {"key": "done"}},
            "fields": fields}


def test_a_required_resolution_is_filled_with_the_configured_one(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/issue/OPS-1/transitions", json={"transitions": [done("61", resolution=RESOLUTION)]})
    http.post(CLOUD + "/rest/api/2/issue/OPS-1/transitions", status=204)
    jira, _ = adapters("cloud", done_resolution="Won't Do")
    assert jira.transition_to_done("OPS-1") is True
    assert query(http.calls[0]) == {"expand": "transitions.fields"}
    assert body(http.calls[1]) == {"transition": {"id": "61"}, "fields": {"resolution": {"name": "Won't Do"}}}


def test_no_resolution_is_sent_where_the_screen_has_none(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/issue/OPS-1/transitions", json={"transitions": [done("31")]})
    http.post(CLOUD + "/rest/api/2/issue/OPS-1/transitions", status=204)
    jira, _ = adapters("cloud")
    assert jira.transition_to_done("OPS-1") is True
    assert body(http.calls[1]) == {"transition": {"id": "31"}}


def test_a_resolution_jira_asks_for_without_listing_it_is_sent_again_with_it(http: responses.RequestsMock) -> None:
    """Data Center may under-report a transition's fields: its 400 is what tells."""
    http.get(DC_JIRA + "/rest/api/2/issue/OPS-1/transitions", json={"transitions": [done("31")]})
    http.post(DC_JIRA + "/rest/api/2/issue/OPS-1/transitions", status=400,
              json={"errorMessages": ["Field Resolution is required."], "errors": {}})
    http.post(DC_JIRA + "/rest/api/2/issue/OPS-1/transitions", status=204)
    jira, _ = adapters("datacenter")
    assert jira.transition_to_done("OPS-1") is True
    assert [body(call) for call in http.calls[1:]] == [
        {"transition": {"id": "31"}}, {"transition": {"id": "31"}, "fields": {"resolution": {"name": "Done"}}}]


def test_the_done_transition_is_cached_per_project_and_issue_type(http: responses.RequestsMock) -> None:
    for key, transition in (("OPS-1", done("31")), ("OPS-3", done("61", resolution=RESOLUTION))):
        http.get(CLOUD + f"/rest/api/2/issue/{key}/transitions", json={"transitions": [transition]})
    for key in ("OPS-1", "OPS-2", "OPS-3", "OPS-4"):
        http.post(CLOUD + f"/rest/api/2/issue/{key}/transitions", status=204)
    jira, _ = adapters("cloud")
    for key, kind in (("OPS-1", ("OPS", "Task")), ("OPS-2", ("OPS", "Task")), ("OPS-3", ("OPS", "Bug")),
                      ("OPS-4", ("OPS", "Bug"))):
        assert jira.transition_to_done(key, kind)
    posts = {call.request.url.split("/")[-2]: body(call) for call in http.calls if call.request.method == "POST"}
    assert [call.request.method for call in http.calls] == ["GET", "POST", "POST", "GET", "POST", "POST"]
    assert posts["OPS-2"] == {"transition": {"id": "31"}}
    assert posts["OPS-4"] == {"transition": {"id": "61"}, "fields": {"resolution": {"name": "Done"}}}


def test_a_data_center_epic_carries_its_epic_name(http: responses.RequestsMock) -> None:
    http.get(DC_JIRA + "/rest/api/2/field", json=[
        {"id": "customfield_10101", "name": "Epic Link",
         "schema": {"custom": "com.pyxis.greenhopper.jira:gh-epic-link"}},
        {"id": "customfield_12345", "name": "Nom de l'épique",
         "schema": {"type": "string", "custom": "com.pyxis.greenhopper.jira:gh-epic-label"}},
    ])
    http.post(DC_JIRA + "/rest/api/2/issue/bulk", status=201, json={"issues": [{"id": "1", "key": "OPS-1"}]})
    http.post(DC_JIRA + "/rest/api/2/issue/bulk", status=201, json={"issues": [{"id": "2", "key": "OPS-2"}]})
    jira, _ = adapters("datacenter", epic={"enabled": True})
    jira.create_issues([IssueFields(summary="Queue stall follow-ups", issue_type="Epic")])
    jira.create_issues([IssueFields(summary="Drain the queue", issue_type="Task")])
    epic_fields = body(http.calls[1])["issueUpdates"][0]["fields"]
    assert epic_fields["customfield_12345"] == "Queue stall follow-ups"
    assert "customfield_12345" not in body(http.calls[2])["issueUpdates"][0]["fields"]
    assert len(http.calls) == 3  # the field list is asked once


def test_cloud_epics_have_no_epic_name(http: responses.RequestsMock) -> None:
    http.post(CLOUD + "/rest/api/2/issue/bulk", status=201, json={"issues": [{"id": "1", "key": "OPS-1"}]})
    jira, _ = adapters("cloud", epic={"enabled": True})
    jira.create_issues([IssueFields(summary="Queue stall follow-ups", issue_type="Epic")])
    assert len(http.calls) == 1 and not any(k.startswith("customfield") for k in
                                            body(http.calls[0])["issueUpdates"][0]["fields"])


def test_an_unreadable_field_list_sends_the_epic_without_epic_name(http: responses.RequestsMock) -> None:
    """Nothing was sent yet, so the create is not interrupted: Jira's answer names the missing field."""
    http.get(DC_JIRA + "/rest/api/2/field", status=403, json={"errorMessages": ["no"], "errors": {}})
    http.post(DC_JIRA + "/rest/api/2/issue/bulk", status=400, json={"issues": [], "errors": [{
        "status": 400, "failedElementNumber": 0,
        "elementErrors": {"errorMessages": [], "errors": {"customfield_10100": "Epic Name is required."}}}]})
    jira, _ = adapters("datacenter", epic={"enabled": True})
    [result] = jira.create_issues([IssueFields(summary="Queue stall follow-ups", issue_type="Epic")])
    assert result.key is None and "Epic Name is required." in str(result.error)
