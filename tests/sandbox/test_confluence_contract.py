"""Confluence v1 through atlassian-python-api (ConfluenceServer at <site>/wiki), both flavours,
every exchange validated against confluence-v1.swagger.v3.json."""

from __future__ import annotations

import pytest
from requests import HTTPError

from sandbox import BUNDLED_SEED_DIR
from sandbox.seed import read_seed_pages
from tests.sandbox.sandbox_helpers import follow_cql, query_of

POSTMORTEMS = 'type = page AND space = "PM" AND label = "postmortem"'


def test_cql_pages_by_cursor_on_cloud_and_by_start_on_datacenter(sandbox, connect):
    clients = connect(sandbox)
    hits, pages = follow_cql(clients.confluence, POSTMORTEMS + " ORDER BY lastmodified", limit=5)
    assert len(hits) == 13 and len({h["id"] for h in hits}) == 13
    assert [len(p["results"]) for p in pages] == [5, 5, 3]
    next_link = pages[0]["_links"]["next"]
    assert pages[0]["_links"]["base"] == sandbox.confluence_url and next_link.startswith("/rest/api/content/search?")
    if sandbox.options.is_cloud:
        assert "cursor" in query_of(next_link) and "start" not in query_of(next_link)
    else:
        assert query_of(next_link)["start"] == ["5"] and "cursor" not in query_of(next_link)
    assert "next" not in pages[-1]["_links"]
    modified = [h["version"]["when"] for h in hits]
    assert modified == sorted(modified)


def test_cql_filters_by_ancestor_title_and_lastmodified(sandbox, connect):
    clients = connect(sandbox)
    parent_id = sandbox.state.confluence.spaces["PM"].homepage_id
    children, _ = follow_cql(clients.confluence, f"ancestor = {parent_id} AND title ~ \"postmortem\"", limit=50)
    assert children and all("postmortem" in h["title"].lower() for h in children)
    recent_cql = 'space = PM AND lastmodified >= now("-3h") ORDER BY lastmodified DESC'
    recent, _ = follow_cql(clients.confluence, recent_cql, limit=50)
    assert 1 <= len(recent) < 13
    none, _ = follow_cql(clients.confluence, 'space = PM AND lastmodified > "2099-01-01 00:00"', limit=50)
    assert none == []


def test_cql_limit_is_capped_when_bodies_are_expanded(cloud, connect):
    clients = connect(cloud)
    search = "rest/api/content/search"
    storage = clients.confluence.get(search, params={"cql": "space = PM", "limit": 500, "expand": "body.storage"})
    export = clients.confluence.get(search, params={"cql": "space = PM", "limit": 500, "expand": "body.export_view"})
    assert (storage["limit"], export["limit"]) == (50, 25)
    assert "<" in export["results"][0]["body"]["export_view"]["value"]


def test_unsupported_or_broken_cql_is_a_clear_400(cloud, connect):
    clients = connect(cloud)
    for cql, fragment in (
        ("space = PM AND macro = jira", "does not support the field 'macro'"),
        ("space = PM AND (", "Could not parse cql"),
        ("colour = red", "No field exists with the name: 'colour'"),
    ):
        response = clients.http.get(cloud.confluence_url + "/rest/api/content/search", params={"cql": cql})
        assert response.status_code == 400
        body = response.json()
        assert body["statusCode"] == 400 and body["reason"] == "Bad Request" and fragment in body["message"]


def test_search_api_wraps_content_as_the_library_cql_call_expects(sandbox, connect):
    clients = connect(sandbox)
    result = clients.confluence.cql("label = postmortem", limit=3, expand="content.version")
    assert result["totalSize"] == 13 and result["size"] == 3
    assert result["results"][0]["content"]["version"]["number"] == 1


