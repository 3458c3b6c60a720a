"""The Confluence adapter (`ConfluencePort`, `ConfluenceProbe`) over the v1 REST API, and page JSON -> `Page`.

Pages are written with our own `PUT content/{id}` carrying the version we read, never the library's
`update_page`, which has no optimistic locking and silently overwrites a concurrent user edit
(docs/atlassian-behaviours.md, "The client library" and "Writes").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sync.atlassian.connection import Connection
from sync.atlassian.transport import RestChannel, is_absolute, parse_time, segment
from sync.models import Page
from sync.ports import AtlassianError, NotFound, VersionConflict

PAGE_EXPAND = "body.storage,version,space,history.lastUpdated,metadata.labels"


def page_from_json(content: dict, *, site: str) -> Page:
    """A Page from a Confluence v1 content document expanded with PAGE_EXPAND."""
    version = content.get("version") or {}
    history = content.get("history") or {}
    labels = ((content.get("metadata") or {}).get("labels") or {}).get("results") or ()
    webui = (content.get("_links") or {}).get("webui")
    return Page(
        id=str(content["id"]),
        title=content.get("title") or "",
        version=int(version.get("number") or 0),
        body=((content.get("body") or {}).get("storage") or {}).get("value") or "",
        space=(content.get("space") or {}).get("key"),
        url=site + webui if webui else None,
        last_modified=parse_time((history.get("lastUpdated") or {}).get("when") or version.get("when")),
        labels=tuple(label["name"] for label in labels if label.get("name")),
    )


class ConfluenceAdapter:
    """ConfluencePort over the v1 REST API (`<site>/wiki/rest/api` on Cloud, `/rest/api` on Data Center)."""

    def __init__(self, connection: Connection, channel: RestChannel) -> None:
        self._connection = connection
        self._channel = channel

    @property
    def request_count(self) -> int:
        """HTTP requests sent to Confluence, retries included."""
        return self._channel.request_count

    def server_time(self, at: float | None = None) -> datetime | None:
        """Confluence's time at a monotonic reading (now when None), from its latest `Date` header; None before one."""
        return self._channel.clock.now() if at is None else self._channel.clock.at(at)

    def find_pages(self, cql: str, *, limit: int = 50) -> Iterator[Page]:
        """Pages matching CQL with bodies, following `_links.next` (Cloud cursor, Data Center start)."""
        document = self._get("rest/api/content/search", cql=cql, limit=limit, expand=PAGE_EXPAND)
        while document:
            site = self._site(document)
            for content in document.get("results") or ():
                yield page_from_json(content, site=site)
            next_link = (document.get("_links") or {}).get("next")
            document = self._get(self._follow(next_link, site)) if next_link else None

    def get_page(self, page_id: str) -> Page:
        """One page with its storage body; NotFound if absent."""
        document = self._get(f"rest/api/content/{segment(page_id)}", expand=PAGE_EXPAND)
        return page_from_json(document, site=self._site(document))

    def update_page(self, page: Page, body: str, *, message: str, minor_edit: bool = True) -> Page:
        """Our own PUT with version page.version + 1 (optimistic locking); VersionConflict on 409."""
        payload = {
            "id": page.id,
            "type": "page",
            "title": page.title,
            "version": {"number": page.version + 1, "minorEdit": minor_edit, "message": message},
            "body": {"storage": {"value": body, "representation": "storage"}},
        }
        document = self._send("PUT", f"rest/api/content/{segment(page.id)}", payload, idempotent=True) or {}
        version = document.get("version") or {}
        return replace(
            page,
            version=int(version.get("number") or page.version + 1),
            body=body,
            last_modified=parse_time(version.get("when")) or page.last_modified,
        )

    def create_page(self, space: str, title: str, body: str, parent_id: str | None) -> Page:
        """A new page; never retried after the server may have created it."""
        payload: dict[str, Any] = {
            "type": "page",
            "title": title,
            "space": {"key": space},
            "body": {"storage": {"value": body, "representation": "storage"}},
        }
        if parent_id:
            payload["ancestors"] = [{"id": str(parent_id)}]
        document = self._send("POST", "rest/api/content", payload, idempotent=False) or {}
        page = page_from_json(document, site=self._site(document))
        return page if page.body else replace(page, body=body)

    def find_page(self, space: str, title: str) -> Page | None:
        """The current page with exactly this title in space, or None."""
        document = self._get(
            "rest/api/content", type="page", spaceKey=space, title=title, expand=PAGE_EXPAND, limit=1
        ) or {}
        results = document.get("results") or []
        return page_from_json(results[0], site=self._site(document)) if results else None

    def can_edit(self, page_id: str) -> bool | None:
        """GET content/{id}?expand=operations: whether `update` is among what we may do."""
        document = self._get(f"rest/api/content/{segment(page_id)}", expand="operations") or {}
        operations = document.get("operations")
        if not isinstance(operations, list):
            return None
        return any(isinstance(o, dict) and o.get("operation") == "update" for o in operations)

    def get_property(self, page_id: str, key: str) -> tuple[object, int] | None:
        """GET content/{id}/property/{key}; None on 404."""
        try:
            document = self._get(f"rest/api/content/{segment(page_id)}/property/{segment(key)}") or {}
        except NotFound:
            return None
        return document.get("value"), int((document.get("version") or {}).get("number") or 1)

    def set_property(self, page_id: str, key: str, value: object, version: int | None) -> None:
        """POST a new property or PUT version + 1; a lost race (409, or 400 for an existing key) -> VersionConflict."""
        base = f"rest/api/content/{segment(page_id)}/property"
        try:
            if version is None:
                self._send("POST", base, {"key": key, "value": value}, idempotent=False)
            else:
                self._send("PUT", f"{base}/{segment(key)}",
                           {"key": key, "value": value, "version": {"number": version + 1}}, idempotent=False)
        except AtlassianError as exc:
            if exc.status in (400, 409) and not isinstance(exc, VersionConflict):
                raise VersionConflict(exc.message, status=exc.status) from None
            raise

    def _site(self, document: dict | None) -> str:
        """The site base for relative links: Confluence's `_links.base` if on our host, else our URL."""
        base = ((document or {}).get("_links") or {}).get("base")
        if base and urlsplit(base).netloc == urlsplit(self._connection.url).netloc:
            return base.rstrip("/")
        return self._connection.url

    def _follow(self, link: str, site: str) -> str:
        if not is_absolute(link):
            return site + "/" + link.lstrip("/")
        if urlsplit(link).netloc != urlsplit(self._connection.url).netloc:
            raise AtlassianError("Confluence returned a next link to another host; refusing to follow it")
        return link

    def _get(self, path: str, **params: Any) -> Any:
        return self._channel.send(self._connection.client, "GET", path, params=params or None, idempotent=True)

    def _send(self, method: str, path: str, body: Any, *, idempotent: bool) -> Any:
        return self._channel.send(self._connection.client, method, path, body=body, idempotent=idempotent)
