"""Jira and Confluence adapters at the HTTP boundary (`responses`): paths, paging, bodies, errors, secrets."""

from __future__ import annotations

import io
import json
import logging
import os
from datetime import date, datetime, timezone
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import responses
import structlog

from sync.atlassian import make_adapters, wiki_text
from sync.logs import configure_logging
from sync.models import IssueFields, Owner, Page
from sync.ports import (
    AtlassianError,
    AuthFailed,
    CreateInterrupted,
    NotFound,
    PermissionDenied,
    RateLimited,
    VersionConflict,
)
from sync.query import cql_quote, jql_quote
from sync.retry import Pacer, RetryPolicy
from sync.settings import Settings

TOKEN = "tok-SUPERSECRET-4242"
PAT = "pat-SUPERSECRET-9999"
EMAIL = "bot@example.com"
CLOUD = "https://acme.atlassian.net"
WIKI = CLOUD + "/wiki"
DC_JIRA = "https://jira.corp.example"
DC_WIKI = "https://confluence.corp.example"


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PMSYNC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []


def settings(deployment: str = "cloud", *, site: str | None = None, **jira: object) -> Settings:
    cloud = (site or deployment) != "datacenter"
    return Settings(
        jira={"url": CLOUD if cloud else DC_JIRA, "deployment": deployment, "email": EMAIL, "api_token": TOKEN,
              "pat": PAT, "project": "OPS", **jira},
        confluence={"url": WIKI if cloud else DC_WIKI, "spaces": ["PM"]},
    )


def adapters(deployment: str = "cloud", sleeps: list[float] | None = None, **jira: object):
    policy = RetryPolicy(sleep=(sleeps if sleeps is not None else []).append, jitter=lambda: 0.0)
    return make_adapters(settings(deployment, **jira), policy=policy, pacer=Pacer(1000))  # type: ignore[arg-type]


