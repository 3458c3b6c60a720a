"""Deleting issues (REST) and moving them to another project (a user action: sb.move_issue and the admin
route), through atlassian-python-api in both flavours; every exchange is validated against the specs."""

from __future__ import annotations

import pytest
from requests import HTTPError

from sandbox.jira.store import ISSUE_NOT_FOUND
from tests.sandbox.sandbox_helpers import new_task


def _create(jira, summary: str = "Rotate the TLS certificate", labels: tuple[str, ...] = ("pmsync",)) -> str:
    return jira.issue_create(new_task(summary, labels=list(labels)))["key"]


def _keys(jira, jql: str) -> list[str]:
    return [issue["key"] for issue in jira.jql(jql, fields="summary")["issues"]]


def test_a_deleted_issue_is_gone_from_reads_and_search(sandbox, connect):
    jira = connect(sandbox).jira
    doomed, kept = _create(jira, "Doomed"), _create(jira, "Kept")
    jira.delete_issue(doomed)
    with pytest.raises(HTTPError) as missing:
        jira.issue(doomed)
    assert missing.value.response.status_code == 404
    assert missing.value.response.json() == {"errorMessages": [ISSUE_NOT_FOUND], "errors": {}}
    assert _keys(jira, "labels = pmsync") == [kept]
    with pytest.raises(HTTPError) as by_key:
        jira.jql(f"key = {doomed}")
    assert by_key.value.response.status_code == 400
    assert _create(jira, "After") == "OPS-3"  # numbers are never reused


def test_deleting_a_missing_issue_is_a_404(cloud, connect):
    clients = connect(cloud)
    response = clients.http.delete(f"{cloud.url}/rest/api/3/issue/OPS-99")
    assert response.status_code == 404 and response.json()["errorMessages"] == [ISSUE_NOT_FOUND]


def test_a_moved_issue_answers_to_its_old_key_under_its_new_one(sandbox, connect):
    jira = connect(sandbox).jira
    _create(jira, "Stays")
    old = _create(jira, "Moves", labels=("pmsync", "pmsync-item-1"))
    jira.issue_add_comment(old, "Carried along")
    jira.set_issue_property(old, "pmsync", {"item": "1"})
    assert sandbox.move_issue(old, "OTHER") == "OTHER-1"
    moved = jira.issue(old)
    assert moved["key"] == "OTHER-1" and moved["fields"]["project"]["key"] == "OTHER"
    assert moved["fields"]["labels"] == ["pmsync", "pmsync-item-1"]
    assert [c["body"] for c in moved["fields"]["comment"]["comments"]] == ["Carried along"]
    assert jira.get_issue_property(old, "pmsync")["value"] == {"item": "1"}
    jira.update_issue_field(old, {"summary": "Edited through the old key"})
    assert jira.issue("OTHER-1")["fields"]["summary"] == "Edited through the old key"


def test_jql_finds_a_moved_issue_by_its_former_key(sandbox, connect):
    jira = connect(sandbox).jira
    stays, old = _create(jira, "Stays"), _create(jira, "Moves")
    new = sandbox.move_issue(old, "OTHER")
    assert _keys(jira, f"key = {old}") == [new]
    assert sorted(_keys(jira, f"issuekey in ({old}, {stays})")) == sorted([new, stays])
    assert _keys(jira, "project = OPS AND labels = pmsync") == [stays]
    assert sorted(_keys(jira, "labels = pmsync")) == sorted([new, stays])


def test_moving_again_keeps_every_former_key(cloud, connect):
    jira = connect(cloud).jira
    first = _create(jira)
    second = cloud.move_issue(first, "OTHER")
    third = cloud.move_issue(second, "OPS")
    assert (second, third) == ("OTHER-1", "OPS-2")
    assert jira.issue(first)["key"] == jira.issue(second)["key"] == third
    jira.delete_issue(first)
    for key in (first, second, third):
        assert jira.get(f"rest/api/2/issue/{key}", advanced_mode=True).status_code == 404


def test_the_admin_route_moves_an_issue(cloud, connect):
    clients = connect(cloud)
    old = _create(clients.jira)
    moved = clients.raw.post(f"{cloud.url}/_sandbox/jira/issues/{old}/move", json={"project": "INFRA"})
    assert moved.status_code == 200
    assert moved.json() == {"id": "10000", "key": "INFRA-1", "from": old}
    same = clients.raw.post(f"{cloud.url}/_sandbox/jira/issues/INFRA-1/move", json={"project": "INFRA"})
    assert same.status_code == 400 and "already in project INFRA" in same.json()["error"]
    missing = clients.raw.post(f"{cloud.url}/_sandbox/jira/issues/OPS-99/move", json={"project": "INFRA"})
    assert missing.status_code == 404 and missing.json() == {"error": ISSUE_NOT_FOUND}
    invalid = clients.raw.post(f"{cloud.url}/_sandbox/jira/issues/INFRA-1/move", json={"project": "not a key"})
    assert invalid.status_code == 400
    unnamed = clients.raw.post(f"{cloud.url}/_sandbox/jira/issues/INFRA-1/move", json={})
    assert unnamed.status_code == 400
