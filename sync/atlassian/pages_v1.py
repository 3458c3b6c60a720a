"""Confluence's v1 page calls (`rest/api/content`): all of Data Center, and Cloud's minor-edit updates.

Pages are written with our own `PUT content/{id}` carrying the version we read, never the library's
`update_page`, which has no optimistic locking and silently overwrites a concurrent user edit
(docs/atlassian-behaviours.md, "The client library" and "Writes").
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from sync.atlassian.connection import Connection
from sync.atlassian.transport import RestChannel, parse_time, segment
from sync.models import Owner, Page
from sync.ports import AtlassianError, NotFound, VersionConflict

PAGE_EXPAND = "body.storage,version,space,history.lastUpdated,metadata.labels"


def page_from_json(content: dict[str, Any], *, site: str) -> Page:
    """A Page from a Confluence v1 content document expanded with PAGE_EXPAND; its URL on `site`."""
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
        created=parse_time(history.get("createdDate")),
        author=user_from_json(history.get("createdBy")),
    )


def user_from_json(user: object) -> Owner | None:
    """The person a v1 user document names (Cloud: account id; Data Center: userkey and username)."""
    if not isinstance(user, dict) or user.get("type") == "anonymous":
        return None
    return Owner(account_id=user.get("accountId"), userkey=user.get("userKey"), username=user.get("username"),
                 display=user.get("displayName") or user.get("publicName"))


class PagesV1:
    """Pages and content properties over REST v1 (`<site>/wiki/rest/api` on Cloud, `/rest/api` on Data Center)."""

    def __init__(self, connection: Connection, channel: RestChannel) -> None:
        self._connection = connection
        self._channel = channel

    def site(self, document: dict[str, Any] | None) -> str:
        """The browse base for a document's links (its `_links.base` when that is on the site)."""
        return self._connection.browse_base(((document or {}).get("_links") or {}).get("base"))

    def get_page(self, page_id: str) -> Page:
        """One page with its storage body; NotFound if absent (a trashed page included)."""
        document = self._get(f"rest/api/content/{segment(page_id)}", expand=PAGE_EXPAND)
        return page_from_json(document, site=self.site(document))

    def page_status(self, page_id: str) -> str:
        """GET content/{id}?status=any: the page's status, archived and trashed included (the default is current)."""
        document = self._get(f"rest/api/content/{segment(page_id)}", status="any") or {}
        return str(document.get("status") or "current")

    def readable(self, page_id: str, account_id: str) -> bool:
        """Cloud's POST content/{id}/permission/check for ourselves: whether we may read the page; NotFound when
        there is no such content (so a 404 elsewhere was a view restriction only when this answers)."""
        check = {"subject": {"type": "user", "identifier": account_id}, "operation": "read"}
        document = self._send("POST", f"rest/api/content/{segment(page_id)}/permission/check", check,
                              idempotent=True) or {}
        return bool(document.get("hasPermission"))

    def account_id(self) -> str | None:
        """GET user/current: the account id of the credentials' user (Cloud), or None."""
        return (self._get("rest/api/user/current") or {}).get("accountId")

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
        page = page_from_json(document, site=self.site(document))
        return page if page.body else replace(page, body=body)

    def find_page(self, space: str, title: str) -> Page | None:
        """The current page with exactly this title in space, or None."""
        document = self._get(
            "rest/api/content", type="page", spaceKey=space, title=title, expand=PAGE_EXPAND, limit=1
        ) or {}
        results = document.get("results") or []
        return page_from_json(results[0], site=self.site(document)) if results else None

    def can_edit(self, page_id: str) -> bool | None:
        """GET content/{id}?expand=operations: whether `update` is among what we may do."""
        document = self._get(f"rest/api/content/{segment(page_id)}", expand="operations") or {}
        return may_update(document.get("operations"))

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
        with lost_race_as_conflict():
            if version is None:
                self._send("POST", base, {"key": key, "value": value}, idempotent=False)
            else:
                self._send("PUT", f"{base}/{segment(key)}",
                           {"key": key, "value": value, "version": {"number": version + 1}}, idempotent=False)

    def _get(self, path: str, **params: Any) -> Any:
        return self._channel.send(self._connection.client, "GET", path, params=params or None, idempotent=True)

    def _send(self, method: str, path: str, body: Any, *, idempotent: bool) -> Any:
        return self._channel.send(self._connection.client, method, path, body=body, idempotent=idempotent)


def may_update(operations: object) -> bool | None:
    """Whether a list of `{operation, targetType}` grants `update`; None when it is no list."""
    if not isinstance(operations, list):
        return None
    return any(isinstance(o, dict) and o.get("operation") == "update" for o in operations)


@contextmanager
def lost_race_as_conflict() -> Iterator[None]:
    """Turns a property write's 400 (the key exists) or 409 (the version exists) into VersionConflict."""
    try:
        yield
    except AtlassianError as exc:
        if exc.status in (400, 409) and not isinstance(exc, VersionConflict):
            raise VersionConflict(exc.message, status=exc.status) from None
        raise