def query(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def body(call) -> object:
    return json.loads(call.request.body)


def issue(key: str, *, category: str = "new", assignee: dict | None = None, **fields: object) -> dict:
    return {
        "id": "10001",
        "key": key,
        "fields": {
            "summary": f"Summary of {key}",
            "status": {"name": "To Do", "statusCategory": {"key": category}},
            "labels": ["pmsync-abc"],
            "assignee": assignee,
            "duedate": "2026-07-01",
            "priority": {"name": "High"},
            "issuetype": {"name": "Task"},
            "project": {"key": "OPS"},
            "created": "2026-02-11T09:12:00.000+0000",
            "updated": "2026-02-12T10:00:00.000+0100",
            "resolutiondate": None,
            **fields,
        },
    }


def content(page_id: str, *, version: int = 3, title: str = "DB failover") -> dict:
    return {
        "id": page_id,
        "type": "page",
        "title": title,
        "space": {"key": "PM"},
        "version": {"number": version, "when": "2026-02-11T09:12:00.000Z"},
        "history": {"lastUpdated": {"when": "2026-02-11T09:12:00.000Z"}},
        "body": {"storage": {"value": f"<p>page {page_id}</p>", "representation": "storage"}},
        "metadata": {"labels": {"results": [{"prefix": "global", "name": "postmortem"}]}},
        "_links": {"webui": f"/spaces/PM/pages/{page_id}"},
    }


# --- construction and deployment -------------------------------------------------------------------


def test_constructors_do_no_io(http: responses.RequestsMock) -> None:
    jira, confluence = make_adapters(settings("auto"))
    assert len(http.calls) == 0
    assert jira.request_count == confluence.request_count == 0


def test_auto_deployment_asks_server_info_once_then_uses_cloud_search(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/serverInfo", json={"deploymentType": "Cloud", "version": "1001.0.0"})
    http.get(CLOUD + "/rest/api/3/search/jql", json={"issues": [issue("OPS-1")]})
    jira, confluence = adapters("auto")
    assert [snapshot.key for snapshot in jira.search("project = OPS")] == ["OPS-1"]
    assert jira.deployment == "cloud"
    assert "Authorization" not in http.calls[0].request.headers  # detection sends no credentials first
    assert http.calls[1].request.headers["Authorization"].startswith("Basic ")
    assert [urlsplit(call.request.url).path for call in http.calls].count("/rest/api/2/serverInfo") == 1


def test_auto_deployment_retries_detection_with_credentials_when_anonymous_is_refused(
    http: responses.RequestsMock,
) -> None:
    http.get(DC_JIRA + "/rest/api/2/serverInfo", status=401, json={"errorMessages": ["login required"]})
    http.get(DC_JIRA + "/rest/api/2/serverInfo", json={"deploymentType": "DataCenter"})
    jira, confluence = adapters("auto", site="datacenter")
    assert jira.deployment == "datacenter"
    assert confluence._connection.deployment == "datacenter"  # Confluence follows Jira
    # Not an atlassian.net host: the PAT is tried first, so the Cloud API token never travels there.
    assert http.calls[1].request.headers["Authorization"] == f"Bearer {PAT}" and len(http.calls) == 2


def test_datacenter_uses_bearer_pat_and_cloud_uses_basic(http: responses.RequestsMock) -> None:
    http.get(DC_JIRA + "/rest/api/2/serverInfo", json={"deploymentType": "DataCenter"})
    http.get(DC_WIKI + "/rest/api/content/1", json=content("1"))
    jira, confluence = adapters("datacenter")
    jira.server_info()
    confluence.get_page("1")
    assert {call.request.headers["Authorization"] for call in http.calls} == {f"Bearer {PAT}"}


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
    assert done.created == datetime(2026, 2, 11, 9, 12, tzinfo=timezone.utc)
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


def test_datacenter_assignee_is_a_name_looked_up_by_userkey(http: responses.RequestsMock) -> None:
    http.get(DC_JIRA + "/rest/api/2/user", json={"name": "jdoe", "key": "JIRAUSER10100"})
    jira, _ = adapters("datacenter")
    assert jira.resolve_assignee(Owner(userkey="JIRAUSER10100")) == {"name": "jdoe"}
    assert jira.resolve_assignee(Owner(userkey="JIRAUSER10100")) == {"name": "jdoe"}
    assert len(http.calls) == 1 and query(http.calls[0]) == {"key": "JIRAUSER10100"}
    assert jira.resolve_assignee(Owner(username="jdoe")) == {"name": "jdoe"}
    assert len(http.calls) == 1  # a username already is the Data Center assignee name
    assert jira.resolve_assignee(Owner(account_id="557058:abc")) is None


def test_unknown_user_is_no_assignee_and_create_omits_it(http: responses.RequestsMock) -> None:
    # Data Center userkeys are looked up (the assignee is a name); Cloud account ids go to Jira as they
    # are and an unknown one is reported per item by the bulk create (see test_daemon_e2e).
    http.get(DC_JIRA + "/rest/api/2/user", status=404, json={"errorMessages": ["not found"]})
    http.post(DC_JIRA + "/rest/api/2/issue/bulk", status=201, json={"issues": [{"id": "1", "key": "OPS-1"}]})
    jira, _ = adapters("datacenter")
    jira.create_issues([IssueFields(summary="a", assignee=Owner(userkey="gone"))])
    assert "assignee" not in body(http.calls[-1])["issueUpdates"][0]["fields"]


# --- Confluence --------------------------------------------------------------------------------------


def test_find_pages_follows_next_links_with_bodies(http: responses.RequestsMock) -> None:
    http.get(WIKI + "/rest/api/content/search", json={
        "results": [content("1"), content("2")],
        "_links": {"base": WIKI, "context": "/wiki", "next": "/rest/api/content/search?cql=x&cursor=abc&limit=2"}})
    http.get(WIKI + "/rest/api/content/search", json={"results": [content("3")], "_links": {"base": WIKI}})
    _, confluence = adapters("cloud")
    cql = f"type=page AND space={cql_quote('PM')} AND label={cql_quote('postmortem')}"
    pages = list(confluence.find_pages(cql, limit=2))
    assert [page.id for page in pages] == ["1", "2", "3"]
    first = query(http.calls[0])
    assert first["cql"] == cql and first["limit"] == "2"
    assert first["expand"] == "body.storage,version,space,history.lastUpdated,metadata.labels"
    assert query(http.calls[1]) == {"cql": "x", "cursor": "abc", "limit": "2"}
    page = pages[0]
    assert (page.title, page.version, page.body, page.space) == ("DB failover", 3, "<p>page 1</p>", "PM")
    assert page.labels == ("postmortem",)
    assert page.url == WIKI + "/spaces/PM/pages/1"
    assert page.last_modified == datetime(2026, 2, 11, 9, 12, tzinfo=timezone.utc)
    assert confluence.request_count == 2


def test_datacenter_find_pages_follows_start_links(http: responses.RequestsMock) -> None:
    http.get(DC_WIKI + "/rest/api/content/search", json={
        "results": [content("1")], "start": 0, "limit": 1,
        "_links": {"base": DC_WIKI, "next": "/rest/api/content/search?cql=x&start=1&limit=1"}})
    http.get(DC_WIKI + "/rest/api/content/search", json={"results": [], "start": 1, "_links": {"base": DC_WIKI}})
    _, confluence = adapters("datacenter")
    assert [page.id for page in confluence.find_pages("x", limit=1)] == ["1"]
    assert query(http.calls[1])["start"] == "1"


def test_next_link_to_another_host_is_not_followed(http: responses.RequestsMock) -> None:
    http.get(WIKI + "/rest/api/content/search", json={"results": [], "_links": {"next": "https://evil.example/steal"}})
    _, confluence = adapters("cloud")
    with pytest.raises(AtlassianError, match="another host"):
        list(confluence.find_pages("x"))
    assert len(http.calls) == 1


def test_update_page_sends_version_plus_one_as_minor_edit(http: responses.RequestsMock) -> None:
    http.put(WIKI + "/rest/api/content/42", json={**content("42", version=8), "body": {}})
    _, confluence = adapters("cloud")
    page = Page(id="42", title="DB failover", version=7, body="<p>old</p>", space="PM")
    updated = confluence.update_page(page, "<p>new</p>", message="postmortem-sync: add Jira keys")
    assert body(http.calls[0]) == {
        "id": "42", "type": "page", "title": "DB failover",
        "version": {"number": 8, "minorEdit": True, "message": "postmortem-sync: add Jira keys"},
        "body": {"storage": {"value": "<p>new</p>", "representation": "storage"}},
    }
    assert (updated.version, updated.body, updated.space) == (8, "<p>new</p>", "PM")


def test_update_page_conflict_raises_version_conflict(http: responses.RequestsMock) -> None:
    http.put(WIKI + "/rest/api/content/42", status=409, json={
        "statusCode": 409, "message": "Version must be incremented on update. Current version is: 9"})
    _, confluence = adapters("cloud")
    with pytest.raises(VersionConflict) as caught:
        confluence.update_page(Page(id="42", title="t", version=7, body=""), "<p/>", message="m")
    assert caught.value.status == 409 and "Current version is: 9" in str(caught.value)
    assert len(http.calls) == 1


def test_get_page_not_found(http: responses.RequestsMock) -> None:
    http.get(WIKI + "/rest/api/content/404", status=404, json={"statusCode": 404, "message": "No content found"})
    _, confluence = adapters("cloud")
    with pytest.raises(NotFound):
        confluence.get_page("404")


def test_create_find_label_and_url(http: responses.RequestsMock) -> None:
    http.post(WIKI + "/rest/api/content", json={"id": "77", "title": "Postmortem action items",
              "version": {"number": 1}, "space": {"key": "PM"}, "_links": {"webui": "/spaces/PM/pages/77"}})
    http.get(WIKI + "/rest/api/content", json={"results": [], "_links": {"base": WIKI}})
    http.post(WIKI + "/rest/api/content/77/label", json={"results": []})
    _, confluence = adapters("cloud")
    created = confluence.create_page("PM", "Postmortem action items", "<p>hi</p>", "5")
    assert body(http.calls[0]) == {
        "type": "page", "title": "Postmortem action items", "space": {"key": "PM"},
        "body": {"storage": {"value": "<p>hi</p>", "representation": "storage"}}, "ancestors": [{"id": "5"}]}
    assert (created.id, created.version, created.body) == ("77", 1, "<p>hi</p>")
    assert confluence.page_url(created) == WIKI + "/spaces/PM/pages/77"
    assert confluence.page_url(Page(id="9", title="t", version=1, body="")) == WIKI + "/pages/viewpage.action?pageId=9"
    assert confluence.find_page("PM", 'Say "hi"') is None
    assert query(http.calls[1])["title"] == 'Say "hi"' and query(http.calls[1])["spaceKey"] == "PM"


# --- errors and secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [(401, AuthFailed), (403, PermissionDenied), (404, NotFound),
                                               (409, VersionConflict), (400, AtlassianError)])
