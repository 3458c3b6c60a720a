"""The API gateway form (/ex/{product}/{cloudId}), the site's cloudId, and Confluence Cloud's retired v1
content routes (410 Gone through the gateway with `v1_content_gone`; the site host keeps v1)."""

from __future__ import annotations

import json

import pytest
import requests

from sandbox import SandboxOptions, running_sandbox
from sandbox.http.gateway import RETIRED_V1_ROUTES
from tests.openapi_contract import SPEC_DIR, recording
from tests.sandbox.sandbox_helpers import authorized_session

GONE = {"statusCode": 410, "data": {"authorized": True, "valid": True, "errors": [], "successful": True},
        "message": "com.atlassian.confluence.api.service.exceptions.GoneException: "
                   "This deprecated endpoint has been removed."}


@pytest.fixture
def retired():
    with running_sandbox(flavor="cloud", v1_content_gone=True) as sandbox:
        yield sandbox


def test_tenant_info_names_the_cloud_id_without_credentials(cloud, datacenter):
    assert requests.get(f"{cloud.url}/_edge/tenant_info", timeout=5).json() == {"cloudId": cloud.cloud_id}
    assert requests.get(f"{datacenter.url}/_edge/tenant_info", timeout=5).status_code == 404


def test_the_gateway_serves_both_products_under_their_own_paths(cloud):
    with authorized_session(cloud) as http, recording(http) as exchanges:
        assert http.get(f"{cloud.gateway_jira_url}/rest/api/3/myself").json()["emailAddress"] == "sandbox@example.com"
        assert http.get(f"{cloud.gateway_confluence_url}/rest/api/user/current").ok
        assert http.get(f"{cloud.gateway_confluence_url}/api/v2/spaces").ok
    assert len(exchanges) == 3  # each validated as the same call on the site
    stats = cloud.stats()["by_route"]
    assert stats["GET /rest/api/3/myself"] == stats["GET /wiki/api/v2/spaces"] == 1


def test_the_gateway_refuses_another_cloud_id_browser_pages_and_data_center(cloud, datacenter):
    with authorized_session(cloud) as http:
        assert http.get(f"{cloud.url}/ex/jira/not-this-site/rest/api/2/myself").status_code == 404
        assert http.get(f"{cloud.url}/ex/confluence/{cloud.cloud_id}/wiki/spaces/PM").status_code == 404
    with pytest.raises(RuntimeError):
        _ = datacenter.gateway_jira_url


def test_without_the_switch_v1_content_works_through_the_gateway(cloud):
    page_id = cloud.state.confluence.spaces["PM"].homepage_id
    with authorized_session(cloud) as http:
        assert http.get(f"{cloud.gateway_confluence_url}/rest/api/content/{page_id}").ok


def test_with_the_switch_retired_v1_routes_answer_410_through_the_gateway_only(retired):
    page_id = retired.state.confluence.spaces["PM"].homepage_id
    with authorized_session(retired) as http, recording(http, allow_status=(410,)):
        for url in (f"content/{page_id}", f"content/{page_id}/property/lease", "content?spaceKey=PM&title=x",
                    "space/PM", f"content/{page_id}/history"):
            response = http.get(f"{retired.gateway_confluence_url}/rest/api/{url}")
            assert (response.status_code, response.json()) == (410, GONE), url
        put = http.put(f"{retired.gateway_confluence_url}/rest/api/content/{page_id}", json={
            "type": "page", "title": "x", "version": {"number": 2, "minorEdit": True}})
        assert put.status_code == 410
        # kept: CQL search, labels, the current user; and every v1 route on the site host (classic tokens)
        for url in ("content/search?cql=type%3Dpage", f"content/{page_id}/label", "user/current"):
            assert http.get(f"{retired.gateway_confluence_url}/rest/api/{url}").ok, url
        assert http.get(f"{retired.confluence_url}/rest/api/content/{page_id}").ok
        assert http.get(f"{retired.gateway_confluence_url}/api/v2/pages/{page_id}").ok


def test_the_retired_routes_are_served_routes_marked_deprecated_in_the_v1_spec(retired):
    served = {route.name for route in retired.app.router.routes}
    assert served >= RETIRED_V1_ROUTES
    paths = json.loads((SPEC_DIR / "confluence-v1.json").read_text())["paths"]
    for name in RETIRED_V1_ROUTES:
        method, template = name.split(" ", 1)
        segments = template.split("/")
        matching = [p for p in paths if p.count("/") == template.count("/")
                    and all(a == b or a.startswith("{") for a, b in zip(p.split("/"), segments, strict=True))]
        assert any(paths[p].get(method.lower(), {}).get("deprecated") for p in matching), name


def test_wrong_credentials_through_the_gateway_still_get_401_not_410(retired):
    page_id = retired.state.confluence.spaces["PM"].homepage_id
    response = requests.get(f"{retired.gateway_confluence_url}/rest/api/content/{page_id}",
                            auth=("sandbox@example.com", "wrong"), timeout=5)
    assert response.status_code == 401


def test_the_switch_is_for_cloud_only():
    with pytest.raises(ValueError, match="Data Center"):
        SandboxOptions("datacenter", v1_content_gone=True)
