"""Issue search: Cloud's /search/jql (nextPageToken, no total, 410 for the retired API), Data
Center's /search (startAt, total), JQL errors and search-index lag."""

from __future__ import annotations

import time

import pytest
from requests import HTTPError

from sandbox import running_sandbox
from tests.sandbox.sandbox_helpers import new_task, search_url


def _create(clients, count: int, **fields) -> list[str]:
    result = clients.jira.create_issues([{"fields": new_task(f"item {i}", **fields)} for i in range(count)])
    return [issue["key"] for issue in result["issues"]]


def test_cloud_search_pages_by_next_page_token(cloud, connect):
    clients = connect(cloud)
    keys = _create(clients, 7, labels=["pmsync"])
    seen, token, pages = [], None, 0
    while True:
        page = clients.jira.enhanced_jql("labels = pmsync ORDER BY key", "key,summary", nextPageToken=token, limit=3)
        assert "total" not in page
        seen += [issue["key"] for issue in page["issues"]]
        pages += 1
        token = page.get("nextPageToken")
        if token is None:
            assert page["isLast"] is True
            break
        assert page["isLast"] is False
    assert seen == keys and pages == 3


def test_cloud_search_returns_only_ids_by_default_and_posts_work(cloud, connect):
    clients = connect(cloud)
    keys = _create(clients, 2)
    ids_only = clients.http.get(search_url(cloud), params={"jql": "project = OPS"}).json()
    assert ids_only == {"issues": [{"id": "10001"}, {"id": "10000"}], "isLast": True}
    body = {"jql": "project = OPS ORDER BY key", "fields": ["summary", "labels"], "maxResults": 1}
    posted = clients.http.post(search_url(cloud), json=body).json()
    assert posted["issues"][0]["key"] == keys[0] and set(posted["issues"][0]["fields"]) == {"summary", "labels"}
    assert "nextPageToken" in posted


def test_cloud_caps_max_results_by_requested_fields(cloud, connect):
    clients = connect(cloud)
    _create(clients, 1)
    huge = {"jql": "project = OPS", "maxResults": 9000, "fields": "summary"}
    assert clients.http.get(search_url(cloud), params=huge).ok
    for count in (50, 50, 10):  # 111 issues: above the 100 cap for fields, below the 5000 cap for ids
        _create(clients, count)
    asking = {"jql": "project = OPS", "maxResults": 500}
    summaries = clients.http.get(search_url(cloud), params={**asking, "fields": "summary"}).json()
    ids = clients.http.get(search_url(cloud), params={**asking, "fields": "key"}).json()
    assert (len(summaries["issues"]), len(ids["issues"])) == (100, 111)


def test_cloud_answers_the_retired_search_api_with_410(cloud, connect):
    clients = connect(cloud, allow_status=(410,))
    for version in ("2", "3"):
        gone = clients.http.get(f"{cloud.url}/rest/api/{version}/search", params={"jql": "project = OPS"})
        assert gone.status_code == 410
        removed = "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API."
        assert gone.json()["errorMessages"][0].startswith(removed)


def test_datacenter_search_pages_by_start_at_with_total(datacenter, connect):
    clients = connect(datacenter)
    keys = _create(clients, 5, labels=["pmsync"])
    first = clients.jira.jql("labels = pmsync ORDER BY key", fields="summary,status", start=0, limit=2)
    last = clients.jira.jql("labels = pmsync ORDER BY key", fields="summary,status", start=4, limit=2)
    assert (first["total"], first["startAt"], first["maxResults"]) == (5, 0, 2)
    assert [i["key"] for i in first["issues"]] == keys[:2] and [i["key"] for i in last["issues"]] == keys[4:]
    assert set(first["issues"][0]["fields"]) == {"summary", "status"}
    enhanced = clients.raw.get(f"{datacenter.url}/rest/api/2/search/jql", params={"jql": "project = OPS"})
    assert enhanced.status_code == 404