def test_every_seed_page_round_trips_byte_for_byte(sandbox, connect):
    clients = connect(sandbox)
    by_title = {seed.title: seed.body for seed in read_seed_pages(BUNDLED_SEED_DIR)}
    hits, _ = follow_cql(clients.confluence, POSTMORTEMS, limit=50, expand="body.storage,version")
    assert {h["title"]: h["body"]["storage"]["value"] for h in hits} == by_title
    page = hits[0]
    body = page["body"]["storage"]["value"]
    clients.confluence.put(f"rest/api/content/{page['id']}", data={
        "id": page["id"], "type": "page", "title": page["title"], "version": {"number": 2},
        "body": {"storage": {"value": body, "representation": "storage"}},
    })
    again = clients.confluence.get_page_by_id(page["id"], expand="body.storage")
    assert again["body"]["storage"]["value"].encode("utf-8") == body.encode("utf-8")


def test_get_page_with_the_daemons_expansions(sandbox, connect):
    clients = connect(sandbox)
    page_id = next(p.id for p in sandbox.state.confluence.pages.values() if p.labels)
    expand = "body.storage,version,space,history.lastUpdated,metadata.labels"
    page = clients.confluence.get_page_by_id(page_id, expand=expand)
    assert page["space"]["key"] == "PM" and page["version"]["number"] == 1
    assert page["history"]["lastUpdated"]["number"] == 1
    # the first example's seed line adds its themes (sandbox/examples/01-*.xml)
    assert [label["name"] for label in page["metadata"]["labels"]["results"]] == ["postmortem", "database", "failover"]
    webui = page["_links"]["webui"]
    assert page["_links"]["base"] == sandbox.confluence_url and page_id in webui
    user = page["version"]["by"]
    assert ("accountId" in user) == sandbox.options.is_cloud and ("userKey" in user) != sandbox.options.is_cloud


def test_update_needs_the_next_version_number_else_409(sandbox, connect):
    clients = connect(sandbox, allow_status=(409,))
    page = next(p for p in sandbox.state.confluence.pages.values() if p.labels)
    update = {"id": page.id, "type": "page", "title": page.title,
              "body": {"storage": {"value": "<p>edited</p>", "representation": "storage"}}}
    with pytest.raises(HTTPError) as stale:
        clients.confluence.put(f"rest/api/content/{page.id}", data={**update, "version": {"number": 1}})
    assert stale.value.response.status_code == 409
    assert stale.value.response.json()["message"] == "Version must be incremented on update. Current version is: 1"
    assert stale.value.response.json()["reason"] == "Conflict"
    next_version = {"number": 2, "minorEdit": True, "message": "pmsync"}
    saved = clients.confluence.put(f"rest/api/content/{page.id}", data={**update, "version": next_version})
    assert saved["version"]["number"] == 2 and saved["version"]["minorEdit"] is True
    with pytest.raises(HTTPError) as replay:
        clients.confluence.put(f"rest/api/content/{page.id}", data={**update, "version": {"number": 2}})
    assert "Current version is: 2" in replay.value.response.json()["message"]
    history = sandbox.state.confluence.page(page.id).versions
    assert [(v.number, v.minor_edit, v.message) for v in history] == [(1, False, ""), (2, True, "pmsync")]
    first = clients.confluence.get_page_by_id(page.id, expand="body.storage,version", version=1)
    assert (first["status"], first["version"]["number"]) == ("historical", 1)
    assert first["body"]["storage"]["value"] == history[0].body


def test_update_without_type_or_version_is_rejected(cloud, connect):
    clients = connect(cloud)
    page = next(iter(cloud.state.confluence.pages.values()))
    url = f"{cloud.confluence_url}/rest/api/content/{page.id}"
    response = clients.raw.put(url, json={"title": page.title, "type": "page"})
    assert response.status_code == 400 and "version" in response.json()["message"].lower()