def test_http_errors_map_to_port_exceptions(http: responses.RequestsMock, status: int, error: type) -> None:
    http.get(CLOUD + "/rest/api/2/serverInfo", status=status, json={"errorMessages": [f"nope {status}"]})
    jira, _ = adapters("cloud")
    with pytest.raises(error) as caught:
        jira.server_info()
    assert caught.value.status == status


def test_persistent_429_becomes_rate_limited(http: responses.RequestsMock, sleeps: list[float]) -> None:
    http.get(CLOUD + "/rest/api/2/serverInfo", status=429, headers={"Retry-After": "2"}, json={})
    jira, _ = adapters("cloud", sleeps)
    with pytest.raises(RateLimited) as caught:
        jira.server_info()
    assert len(http.calls) == 5 and len(sleeps) == 4 and min(sleeps) >= 2  # default max_attempts
    assert caught.value.retry_after == 2


def test_library_retries_are_off(http: responses.RequestsMock) -> None:
    jira, confluence = adapters("cloud")
    for client in (jira._connection.client, confluence._connection.client):
        assert client.backoff_and_retry is False and client.retry_with_header is False
    assert type(confluence._connection.client).__name__ == "Server"  # the v1 server class, also on Cloud
    assert len(http.calls) == 0


@pytest.fixture
def log_output():
    """Logging configured as in production (JSON, DEBUG) into a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(log_format="json", level="DEBUG", secrets=settings().secret_values(), stream=stream)
    yield stream
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level


def test_no_token_in_exceptions_or_logs(http: responses.RequestsMock, log_output: io.StringIO) -> None:
    echo = {"errorMessages": [f"bad credentials {TOKEN} / {PAT}"]}
    http.get(CLOUD + "/rest/api/2/serverInfo", status=401, json=echo)
    http.get(CLOUD + "/rest/api/2/issue/OPS-1", status=503, json=echo)
    http.get(CLOUD + "/rest/api/2/issue/OPS-1", body=requests.ConnectionError(f"reset; auth was {TOKEN}"))
    http.get(CLOUD + "/rest/api/2/issue/OPS-1", status=400, json=echo)
    jira, _ = adapters("cloud")
    errors = []
    for call in (jira.server_info, lambda: jira.get_issue("OPS-1")):
        with pytest.raises(AtlassianError) as caught:
            call()
        errors.append(caught.value)
    http.get(CLOUD + "/rest/api/2/issue/OPS-2", body=requests.ConnectionError(f"reset; auth was {TOKEN}"))
    with pytest.raises(AtlassianError) as caught:
        jira.get_issue("OPS-2")
    errors.append(caught.value)
    structlog.get_logger("test").error("sync_failed", error=str(errors[0]), detail=f"token {TOKEN}")
    logged = log_output.getvalue()
    assert "request_retried" in logged and "sync_failed" in logged
    for text in [*(str(e) for e in errors), *(repr(e) for e in errors), logged]:
        assert TOKEN not in text and PAT not in text
    assert all(e.__cause__ is None and e.__suppress_context__ for e in errors)
