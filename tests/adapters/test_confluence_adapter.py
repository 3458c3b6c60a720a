"""The Confluence adapter at the HTTP boundary (`responses`): CQL paging by next links, page writes with versions.

Page reads and creates here are v1's (Data Center); Cloud's v2 calls are in test_confluence_v2_adapter.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import responses

from sync.atlassian.confluence import page_from_json
from sync.models import Page
from sync.ports import AtlassianError, NotFound, VersionConflict
from sync.query import cql_quote
from tests.adapters.adapter_helpers import DC_WIKI, WIKI, adapters, body, content, query

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
    assert page.last_modified == datetime(2026, 2, 11, 9, 12, tzinfo=UTC)
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


@pytest.mark.parametrize("deployment, url, error", [
    ("datacenter", DC_WIKI + "/rest/api/content/404", {"statusCode": 404, "message": "No content found"}),
    ("cloud", WIKI + "/api/v2/pages/404", {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found"}]}),
])
def test_get_page_not_found(http: responses.RequestsMock, deployment: str, url: str, error: dict) -> None:
    http.get(url, status=404, json=error)
    _, confluence = adapters(deployment)
    with pytest.raises(NotFound):
        confluence.get_page("404")


def test_create_find_label_and_url(http: responses.RequestsMock) -> None:
    http.post(DC_WIKI + "/rest/api/content", json={"id": "77", "title": "Postmortem action items",
              "version": {"number": 1}, "space": {"key": "PM"}, "_links": {"webui": "/spaces/PM/pages/77"}})
    http.get(DC_WIKI + "/rest/api/content", json={"results": [], "_links": {"base": DC_WIKI}})
    http.post(DC_WIKI + "/rest/api/content/77/label", json={"results": []})
    _, confluence = adapters("datacenter")
    created = confluence.create_page("PM", "Postmortem action items", "<p>hi</p>", "5")
    assert body(http.calls[0]) == {
        "type": "page", "title": "Postmortem action items", "space": {"key": "PM"},
        "body": {"storage": {"value": "<p>hi</p>", "representation": "storage"}}, "ancestors": [{"id": "5"}]}
    assert (created.id, created.version, created.body) == ("77", 1, "<p>hi</p>")
    assert created.url == DC_WIKI + "/spaces/PM/pages/77"  # Confluence's webui link on its own site
    assert page_from_json({"id": "9", "title": "t"}, site=WIKI).url is None  # no webui link: no URL is made up
    assert confluence.find_page("PM", 'Say "hi"') is None
    assert query(http.calls[1])["title"] == 'Say "hi"' and query(http.calls[1])["spaceKey"] == "PM"


# --- people ------------------------------------------------------------------------------------------


def test_datacenter_userkey_is_resolved_once_through_confluence(http: responses.RequestsMock) -> None:
    key = "8a7f808a7c1d2e3f017c1d9b4e2a0012"
    http.get(DC_WIKI + "/rest/api/user", json={"type": "known", "username": "jsmith", "userKey": key,
                                               "displayName": "Joe Smith"})
    http.get(DC_WIKI + "/rest/api/user", status=404, json={"statusCode": 404, "message": "No user found"})
    _, confluence = adapters("datacenter")
    for _ in range(3):  # asked once per userkey for the daemon's lifetime
        found = confluence.person(key)
        assert found is not None and (found.username, found.userkey, found.display) == ("jsmith", key, "Joe Smith")
    assert confluence.person("0" * 32) is None and confluence.person("0" * 32) is None
    assert [query(call) for call in http.calls] == [{"key": key}, {"key": "0" * 32}]


def test_cloud_has_no_userkeys_to_resolve(http: responses.RequestsMock) -> None:
    _, confluence = adapters("cloud")
    assert confluence.person("8a7f808a7c1d2e3f017c1d9b4e2a0012") is None
    assert len(http.calls) == 0