def test_create_page_under_a_parent_and_refuse_a_duplicate_title(sandbox, connect):
    clients = connect(sandbox)
    parent_id = sandbox.state.confluence.spaces["PM"].homepage_id
    created = clients.confluence.create_page("PM", "Action item report", "<p>report</p>", parent_id=parent_id)
    assert created["ancestors"][-1]["id"] == parent_id and created["version"]["number"] == 1
    found = clients.confluence.get_page_by_title(space_key="PM", title="Action item report")
    assert [page["id"] for page in found["results"]] == [created["id"]]
    with pytest.raises(HTTPError) as duplicate:
        clients.confluence.create_page("PM", "action item report", "<p>again</p>", parent_id=parent_id)
    assert duplicate.value.response.status_code == 400
    assert duplicate.value.response.json()["message"].startswith("A page with this title already exists")
    kids = list(clients.confluence.get_page_child_by_type(parent_id, type="page", start=0, limit=100))
    assert created["id"] in [kid["id"] for kid in kids] and len(kids) == 14


def test_labels_are_added_listed_and_lower_cased(sandbox, connect):
    clients = connect(sandbox)
    page_id = next(p.id for p in sandbox.state.confluence.pages.values() if p.labels)
    clients.confluence.set_page_label(page_id, "PMSync-Page-1")
    twice = [{"prefix": "global", "name": "pmsync"}, {"prefix": "global", "name": "pmsync"}]
    clients.confluence.post(f"rest/api/content/{page_id}/label", data=twice)
    names = [label["name"] for label in clients.confluence.get_page_labels(page_id)["results"]]
    assert names == ["postmortem", "database", "failover", "pmsync-page-1", "pmsync"]
    hits, _ = follow_cql(clients.confluence, 'label = "pmsync-page-1"', limit=10)
    assert [h["id"] for h in hits] == [page_id]
    clients.confluence.remove_page_label(page_id, "pmsync")
    remaining = clients.confluence.get_page_labels(page_id)["results"]
    assert [label["name"] for label in remaining] == ["postmortem", "database", "failover", "pmsync-page-1"]


def test_space_current_user_and_missing_content(sandbox, connect):
    clients = connect(sandbox)
    assert clients.confluence.get_space("PM")["name"] == "Postmortems"
    assert clients.confluence.get("rest/api/user/current")["displayName"] == "Sandbox Automation"
    missing = clients.http.get(sandbox.confluence_url + "/rest/api/content/999")
    assert missing.status_code == 404 and missing.json()["reason"] == "Not Found"


def test_the_legacy_confluence_class_with_cloud_false_is_the_server_client(sandbox, connect):
    from atlassian import Confluence

    confluence = Confluence(url=sandbox.confluence_url, cloud=False, retry_with_header=False,
                            **sandbox.auth_kwargs("confluence"))
    page_id = sandbox.state.confluence.spaces["PM"].homepage_id
    assert confluence.get_page_by_id(page_id, expand="version")["version"]["number"] == 1


def test_the_cloud_class_calls_a_path_confluence_does_not_serve(cloud):
    """docs/atlassian-behaviours.md: Confluence(cloud=True).cql() requests /wiki/content/search; like Cloud,
    the sandbox 404s."""
    from atlassian import Confluence

    confluence = Confluence(url=cloud.confluence_url, cloud=True, retry_with_header=False, **cloud.auth_kwargs())
    with pytest.raises(HTTPError) as missing:
        confluence.cql("type = page")
    assert missing.value.response.status_code == 404
    assert missing.value.response.url.endswith("/wiki/content/search?cql=type+%3D+page")


def test_a_cursor_only_continues_its_own_query(cloud, connect):
    clients = connect(cloud)
    _, pages = follow_cql(clients.confluence, POSTMORTEMS, limit=5)
    cursor = query_of(pages[0]["_links"]["next"])["cursor"][0]
    search = f"{cloud.confluence_url}/rest/api/content/search"
    other = clients.http.get(search, params={"cql": "space = PM", "cursor": cursor})
    assert other.status_code == 400 and other.json()["message"].startswith("Invalid cursor")
