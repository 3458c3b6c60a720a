"""Archived and view-restricted pages (`Sandbox.archive_page`, `Sandbox.restrict_page_view`), in both flavours,
every exchange validated against the official Confluence specs.

- An archived page leaves CQL search and v1's default `GET content/{id}` (status current), answers with
  `status=archived` or `status=any`, on v2 answers with `"status": "archived"`, keeps its title, and
  cannot be edited.
- A view-restricted page answers every read as a missing page does (404; 403 when asked for), leaves the
  search, and (Cloud) the permission check, which answers 404 only for no such content, says it exists.
"""

from __future__ import annotations

import pytest
import requests

from tests.harness import EXAMPLES
from tests.sandbox.sandbox_helpers import follow_cql


def _postmortem_id(sandbox) -> str:
    return next(p.id for p in sandbox.state.confluence.pages.values() if p.labels)


def _content(clients, sandbox, page_id: str, **params) -> requests.Response:
    return clients.http.get(f"{sandbox.confluence_url}/rest/api/content/{page_id}", params=params)


def _admin(sandbox, page_id: str, action: str, **body) -> requests.Response:
    return requests.post(f"{sandbox.url}/_sandbox/confluence/pages/{page_id}/{action}", json=body or None, timeout=10)


def test_an_archived_page_leaves_search_and_default_reads_but_answers_when_asked(sandbox, connect):
    clients = connect(sandbox)
    page_id = _postmortem_id(sandbox)
    assert _admin(sandbox, page_id, "archive").json() == {"id": page_id, "status": "archived"}
    hits, _ = follow_cql(clients.confluence, 'label = "postmortem"', limit=50)
    assert len(hits) == len(list(EXAMPLES.glob("*.xml"))) - 1 and page_id not in {h["id"] for h in hits}
    assert _content(clients, sandbox, page_id).status_code == 404
    assert _content(clients, sandbox, page_id, status="any").json()["status"] == "archived"
    assert _content(clients, sandbox, page_id, status="archived").json()["status"] == "archived"
    assert _content(clients, sandbox, page_id, status="trashed").status_code == 404
    if sandbox.options.is_cloud:
        v2 = clients.http.get(f"{sandbox.confluence_url}/api/v2/pages/{page_id}")
        assert v2.json()["status"] == "archived"
    assert _admin(sandbox, page_id, "archive").status_code == 400  # only a current page is archived


def test_an_archived_page_cannot_be_edited_and_keeps_its_title(sandbox, connect):
    clients = connect(sandbox, allow_status=(400, 404))
    page_id = _postmortem_id(sandbox)
    page = sandbox.state.confluence.pages[page_id]
    sandbox.archive_page(page_id)
    update = clients.http.put(f"{sandbox.confluence_url}/rest/api/content/{page_id}", json={
        "id": page_id, "type": "page", "title": page.title, "version": {"number": page.current.number + 1},
        "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}})
    assert update.status_code == 404 and len(page.versions) == 1
    clash = clients.http.post(f"{sandbox.confluence_url}/rest/api/content", json={
        "type": "page", "title": page.title, "space": {"key": "PM"},
        "body": {"storage": {"value": "<p>x</p>", "representation": "storage"}}})
    assert clash.status_code == 400 and "already exists" in clash.json()["message"]


@pytest.mark.parametrize("status", [404, 403])
def test_a_view_restricted_page_answers_like_a_missing_one(sandbox, connect, status):
    clients = connect(sandbox, allow_status=(403,))
    page_id = _postmortem_id(sandbox)
    sandbox.restrict_page_view(page_id, status)
    assert _content(clients, sandbox, page_id).status_code == status
    assert _content(clients, sandbox, page_id, status="any").status_code == status
    hits, _ = follow_cql(clients.confluence, 'label = "postmortem"', limit=50)
    assert page_id not in {h["id"] for h in hits}
    if sandbox.options.is_cloud:
        assert clients.http.get(f"{sandbox.confluence_url}/api/v2/pages/{page_id}").status_code == 404
        check = clients.http.post(f"{sandbox.confluence_url}/rest/api/content/{page_id}/permission/check", json={
            "subject": {"type": "user", "identifier": sandbox.state.api_user.account_id}, "operation": "read"})
        assert check.status_code == 200 and check.json()["hasPermission"] is False


def test_the_permission_check_answers_404_for_a_purged_page(cloud, connect):
    clients = connect(cloud)
    page_id = _postmortem_id(cloud)
    cloud.delete_page(page_id)
    assert clients.confluence.remove_page_from_trash(page_id) == 204
    check = clients.http.post(f"{cloud.confluence_url}/rest/api/content/{page_id}/permission/check", json={
        "subject": {"type": "user", "identifier": cloud.state.api_user.account_id}, "operation": "read"})
    assert check.status_code == 404


def test_restricting_an_unknown_page_or_with_another_status_is_refused(cloud):
    assert _admin(cloud, "999", "restrict-view").status_code == 404
    assert _admin(cloud, _postmortem_id(cloud), "restrict-view", status=500).status_code == 400
