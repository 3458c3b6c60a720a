"""Confluence Cloud REST v2 (/wiki/api/v2): the routes a client needs where v1 content is retired, every
exchange validated against the official v2 spec; errors in v2's shape; none of it on Data Center."""

from __future__ import annotations

import requests

V2 = "/wiki/api/v2"


def _pm(cloud, clients) -> dict:
    found = clients.http.get(f"{cloud.url}{V2}/spaces", params={"keys": "pm"}).json()["results"]
    assert [space["key"] for space in found] == ["PM"]  # keys match case-insensitively
    return found[0]


def _postmortem(cloud) -> tuple[str, str]:
    with cloud.state.lock:
        page = next(p for p in cloud.state.confluence.pages.values() if p.title.startswith("Postmortem:"))
        return page.id, page.title


def test_find_by_title_is_exact_and_case_insensitive(cloud, connect):
    clients = connect(cloud)
    space = _pm(cloud, clients)
    page_id, title = _postmortem(cloud)

    def titles(wanted: str) -> list[str]:
        query = {"space-id": space["id"], "title": wanted, "status": "current", "body-format": "storage"}
        return [p["id"] for p in clients.http.get(f"{cloud.url}{V2}/pages", params=query).json()["results"]]

    assert titles(title) == titles(title.upper()) == [page_id]
    assert titles(title[:-1]) == [] and titles("") == []


def test_get_page_with_its_storage_body_and_links(cloud, connect):
    clients = connect(cloud)
    page_id, title = _postmortem(cloud)
    page = clients.http.get(f"{cloud.url}{V2}/pages/{page_id}", params={"body-format": "storage"}).json()
    with cloud.state.lock:
        stored = cloud.state.confluence.pages[page_id]
        assert page["body"]["storage"] == {"representation": "storage", "value": stored.body}
    assert page["title"] == title and page["status"] == "current" and page["version"]["number"] == 1
    assert page["_links"]["base"] == cloud.confluence_url and page["_links"]["webui"].startswith("/spaces/PM/pages/")
    assert clients.http.get(f"{cloud.url}{V2}/pages/{page_id}").json()["body"] == {}  # no body unless asked


def test_create_goes_under_the_homepage_and_update_is_a_major_edit(cloud, connect):
    clients = connect(cloud, allow_status=(409,))  # v2's spec lists no 409; Confluence answers a stale version so
    space = _pm(cloud, clients)
    created = clients.http.post(f"{cloud.url}{V2}/pages", json={
        "spaceId": space["id"], "status": "current", "title": "Made by v2",
        "body": {"representation": "storage", "value": "<p>one</p>"}}).json()
    assert created["parentId"] == space["homepageId"] and created["version"]["number"] == 1
    update = {"id": created["id"], "status": "current", "title": "Made by v2",
              "body": {"representation": "storage", "value": "<p>two</p>"}, "version": {"number": 2, "message": "m"}}
    updated = clients.http.put(f"{cloud.url}{V2}/pages/{created['id']}", json=update)
    assert updated.status_code == 200 and updated.json()["version"]["minorEdit"] is False
    stale = clients.http.put(f"{cloud.url}{V2}/pages/{created['id']}", json=update)
    assert stale.status_code == 409
    assert stale.json() == {"errors": [{"status": 409, "code": "CONFLICT", "detail": None,
                                        "title": "Version must be incremented on update. Current version is: 2"}]}
    with cloud.state.lock:
        versions = cloud.state.confluence.pages[created["id"]].versions
        history = [(v.number, v.minor_edit, v.body) for v in versions]
        assert history == [(1, False, "<p>one</p>"), (2, False, "<p>two</p>")]


def test_a_trashed_page_answers_with_its_status_unless_the_status_filter_leaves_it_out(cloud, connect):
    clients = connect(cloud)
    page_id, _ = _postmortem(cloud)
    cloud.delete_page(page_id)
    assert clients.http.get(f"{cloud.url}{V2}/pages/{page_id}").json()["status"] == "trashed"
    gone = clients.http.get(f"{cloud.url}{V2}/pages/{page_id}", params={"status": "current"})
    assert gone.status_code == 404
    assert gone.json() == {"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": None}]}
    assert clients.http.get(f"{cloud.url}{V2}/pages/4242").status_code == 404


def test_page_properties_by_key_then_by_id_with_versions(cloud, connect):
    clients = connect(cloud, allow_status=(409,))
    page_id, _ = _postmortem(cloud)
    base = f"{cloud.url}{V2}/pages/{page_id}/properties"
    assert clients.http.get(base, params={"key": "lease"}).json()["results"] == []
    made = clients.http.post(base, json={"key": "lease", "value": {"holder": "a"}}).json()
    assert made["version"]["number"] == 1
    again = clients.http.post(base, json={"key": "lease", "value": {"holder": "b"}})
    assert again.status_code == 400 and again.json()["errors"][0]["status"] == 400  # the key exists: a lost race
    found = clients.http.get(base, params={"key": "lease"}).json()["results"]
    assert [(p["id"], p["value"]) for p in found] == [(made["id"], {"holder": "a"})]
    put = {"key": "lease", "value": {"holder": "c"}, "version": {"number": 2}}
    assert clients.http.put(f"{base}/{made['id']}", json=put).json()["version"]["number"] == 2
    assert clients.http.put(f"{base}/{made['id']}", json=put).status_code == 409  # version 2 exists
    assert clients.http.get(f"{base}/{made['id']}").json()["value"] == {"holder": "c"}
    assert clients.http.delete(f"{base}/{made['id']}").status_code == 204


def test_operations_and_writes_follow_edit_restrictions(cloud, connect):
    clients = connect(cloud, allow_status=(403,))  # undeclared in v2's spec; Confluence refuses so
    page_id, _title = _postmortem(cloud)
    operations = clients.http.get(f"{cloud.url}{V2}/pages/{page_id}/operations").json()["operations"]
    assert {o["operation"] for o in operations} == {"read", "update", "delete"}
    cloud.restrict_page_edit(page_id)
    operations = clients.http.get(f"{cloud.url}{V2}/pages/{page_id}/operations").json()["operations"]
    assert [o["operation"] for o in operations] == ["read"]
    refused = clients.http.post(f"{cloud.url}{V2}/pages/{page_id}/properties", json={"key": "k", "value": 1})
    assert refused.status_code == 403 and refused.json()["errors"][0]["code"] == "FORBIDDEN"


def test_paging_follows_the_relative_next_link(cloud, connect):
    clients = connect(cloud)
    seen, link = [], f"{V2}/pages?limit=5&status=current"
    while link:
        document = clients.http.get(cloud.url + link).json()
        seen += [page["id"] for page in document["results"]]
        link = document["_links"].get("next")
    with cloud.state.lock:
        assert seen == sorted(cloud.state.confluence.pages, key=int)


def test_datacenter_has_no_v2(datacenter):
    bearer = {"Authorization": "Bearer sandbox-confluence-pat"}
    response = requests.get(f"{datacenter.url}{V2}/spaces", headers=bearer, timeout=5)
    assert response.status_code == 404