@pytest.mark.parametrize(
    "jql, expected",
    [
        ("labels = a", ["OPS-1", "OPS-2"]),
        ("labels in (a, c) AND NOT labels = b", ["OPS-1"]),
        ("labels != b", ["OPS-1"]),  # as in Jira, != never matches an issue without labels
        ("labels is EMPTY", ["OPS-3"]),
        ("statusCategory = Done", ["OPS-2"]),
        ("statusCategory != done and status = \"To Do\"", ["OPS-1", "OPS-3"]),
        ("resolution = Unresolved", ["OPS-1", "OPS-3"]),
        ("key in (OPS-1, OPS-3) OR issuekey = OPS-2", ["OPS-1", "OPS-2", "OPS-3"]),
        ("updated >= -5m AND created <= now() AND resolutiondate is not EMPTY", ["OPS-2"]),
        ('created >= "2020-01-01 10:00" AND duedate < "2026/06/01"', ["OPS-1"]),
        ("summary ~ 'third'", ["OPS-3"]),
        ('project = OPS AND (labels = "a" OR labels = c) ORDER BY key DESC', ["OPS-2", "OPS-1"]),
    ],
)
def test_jql_subset(sandbox, connect, jql, expected):
    clients = connect(sandbox)
    clients.jira.create_issues([
        {"fields": new_task("first", labels=["a"], duedate="2026-05-01")},
        {"fields": new_task("second", labels=["a", "b"])},
        {"fields": new_task("third")},
    ])
    clients.jira.set_issue_status_by_transition_id("OPS-2", "31")
    found = clients.http.get(search_url(sandbox), params={"jql": jql, "fields": "key"}).json()["issues"]
    keys = [issue["key"] for issue in found]
    assert (keys if "ORDER BY" in jql else sorted(keys)) == expected


@pytest.mark.parametrize(
    "jql, message",
    [
        ("project = OPS AND", "Error in the JQL Query: Expecting a field name before the end of the query"),
        ("labels ~ x", "The operator '~' is not supported by the 'labels' field."),
        ("fixVersion = 1.0", "Error in the JQL Query: the sandbox does not support the field 'fixVersion'."),
        ("colour = red", "Field 'colour' does not exist or you do not have permission to view it."),
        ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
        ("key = OPS-404", "An issue with key 'OPS-404' does not exist for field 'key'."),
        ('updated >= "yesterday"', "Date value 'yesterday' for field 'updated' is invalid."),
        ('summary ~ "unterminated', "Error in the JQL Query: Unexpected character"),
    ],
)
def test_jql_errors_are_jiras_400(sandbox, connect, jql, message):
    clients = connect(sandbox)
    response = clients.http.get(search_url(sandbox), params={"jql": jql})
    assert response.status_code == 400 and response.json()["errors"] == {}
    assert response.json()["errorMessages"][0].startswith(message)


def test_cloud_refuses_unbounded_queries(cloud, connect):
    clients = connect(cloud, allow_status=(400,))
    with pytest.raises(HTTPError) as unbounded:
        clients.jira.enhanced_jql("ORDER BY created DESC", fields="key")
    assert "Unbounded JQL queries are not allowed here" in unbounded.value.response.json()["errorMessages"][0]


def test_quoted_values_with_escapes(cloud, connect):
    clients = connect(cloud)
    _create(clients, 1)
    clients.jira.update_issue_field("OPS-1", {"summary": 'Fix the "primary" lag'})
    found = clients.jira.enhanced_jql('summary ~ "\\"primary\\"" AND project = \'OPS\'', fields="summary")
    assert [issue["fields"]["summary"] for issue in found["issues"]] == ['Fix the "primary" lag']


def test_search_lag_hides_new_values_until_the_index_catches_up(connect):
    with running_sandbox(flavor="cloud", search_lag_ms=300) as lagging:
        clients = connect(lagging)
        key = clients.jira.issue_create(new_task(labels=["pmsync"]))["key"]
        by_label = lambda: clients.jira.enhanced_jql("labels = pmsync", fields="labels")["issues"]  # noqa: E731
        assert by_label() == []
        assert clients.jira.issue(key)["fields"]["labels"] == ["pmsync"]  # reads by key are immediate
        body = {"jql": "labels = pmsync", "reconcileIssues": [10000]}
        reconciled = clients.http.post(search_url(lagging), json=body).json()
        assert [i["id"] for i in reconciled["issues"]] == ["10000"]
        time.sleep(0.35)
        assert [i["key"] for i in by_label()] == [key]
        clients.jira.edit_issue(key, {"labels": [{"add": "pmsync-removed"}]})
        assert by_label()[0]["fields"]["labels"] == ["pmsync"]  # the old value until the lag passes
        time.sleep(0.35)
        assert by_label()[0]["fields"]["labels"] == ["pmsync", "pmsync-removed"]


def test_page_tokens_only_continue_their_own_query(cloud, connect):
    clients = connect(cloud)
    _create(clients, 3)
    token = clients.jira.enhanced_jql("project = OPS", "key", limit=1)["nextPageToken"]
    assert clients.jira.enhanced_jql("project = OPS", "key", nextPageToken=token, limit=1)["issues"]
    for bad in (token + "x!", clients.jira.enhanced_jql("project = OPS ORDER BY key", "key", limit=1)["nextPageToken"]):
        response = clients.http.get(search_url(cloud), params={"jql": "project = OPS", "nextPageToken": bad})
        assert response.status_code == 400 and "next page token is invalid" in response.json()["errorMessages"][0]
