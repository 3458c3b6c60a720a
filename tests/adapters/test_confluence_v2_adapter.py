"""Confluence Cloud at the HTTP boundary (`responses`): v2 where v1 content is deprecated, v1 for minor
edits until it answers 410, the API gateway apart from the links people click, and what is remembered."""

from __future__ import annotations

import pytest
import responses

from sync.atlassian import make_adapters
from sync.models import Page
from sync.ports import AuthFailed, NotFound, VersionConflict
from sync.retry import Pacer, RetryPolicy
from sync.settings import Settings
from tests.adapters.adapter_helpers import CLOUD, DC_WIKI, EMAIL, TOKEN, WIKI, adapters, body, query

V2 = WIKI + "/api/v2"
GATEWAY_JIRA = "https://api.atlassian.com/ex/jira/c0ffee"
GATEWAY_WIKI = "https://api.atlassian.com/ex/confluence/c0ffee/wiki"
GONE = {"statusCode": 410, "data": {"authorized": True, "valid": True, "errors": [], "successful": True},
        "message": "com.atlassian.confluence.api.service.exceptions.GoneException: "
                   "This deprecated endpoint has been removed."}
PAGE = Page(id="42", title="DB failover", version=7, body="<p>old</p>", space="PM")


def v2_page(page_id: str = "42", *, version: int = 8, status: str = "current", base: str = WIKI) -> dict:
    return {"id": page_id, "status": status, "title": "DB failover", "spaceId": "98305",
            "version": {"number": version, "createdAt": "2026-02-11T09:12:00.000Z", "minorEdit": False},
            "body": {"storage": {"representation": "storage", "value": "<p>v2 body</p>"}},
            "_links": {"webui": f"/spaces/PM/pages/{page_id}/DB+failover", "base": base}}


class Meta:
    """A MetaStore in memory, standing in for the state between two runs."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def meta(self) -> dict[str, str]:
        return dict(self.values)

    def set_meta(self, **values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                self.values.pop(name, None)
            else:
                self.values[name] = value


def run(meta: Meta, **overrides: dict):
    """Adapters as one `once` run builds them, with the state's meta as memory."""
    jira = {"url": CLOUD, "email": EMAIL, "api_token": TOKEN, "project": "OPS", **overrides.get("jira", {})}
    confluence = {"url": WIKI, "spaces": ["PM"], **overrides.get("confluence", {})}
    policy = RetryPolicy(sleep=lambda _: None, jitter=lambda: 0.0)
    return make_adapters(Settings(jira=jira, confluence=confluence), policy=policy, pacer=Pacer(1000), memory=meta)


def paths(http: responses.RequestsMock) -> list[str]:
    return [f"{call.request.method} {call.request.url.split('?')[0]}" for call in http.calls]


# --- v2 where v1 content is deprecated ------------------------------------------------------------


def test_cloud_reads_a_page_through_v2_and_a_trashed_one_is_absent(http: responses.RequestsMock) -> None:
    http.get(V2 + "/pages/42", json=v2_page())
    http.get(V2 + "/pages/43", json=v2_page("43", status="trashed"))
    _, confluence = adapters("cloud")
    page = confluence.get_page("42")
    assert query(http.calls[0]) == {"body-format": "storage"}
    assert (page.id, page.title, page.version, page.body) == ("42", "DB failover", 8, "<p>v2 body</p>")
    assert page.url == WIKI + "/spaces/PM/pages/42/DB+failover"
    with pytest.raises(NotFound):
        confluence.get_page("43")


