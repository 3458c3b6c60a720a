"""A page the sandbox user may read but not edit (`Sandbox.restrict_page_edit`): PUT content answers
Confluence's 403 and changes nothing, `expand=operations` drops "update", and (Cloud) the permission
check says no. Every exchange is validated against the official confluence-v1 spec."""

from __future__ import annotations

import pytest
import requests
from requests import HTTPError

from sandbox import running_sandbox
from sandbox.http.errors import ApiError

PAGE_CLASS = "class com.atlassian.confluence.pages.Page"
CLOUD_PREFIX = "com.atlassian.confluence.api.service.exceptions.PermissionException: "


def refusal(sandbox, page_id: str) -> dict:
    """Confluence's 403 body for an update its restrictions forbid."""
    message = f"Could not update Content of type : {PAGE_CLASS} with id {page_id}"
    data = {"authorized": False, "valid": True, "allowedInReadOnlyMode": True, "errors": [], "successful": False}
    prefix = CLOUD_PREFIX if sandbox.options.is_cloud else ""
    return {"statusCode": 403, "data": data, "message": prefix + message, "reason": "Forbidden"}


def new_page(confluence, title: str = "Postmortem action items") -> str:
    return confluence.create_page("PM", title, "<p>old</p>")["id"]


def operations(confluence, page_id: str) -> list[dict]:
    return confluence.get(f"rest/api/content/{page_id}", params={"expand": "operations"})["operations"]


def check(clients, sandbox, page_id: str, operation: str, identifier: str | None = None) -> requests.Response:
    """POST content/{id}/permission/check for a user (the sandbox user unless named)."""
    subject = {"type": "user", "identifier": identifier or sandbox.state.api_user.account_id}
    return clients.http.post(f"{sandbox.confluence_url}/rest/api/content/{page_id}/permission/check",
                             json={"subject": subject, "operation": operation})


def test_an_update_of_a_restricted_page_is_refused_and_changes_nothing(sandbox, connect):
    confluence = connect(sandbox).confluence
    page_id = new_page(confluence)
    sandbox.restrict_page_edit(page_id)
    with pytest.raises(HTTPError) as refused:
        confluence.update_page(page_id, "Postmortem action items", "<p>new</p>")
    assert refused.value.response.status_code == 403
    assert refused.value.response.json() == refusal(sandbox, page_id)
    page = confluence.get_page_by_id(page_id, expand="body.storage,version")
    assert (page["title"], page["body"]["storage"]["value"], page["version"]["number"]) == (
        "Postmortem action items", "<p>old</p>", 1)


def test_the_403_comes_before_any_version_or_title_problem(sandbox, connect):
    clients = connect(sandbox)
    page_id = new_page(clients.confluence)
    sandbox.restrict_page_edit(page_id)
    body = {"type": "page", "title": "Renamed", "version": {"number": 1},  # a stale version: would be 409
            "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}}
    stale = clients.http.put(f"{sandbox.confluence_url}/rest/api/content/{page_id}", json=body)
    assert (stale.status_code, stale.json()) == (403, refusal(sandbox, page_id))


def test_other_pages_stay_editable(sandbox, connect):
    confluence = connect(sandbox).confluence
    restricted, free = new_page(confluence), new_page(confluence, "Another page")
    sandbox.restrict_page_edit(restricted)
    confluence.update_page(free, "Another page", "<p>new</p>")
    assert confluence.get_page_by_id(free, expand="version")["version"]["number"] == 2


def test_expand_operations_lists_update_only_where_the_user_may_edit(sandbox, connect):
    confluence = connect(sandbox).confluence
    page_id = new_page(confluence)
    editable = operations(confluence, page_id)
    assert {"operation": "update", "targetType": "page"} in editable
    assert {"operation": "read", "targetType": "page"} in editable
    sandbox.restrict_page_edit(page_id)
    assert operations(confluence, page_id) == [{"operation": "read", "targetType": "page"}]


def test_the_permission_check_on_cloud_answers_for_the_sandbox_user(cloud, connect):
    clients = connect(cloud)
    page_id = new_page(clients.confluence)
    assert check(clients, cloud, page_id, "update").json() == {"hasPermission": True, "errors": []}
    cloud.restrict_page_edit(page_id)
    refused = check(clients, cloud, page_id, "update")
    assert refused.status_code == 200
    assert refused.json() == {"hasPermission": False,
                              "errors": [{"translation": "User does not have permission to the content", "args": []}]}
    assert check(clients, cloud, page_id, "delete").json()["hasPermission"] is False
    assert check(clients, cloud, page_id, "read").json()["hasPermission"] is True


def test_the_permission_check_refuses_what_it_cannot_answer(cloud, connect):
    clients = connect(cloud)
    page_id = new_page(clients.confluence)
    someone_else = next(u for u in cloud.state.directory.all() if u != cloud.state.api_user).account_id
    other = check(clients, cloud, page_id, "update", identifier=someone_else)
    assert other.status_code == 403 and other.json()["statusCode"] == 403
    assert check(clients, cloud, "999999", "update").status_code == 404
    bad = clients.raw.post(f"{cloud.confluence_url}/rest/api/content/{page_id}/permission/check",
                           json={"subject": {"type": "user", "identifier": "x"}, "operation": "fly"})
    assert bad.status_code == 400 and "read, update, delete" in bad.json()["message"]


def test_datacenter_has_no_permission_check(datacenter, connect):
    clients = connect(datacenter)
    page_id = new_page(clients.confluence)
    missing = check(clients, datacenter, page_id, "update")
    assert missing.status_code == 404 and missing.json()["message"].startswith("null for uri: ")


def test_the_admin_route_restricts_a_page(sandbox, connect):
    confluence = connect(sandbox).confluence
    page_id = new_page(confluence)
    restricted = requests.post(f"{sandbox.url}/_sandbox/confluence/pages/{page_id}/restrict-edit", timeout=5)
    assert (restricted.status_code, restricted.json()) == (200, {"id": page_id, "operations": ["read"]})
    assert [o["operation"] for o in operations(confluence, page_id)] == ["read"]
    unknown = requests.post(f"{sandbox.url}/_sandbox/confluence/pages/999999/restrict-edit", timeout=5)
    assert unknown.status_code == 404 and unknown.json() == {"error": "No content found with id : ContentId{id=999999}"}


def test_restricting_an_unknown_page_raises():
    with running_sandbox() as sandbox, pytest.raises(ApiError) as missing:
        sandbox.restrict_page_edit("999999")
    assert missing.value.reply.status == 404


def test_reset_lifts_every_restriction(sandbox, connect):
    confluence = connect(sandbox).confluence
    with sandbox.state.lock:
        seed_id, seed_title = next((p.id, p.title) for p in sandbox.state.confluence.pages.values())
    sandbox.restrict_page_edit(seed_id)
    sandbox.reset()
    assert {"operation": "update", "targetType": "page"} in operations(confluence, seed_id)
    confluence.update_page(seed_id, seed_title, "<p>edited after reset</p>")
