"""Confluence Cloud's v2 page calls (`<wiki>/api/v2`): pages and page properties, where v1 is deprecated.

v2 names spaces by id, so a space key is looked up once (`spaces?keys=`) and kept; a page property is
addressed by its id, found by key when read and kept for the write that follows (the lease's
read-then-swap). v2's update has no `minorEdit`: every v2 write notifies the page's watchers, which is
why `ConfluenceAdapter` sends minor edits through v1 while v1 is there.
"""

from __future__ import annotations

import threading
from dataclasses import replace
from typing import Any

from sync.atlassian.connection import Connection
from sync.atlassian.pages_v1 import lost_race_as_conflict, may_update
from sync.atlassian.transport import RestChannel, parse_time, segment
from sync.models import Owner, Page
from sync.ports import NotFound

_GONE_STATUSES = ("trashed", "deleted")  # v2 still answers such a page; to the port it is absent


def page_from_v2(document: dict[str, Any], *, site: str, space: str | None = None) -> Page:
    """A Page from a v2 page document (read with body-format=storage); its URL on `site`."""
    version = document.get("version") or {}
    webui = (document.get("_links") or {}).get("webui")
    return Page(
        id=str(document["id"]),
        title=document.get("title") or "",
        version=int(version.get("number") or 0),
        body=((document.get("body") or {}).get("storage") or {}).get("value") or "",
        space=space,
        url=site + webui if webui else None,
        last_modified=parse_time(version.get("createdAt")),
        created=parse_time(document.get("createdAt")),
        author=Owner(account_id=str(document["authorId"])) if document.get("authorId") else None,
    )


class PagesV2:
    """Pages and page properties over REST v2; the same promises as `PagesV1`, but updates are major edits."""

    def __init__(self, connection: Connection, channel: RestChannel) -> None:
        self._connection = connection
        self._channel = channel
        self._space_ids: dict[str, str] = {}  # space key -> id, and back below
        self._space_keys: dict[str, str] = {}
        self._property_ids: dict[tuple[str, str], str] = {}  # (page id, key) -> property id
        self._lock = threading.Lock()

    def get_page(self, page_id: str) -> Page:
        """One page with its storage body; NotFound if absent, trashed or deleted."""
        document = self._get(f"api/v2/pages/{segment(page_id)}", **{"body-format": "storage"}) or {}
        if document.get("status") in _GONE_STATUSES:
            raise NotFound(f"page {page_id} is {document['status']}", status=404)
        return self._page(document, document)

    def page_status(self, page_id: str) -> str:
        """GET pages/{id} (no status filter: archived and trashed pages answer too): the page's status."""
        return str((self._get(f"api/v2/pages/{segment(page_id)}") or {}).get("status") or "current")

    def update_page(self, page: Page, body: str, *, message: str) -> Page:
        """PUT version page.version + 1 (optimistic locking; VersionConflict on 409): a major edit."""
        payload = {
            "id": page.id, "status": "current", "title": page.title,
            "body": {"representation": "storage", "value": body},
            "version": {"number": page.version + 1, "message": message},
        }
        document = self._send("PUT", f"api/v2/pages/{segment(page.id)}", payload, idempotent=True) or {}
        version = document.get("version") or {}
        return replace(page, version=int(version.get("number") or page.version + 1), body=body,
                       last_modified=parse_time(version.get("createdAt")) or page.last_modified)

    def create_page(self, space: str, title: str, body: str, parent_id: str | None) -> Page:
        """A new page; never retried after the server may have created it."""
        payload: dict[str, Any] = {"spaceId": self._space_id(space), "status": "current", "title": title,
                                   "body": {"representation": "storage", "value": body}}
        if parent_id:
            payload["parentId"] = str(parent_id)
        document = self._send("POST", "api/v2/pages", payload, idempotent=False) or {}
        page = self._page(document, document)
        return page if page.body else replace(page, body=body)

    def find_page(self, space: str, title: str) -> Page | None:
        """The current page with this title in space (v2 matches titles case-insensitively, as Confluence
        compares them when it refuses a duplicate), or None."""
        query = {"space-id": self._space_id(space), "title": title, "status": "current",
                 "body-format": "storage", "limit": 1}
        document = self._get("api/v2/pages", **query) or {}
        results = document.get("results") or []
        return self._page(results[0], document) if results else None

    def can_edit(self, page_id: str) -> bool | None:
        """GET pages/{id}/operations: whether `update` is among what we may do."""
        return may_update((self._get(f"api/v2/pages/{segment(page_id)}/operations") or {}).get("operations"))

    def get_property(self, page_id: str, key: str) -> tuple[object, int] | None:
        """The page property with this key (GET …/properties?key=); None when the page has none (or is gone)."""
        try:
            found = self._find_property(page_id, key)
        except NotFound:
            return None
        return (found.get("value"), int((found.get("version") or {}).get("number") or 1)) if found else None

    def set_property(self, page_id: str, key: str, value: object, version: int | None) -> None:
        """POST a new property or PUT version + 1 by its id; a lost race (400 or 409) -> VersionConflict."""
        base = f"api/v2/pages/{segment(page_id)}/properties"
        with lost_race_as_conflict():
            if version is None:
                created = self._send("POST", base, {"key": key, "value": value}, idempotent=False) or {}
                self._keep_property_id(page_id, key, created.get("id"))
                return
            property_id = self._property_ids.get((page_id, key)) or (self._find_property(page_id, key) or {}).get("id")
            if property_id is None:
                raise NotFound(f"page {page_id} has no property {key}", status=404)
            self._send("PUT", f"{base}/{segment(property_id)}",
                       {"key": key, "value": value, "version": {"number": version + 1}}, idempotent=False)

    def _find_property(self, page_id: str, key: str) -> dict[str, Any] | None:
        results = (self._get(f"api/v2/pages/{segment(page_id)}/properties", key=key) or {}).get("results") or []
        found = next((r for r in results if isinstance(r, dict) and r.get("key") == key), None)
        self._keep_property_id(page_id, key, (found or {}).get("id"))
        return found

    def _keep_property_id(self, page_id: str, key: str, property_id: object) -> None:
        with self._lock:
            if property_id is None:
                self._property_ids.pop((page_id, key), None)
            else:
                self._property_ids[(page_id, key)] = str(property_id)

    def _space_id(self, key: str) -> str:
        """The id of the space with this key (asked once); NotFound when there is none."""
        with self._lock:
            known = self._space_ids.get(key)
        if known:
            return known
        results = (self._get("api/v2/spaces", keys=key, limit=1) or {}).get("results") or []
        if not results:
            raise NotFound(f"no Confluence space with key {key}", status=404)
        with self._lock:
            self._space_ids[key] = str(results[0]["id"])
            self._space_keys[str(results[0]["id"])] = key
        return self._space_ids[key]

    def _page(self, document: dict[str, Any], envelope: dict[str, Any]) -> Page:
        site = self._connection.browse_base((envelope.get("_links") or {}).get("base"))
        with self._lock:
            space = self._space_keys.get(str(document.get("spaceId")))
        return page_from_v2(document, site=site, space=space)

    def _get(self, path: str, **params: Any) -> Any:
        return self._channel.send(self._connection.client, "GET", path, params=params or None, idempotent=True)

    def _send(self, method: str, path: str, body: Any, *, idempotent: bool) -> Any:
        return self._channel.send(self._connection.client, method, path, body=body, idempotent=idempotent)