def test_find_and_create_name_the_space_by_its_id_asked_once(http: responses.RequestsMock) -> None:
    http.get(V2 + "/spaces", json={"results": [{"id": "98305", "key": "PM"}], "_links": {"base": WIKI}})
    http.get(V2 + "/pages", json={"results": [], "_links": {"base": WIKI}})
    http.post(V2 + "/pages", json=v2_page("77", version=1))
    _, confluence = adapters("cloud")
    assert confluence.find_page("PM", "Postmortem action items") is None
    created = confluence.create_page("PM", "Postmortem action items", "<p>hi</p>", "5")
    assert paths(http) == [f"GET {V2}/spaces", f"GET {V2}/pages", f"POST {V2}/pages"]
    assert query(http.calls[0]) == {"keys": "PM", "limit": "1"}
    assert query(http.calls[1]) == {"space-id": "98305", "title": "Postmortem action items", "status": "current",
                                    "body-format": "storage", "limit": "1"}
    assert body(http.calls[2]) == {"spaceId": "98305", "status": "current", "title": "Postmortem action items",
                                   "body": {"representation": "storage", "value": "<p>hi</p>"}, "parentId": "5"}
    assert (created.id, created.version, created.space) == ("77", 1, "PM")


def test_page_properties_are_found_by_key_and_written_by_id(http: responses.RequestsMock) -> None:
    lease = {"id": "3000001", "key": "pmsync-lease", "value": {"holder": "a"}, "version": {"number": 4}}
    http.get(V2 + "/pages/42/properties", json={"results": [lease], "_links": {}})
    http.put(V2 + "/pages/42/properties/3000001", json={**lease, "version": {"number": 5}})
    http.post(V2 + "/pages/43/properties", status=400, json={"errors": [{"status": 400, "title": "exists"}]})
    _, confluence = adapters("cloud")
    assert confluence.get_property("42", "pmsync-lease") == ({"holder": "a"}, 4)
    confluence.set_property("42", "pmsync-lease", {"holder": "b"}, 4)
    assert query(http.calls[0]) == {"key": "pmsync-lease"}
    assert body(http.calls[1]) == {"key": "pmsync-lease", "value": {"holder": "b"}, "version": {"number": 5}}
    with pytest.raises(VersionConflict):  # another writer created it first
        confluence.set_property("43", "pmsync-lease", {"holder": "b"}, None)
    assert len(http.calls) == 3  # the id came with the read: no look-up before the write


def test_can_edit_reads_the_page_operations(http: responses.RequestsMock) -> None:
    http.get(V2 + "/pages/42/operations", json={"operations": [{"operation": "read", "targetType": "page"}]})
    _, confluence = adapters("cloud")
    assert confluence.can_edit("42") is False


# --- minor edits: v1 while it is there ------------------------------------------------------------


def test_a_minor_edit_goes_through_v1_while_it_works(http: responses.RequestsMock) -> None:
    http.put(WIKI + "/rest/api/content/42", json={"id": "42", "version": {"number": 8}})
    _, confluence = adapters("cloud")
    confluence.update_page(PAGE, "<p>new</p>", message="m")
    assert paths(http) == [f"PUT {WIKI}/rest/api/content/42"]
    assert body(http.calls[0])["version"] == {"number": 8, "minorEdit": True, "message": "m"}


def test_a_410_sends_the_edit_through_v2_and_later_runs_go_there_directly(http: responses.RequestsMock) -> None:
    http.put(WIKI + "/rest/api/content/42", status=410, json=GONE)
    http.put(V2 + "/pages/42", json=v2_page(version=8))
    meta = Meta()
    _, confluence = run(meta, jira={"deployment": "cloud"})
    updated = confluence.update_page(PAGE, "<p>new</p>", message="m")
    assert paths(http) == [f"PUT {WIKI}/rest/api/content/42", f"PUT {V2}/pages/42"]
    assert body(http.calls[1]) == {"id": "42", "status": "current", "title": "DB failover",
                                   "body": {"representation": "storage", "value": "<p>new</p>"},
                                   "version": {"number": 8, "message": "m"}}
    assert (updated.version, updated.body) == (8, "<p>new</p>")
    confluence.update_page(PAGE, "<p>newer</p>", message="m")
    _, next_run = run(meta, jira={"deployment": "cloud"})
    next_run.update_page(PAGE, "<p>newest</p>", message="m")
    assert paths(http)[2:] == [f"PUT {V2}/pages/42", f"PUT {V2}/pages/42"]


