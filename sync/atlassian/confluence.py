"""The Confluence adapter (`ConfluencePort`, `ConfluenceProbe`): which API generation each call uses.

- CQL search is v1 (`content/search`) everywhere: v2 has no CQL, and v1 search is not deprecated.
- Data Center: v1 for everything (`pages_v1`).
- A page's status (`page_status`) is asked with `status=any` on v1, as v1 answers 404 for an archived or
  trashed page by default; on v2 `GET pages/{id}` answers them with their status. A view-restricted page
  answers 404 like a purged one: Cloud's permission check (404 only for no such content) tells them
  apart; on Data Center nothing does, so such a 404 stays unexplained (the cycle flags nothing on it).
- Cloud: v2 for pages and page properties (`pages_v2`), as v1 content is deprecated and answers 410 Gone
  through the API gateway (OAuth, scoped tokens). Except minor edits: v2 cannot suppress notifications,
  so write-back and the summary page go through v1's update while it works (classic API tokens on the
  site), and through v2 once v1 answered 410, which is remembered (`memory.SiteMemory`).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any, Literal

import structlog

from sync.atlassian.connection import Connection
from sync.atlassian.memory import SiteMemory
from sync.atlassian.pages_v1 import PAGE_EXPAND, PagesV1, page_from_json, user_from_json
from sync.atlassian.pages_v2 import PagesV2
from sync.atlassian.transport import RestChannel
from sync.models import Owner, Page
from sync.ports import DeploymentKind, Gone, NotFound

log = structlog.get_logger(__name__)


class ConfluenceAdapter:
    """ConfluencePort over REST v1 (`<site>/wiki/rest/api`, `/rest/api` on Data Center) and, on Cloud, v2."""

    def __init__(self, connection: Connection, channel: RestChannel, memory: SiteMemory | None = None) -> None:
        self._connection = connection
        self._channel = channel
        self._memory = memory or SiteMemory()
        self._v1 = PagesV1(connection, channel)
        self._v2 = PagesV2(connection, channel)
        self._account_id: str | None = None
        self._people: dict[str, Owner | None] = {}  # userkey -> person, for the daemon's lifetime
        self._people_lock = threading.Lock()

    @property
    def request_count(self) -> int:
        """HTTP requests sent to Confluence, retries included."""
        return self._channel.request_count

    def server_time(self, at: float | None = None) -> datetime | None:
        """Confluence's time at a monotonic reading (now when None), from its latest `Date` header; None before one."""
        return self._channel.clock.now() if at is None else self._channel.clock.at(at)

    def find_pages(self, cql: str, *, bodies: bool = True, limit: int | None = None) -> Iterator[Page]:
        """Pages matching CQL, following `_links.next` (Cloud cursor, Data Center start); without `bodies`, each
        with an empty body, 200 a request instead of 50 (Confluence's caps on `limit` with and without a body)."""
        expand = PAGE_EXPAND if bodies else PAGE_EXPAND.replace("body.storage,", "")
        limit = limit or (50 if bodies else 200)
        document = self._get("rest/api/content/search", cql=cql, limit=limit, expand=expand)
        while document:
            site = self._v1.site(document)
            for content in document.get("results") or ():
                yield page_from_json(content, site=site)
            next_link = (document.get("_links") or {}).get("next")
            document = self._get(self._connection.api_link(next_link)) if next_link else None

    def get_page(self, page_id: str) -> Page:
        """One page with its storage body; NotFound if absent."""
        return self._pages().get_page(page_id)

    def page_status(self, page_id: str) -> str:
        """current, archived, trashed or deleted; "purged" when Confluence confirms there is no such page;
        NotFound when it cannot tell a purge from a view restriction."""
        try:
            return self._pages().page_status(page_id)
        except NotFound as missing:
            if self._connection.deployment != "cloud":
                raise NotFound(f"page {page_id} answers 404: purged, or hidden from this account by a view "
                               "restriction (Data Center cannot tell which)", status=404) from missing
            self._account_id = self._account_id or self._v1.account_id()
            try:
                readable = self._v1.readable(page_id, self._account_id or "")
            except NotFound:
                return "purged"
            raise NotFound(f"page {page_id} exists but this account cannot {'read' if not readable else 'find'} "
                           "it (a view restriction)", status=404) from missing

    def update_page(self, page: Page, body: str, *, message: str, minor_edit: bool = True) -> Page:
        """Version page.version + 1; a minor edit on Cloud through v1 while v1 is there, else through v2."""
        if self._connection.deployment != "cloud":
            return self._v1.update_page(page, body, message=message, minor_edit=minor_edit)
        if minor_edit and not self._v1_gone():
            try:
                return self._v1.update_page(page, body, message=message, minor_edit=True)
            except Gone:
                self._memory.remember(self._connection.url, confluence_v1="gone")
                log.warning("confluence_v1_gone", detail="page updates go through v2 and notify watchers")
        return self._v2.update_page(page, body, message=message)

    def create_page(self, space: str, title: str, body: str, parent_id: str | None) -> Page:
        """A new page; never retried after the server may have created it."""
        return self._pages().create_page(space, title, body, parent_id)

    def find_page(self, space: str, title: str) -> Page | None:
        """The current page with this title in space, or None."""
        return self._pages().find_page(space, title)

    def can_edit(self, page_id: str) -> bool | None:
        """Whether `update` is among what we may do with the page; None when Confluence does not say."""
        return self._pages().can_edit(page_id)

    def get_property(self, page_id: str, key: str) -> tuple[object, int] | None:
        """A content (page) property's value and version number; None when the page has no such property."""
        return self._pages().get_property(page_id, key)

    def set_property(self, page_id: str, key: str, value: object, version: int | None) -> None:
        """Create the property or replace version `version`; VersionConflict when another writer was first."""
        self._pages().set_property(page_id, key, value, version)

    @property
    def deployment(self) -> DeploymentKind:
        """cloud or datacenter (configured, or Jira's)."""
        return self._connection.deployment

    def answers(self, generation: Literal["v1", "v2"]) -> bool:
        """Whether this generation's page routes answer us (v1 `content`, v2 `spaces`): False on 404 (not
        there) or 410 (v1 content retired for this credential); other errors are raised."""
        path = "rest/api/content" if generation == "v1" else "api/v2/spaces"
        try:
            self._get(path, limit=1, **({"type": "page"} if generation == "v1" else {}))
        except (NotFound, Gone):
            return False
        return True

    def count_pages(self, cql: str) -> int | None:
        """How many pages the CQL selects (`GET search` `totalSize`, an estimate on Cloud); None if not said."""
        total = (self._get("rest/api/search", cql=cql, limit=1) or {}).get("totalSize")
        return int(total) if isinstance(total, int) else None

    def person(self, userkey: str) -> Owner | None:
        """Data Center: who `GET /rest/api/user?key=` names (username, display name); None for 404, and on Cloud.

        Asked once per userkey for the adapter's lifetime (a userkey never changes hands). Cloud has no
        userkeys to resolve: its user look-up takes accountIds only, which Jira shares.
        """
        with self._people_lock:
            if userkey in self._people:
                return self._people[userkey]
        found = None
        if self._connection.deployment != "cloud":
            try:
                found = user_from_json(self._get("rest/api/user", key=userkey))
            except NotFound:
                found = None
        with self._people_lock:
            self._people[userkey] = found
        return found

    def current_user(self) -> Owner | None:
        """Who the credentials are to Confluence (`user/current`); AuthFailed when it refuses them."""
        return user_from_json(self._get("rest/api/user/current"))

    def _pages(self) -> PagesV1 | PagesV2:
        return self._v2 if self._connection.deployment == "cloud" else self._v1

    def _v1_gone(self) -> bool:
        return self._memory.recall(self._connection.url).get("confluence_v1") == "gone"

    def _get(self, path: str, **params: Any) -> Any:
        return self._channel.send(self._connection.client, "GET", path, params=params or None, idempotent=True)