def test_a_major_edit_goes_straight_to_v2_and_data_center_keeps_v1(http: responses.RequestsMock) -> None:
    http.put(V2 + "/pages/42", json=v2_page(version=8))
    http.put(DC_WIKI + "/rest/api/content/42", json={"id": "42", "version": {"number": 8}})
    _, confluence = adapters("cloud")
    confluence.update_page(PAGE, "<p>new</p>", message="m", minor_edit=False)
    _, datacenter = adapters("datacenter")
    datacenter.update_page(PAGE, "<p>new</p>", message="m", minor_edit=False)
    assert paths(http) == [f"PUT {V2}/pages/42", f"PUT {DC_WIKI}/rest/api/content/42"]
    assert body(http.calls[1])["version"]["minorEdit"] is False


# --- the API gateway, apart from the links people click ---------------------------------------------


def test_through_the_gateway_calls_go_there_and_links_point_at_the_site(http: responses.RequestsMock) -> None:
    gateway_v2 = GATEWAY_WIKI + "/api/v2"
    http.get(gateway_v2 + "/pages/42", json=v2_page(base=GATEWAY_WIKI))  # a base on the gateway is no browse link
    http.get(GATEWAY_WIKI + "/rest/api/content/search", json={
        "results": [], "_links": {"base": WIKI, "next": "/rest/api/content/search?cursor=a"}})
    http.get(GATEWAY_WIKI + "/rest/api/content/search", json={
        "results": [], "_links": {"base": WIKI, "next": WIKI + "/rest/api/content/search?cursor=b"}})
    http.get(GATEWAY_WIKI + "/rest/api/content/search", json={"results": [], "_links": {"base": WIKI}})
    meta = Meta()
    jira, confluence = run(meta, jira={"api_url": GATEWAY_JIRA}, confluence={"api_url": GATEWAY_WIKI})
    assert jira.deployment == "cloud"  # only Cloud is behind the gateway: nothing is asked
    assert confluence.get_page("42").url == WIKI + "/spaces/PM/pages/42/DB+failover"
    list(confluence.find_pages("type=page"))
    assert [query(call).get("cursor") for call in http.calls[1:]] == [None, "a", "b"]
    assert all(call.request.url.startswith("https://api.atlassian.com/") for call in http.calls)
    assert meta.values == {}


# --- deployment detection, remembered --------------------------------------------------------------


def test_the_deployment_is_detected_once_per_site_and_asked_again_when_refused(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/serverInfo", json={"deploymentType": "Cloud"})
    http.get(CLOUD + "/rest/api/3/search/jql", json={"issues": [], "isLast": True})
    meta = Meta()
    for _ in range(3):
        jira, _ = run(meta)
        list(jira.search("project = OPS"))
    assert paths(http).count(f"GET {CLOUD}/rest/api/2/serverInfo") == 1
    assert meta.values == {f"site {CLOUD}": '{"deployment": "cloud"}'}
    http.replace(responses.GET, CLOUD + "/rest/api/3/search/jql", status=401, body="Unauthorized")
    jira, _ = run(meta)
    with pytest.raises(AuthFailed):
        list(jira.search("project = OPS"))
    assert meta.values == {}  # forgotten: the next run asks serverInfo again
    jira, _ = run(meta, jira={"url": "https://other.atlassian.net"})
    http.get("https://other.atlassian.net/rest/api/2/serverInfo", json={"deploymentType": "Cloud"})
    assert jira.deployment == "cloud" and "site https://other.atlassian.net" in meta.values


def test_a_missing_search_route_forgets_the_deployment_too(http: responses.RequestsMock) -> None:
    meta = Meta()
    meta.set_meta(**{f"site {CLOUD}": '{"deployment": "cloud"}'})
    http.get(CLOUD + "/rest/api/3/search/jql", status=404, json={"errorMessages": ["null for uri"], "errors": {}})
    jira, _ = run(meta)
    with pytest.raises(NotFound):
        list(jira.search("project = OPS"))
    assert meta.values == {}
