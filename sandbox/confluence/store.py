"""Confluence's state: spaces, pages with their full version history, labels and properties, and the trash.

A deleted page goes to `trash` (status "trashed"): out of `pages`, so searches, listings and look-ups
by id no longer see it unless they ask for trashed content; purging it drops it with its properties.
An archived page stays in `pages` with status "archived": searches and default look-ups leave it out,
and it cannot be edited. A view-restricted page (`view_restricted`) is invisible to the sandbox user:
every read answers as if it did not exist (404, or 403 where a test asks for the spec's other answer).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timedelta
from html.entities import html5
from itertools import count

from lxml import etree

from sandbox.confluence.model import Label, Page, PageVersion, Space
from sandbox.confluence.properties import ContentProperties
from sandbox.directory import User
from sandbox.http.errors import ApiError, confluence_error
from sandbox.timefmt import utcnow

# Characters Confluence refuses in a label name (Confluence docs: "Add, remove and search for labels").
_LABEL_FORBIDDEN = re.compile(r"[\s:;,.?&\[\]()#^*@!]")
LABEL_PREFIXES = ("global", "my", "team")
# Storage format is XHTML with undeclared ac:/ri:/at: prefixes and HTML named entities; Confluence refuses a body
# that is not well-formed XML ("Error parsing xhtml"), a control character or `&#1;` included.
_STORAGE_ROOT = ('<root xmlns:ac="http://www.atlassian.com/schema/confluence/4/ac/" '
                 'xmlns:ri="http://www.atlassian.com/schema/confluence/4/ri/" '
                 'xmlns:at="http://www.atlassian.com/schema/confluence/4/at/">')
_NAMED_ENTITY = re.compile(r"&([A-Za-z][A-Za-z0-9]*);")
_XML_OWN = {"amp", "lt", "gt", "quot", "apos"}


class ConfluenceStore:
    """Every page operation the REST layer needs, with Confluence's rules and error messages."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock
        self.spaces: dict[str, Space] = {}
        self.pages: dict[str, Page] = {}
        self.trash: dict[str, Page] = {}
        self.edit_restricted: set[str] = set()  # pages the sandbox user may read but not edit
        self.view_restricted: dict[str, int] = {}  # pages the sandbox user may not see -> the status reads answer
        self.properties = ContentProperties(clock)
        self._page_ids = count(1_310_721)
        self._label_ids = count(2_000_001)
        self._space_ids = count(98_305)

    def searchable(self, lag: timedelta | None) -> list[Page]:
        """Current pages as a search index `lag` behind sees them: each as of its last version saved by then.

        Searches match these copies; what they answer is the current page (read by id, which never lags).
        """
        visible = [p for p in self.pages.values() if p.status == "current" and p.id not in self.view_restricted]
        if not lag:
            return visible
        cutoff = self.clock() - lag
        seen = []
        for page in visible:
            indexed = [version for version in page.versions if version.when <= cutoff]
            if indexed:
                seen.append(page if len(indexed) == len(page.versions) else replace(page, versions=indexed))
        return seen

    def check_editable(self, page_id: str, *, cloud: bool) -> None:
        """Confluence's 403 when an edit restriction leaves the sandbox user out (page or property writes)."""
        if page_id not in self.edit_restricted:
            return
        message = f"Could not update Content of type : class com.atlassian.confluence.pages.Page with id {page_id}"
        if cloud:  # Cloud puts the exception's class in front of the message
            message = f"com.atlassian.confluence.api.service.exceptions.PermissionException: {message}"
        raise confluence_error(403, message)

    def add_space(self, key: str, name: str) -> Space:
        space = Space(next(self._space_ids), key, name)
        self.spaces[key] = space
        return space

    def space(self, key: str) -> Space:
        """The space, or Confluence's 404."""
        if key not in self.spaces:
            raise confluence_error(404, f"No space with key : {key}")
        return self.spaces[key]

    def page(self, page_id: str) -> Page:
        """The current page the sandbox user can see, or Confluence's 404 (an archived page cannot be edited)."""
        self.check_visible(page_id)
        if page_id not in self.pages or self.pages[page_id].status != "current":
            raise _no_content(page_id)
        return self.pages[page_id]

    def page_with_status(self, page_id: str, statuses: list[str]) -> Page:
        """The page when its status is asked for (GET content/{id}?status=…; default current), else the 404."""
        self.check_visible(page_id)
        wanted = set(statuses or ["current"])
        page = self.pages.get(page_id) or self.trash.get(page_id)
        if page is None or not wanted & {page.status, "any"}:
            raise _no_content(page_id)
        return page

    def check_visible(self, page_id: str) -> None:
        """A view-restricted page answers as the restriction was set up to (404 by default, like a missing page)."""
        status = self.view_restricted.get(page_id)
        if status == 403:
            raise confluence_error(403, f"User not permitted to view content with id : ContentId{{id={page_id}}}")
        if status is not None:
            raise _no_content(page_id)

    def stored(self, page_id: str) -> Page:
        """Any stored page whatever its status or restrictions (the sandbox operator's view), or the 404."""
        page = self.pages.get(page_id) or self.trash.get(page_id)
        if page is None:
            raise _no_content(page_id)
        return page

    def archive_page(self, page_id: str) -> Page:
        """Archive a current page: out of search and default look-ups, read-only, its title still taken."""
        page = self.stored(page_id)
        if page.status != "current":
            raise confluence_error(400, f"Only current pages can be archived; page {page_id} is {page.status}")
        page.status = "archived"
        return page

    def trash_page(self, page_id: str) -> Page:
        """Move a current or archived page to the trash; its child pages move up to its parent, as in Confluence."""
        self.check_visible(page_id)
        page = self.pages.get(page_id)
        if page is None:
            raise _no_content(page_id)
        for child in self.children(page_id):
            child.parent_id = page.parent_id
        del self.pages[page_id]
        page.status = "trashed"
        self.trash[page_id] = page
        return page

    def purge_page(self, page_id: str) -> None:
        """Delete a trashed page for good, its properties with it."""
        if page_id not in self.trash:
            raise _no_content(page_id)
        del self.trash[page_id]

    def create_page(
        self, space_key: str, title: str, body: str, author: User, *,
        parent_id: str | None = None, message: str = "", when: datetime | None = None,
    ) -> Page:
        """A new page at version 1; titles are unique within a space."""
        self.space(space_key)
        if not title.strip():
            raise confluence_error(400, "Title is required to create content")
        self._refuse_duplicate_title(space_key, title, None)
        if parent_id is not None:
            self._check_parent(space_key, parent_id, None)
        check_storage(body)
        moment = when or self.clock()
        page_id = str(next(self._page_ids))
        first = PageVersion(1, title, body, moment, author, message)
        page = Page(page_id, space_key, parent_id, moment, author, [first])
        self.pages[page_id] = page
        return page

    def update_page(
        self, page_id: str, *, number: int, title: str, body: str | None, author: User,
        minor_edit: bool = False, message: str = "", parent_id: str | None = None,
    ) -> Page:
        """Save a new version; `number` must be exactly current + 1 (Confluence's optimistic lock)."""
        page = self.page(page_id)
        current = page.current.number
        if number != current + 1:
            raise confluence_error(409, f"Version must be incremented on update. Current version is: {current}")
        self._refuse_duplicate_title(page.space_key, title, page_id)
        if parent_id is not None and parent_id != page.parent_id:
            self._check_parent(page.space_key, parent_id, page_id)
            page.parent_id = parent_id
        if body is not None:
            check_storage(body)
        new_body = page.body if body is None else body
        page.versions.append(PageVersion(number, title, new_body, self.clock(), author, message, minor_edit))
        return page

    def add_labels(self, page_id: str, wanted: list[tuple[str, str]]) -> Page:
        """Attach labels (prefix, name); names are lower-cased and existing ones kept once."""
        page = self.page(page_id)
        for prefix, name in wanted:
            clean = name.strip().lower()
            if prefix not in LABEL_PREFIXES:
                raise confluence_error(400, f"Invalid label prefix: {prefix}")
            if not clean or len(clean) > 255 or _LABEL_FORBIDDEN.search(clean):
                raise confluence_error(400, f"Label '{name}' contains invalid characters or is too long")
            if not any(label.name == clean and label.prefix == prefix for label in page.labels):
                page.labels.append(Label(str(next(self._label_ids)), prefix, clean))
        return page

    def remove_label(self, page_id: str, name: str) -> None:
        """Detach a label; Confluence answers 404 when the page does not carry it."""
        page = self.page(page_id)
        kept = [label for label in page.labels if label.name != name.lower()]
        if len(kept) == len(page.labels):
            raise confluence_error(404, f"Label '{name}' is not attached to content {page_id}")
        page.labels = kept

    def children(self, page_id: str) -> list[Page]:
        """Direct child pages in creation order."""
        if page_id not in self.pages:
            raise _no_content(page_id)
        return [p for p in self.pages.values() if p.parent_id == page_id]

    def ancestors(self, page: Page) -> list[Page]:
        """From the space's top page down to the direct parent."""
        chain: list[Page] = []
        parent_id = page.parent_id
        while parent_id is not None and parent_id in self.pages:
            parent = self.pages[parent_id]
            chain.insert(0, parent)
            parent_id = parent.parent_id
        return chain

    def find_by_title(self, space_key: str, title: str) -> Page | None:
        folded = title.casefold()
        return next((p for p in self.pages.values() if p.space_key == space_key and p.title.casefold() == folded), None)

    def _refuse_duplicate_title(self, space_key: str, title: str, own_id: str | None) -> None:
        existing = self.find_by_title(space_key, title)
        if existing is not None and existing.id != own_id:
            raise confluence_error(
                400,
                "A page with this title already exists: A page already exists with the title "
                f"{title} in the space with key {space_key}",
            )

    def _check_parent(self, space_key: str, parent_id: str, own_id: str | None) -> None:
        parent = self.pages.get(parent_id)
        if parent is None:
            raise _no_content(parent_id)
        if parent.space_key != space_key:
            raise confluence_error(400, "The parent page must be in the same space as the page")
        if own_id is not None and (parent_id == own_id or any(a.id == own_id for a in self.ancestors(parent))):
            raise confluence_error(400, "A page cannot be moved below itself or one of its descendants")


def check_storage(body: str) -> None:
    """Refuse a storage body that is not well-formed XHTML, as Confluence does (400 "Error parsing xhtml")."""
    def numeric(match: re.Match[str]) -> str:
        name = match.group(1)
        known = None if name in _XML_OWN else html5.get(name + ";")
        return "".join(f"&#{ord(char)};" for char in known) if known else match.group(0)

    wrapped = f"{_STORAGE_ROOT}{_NAMED_ENTITY.sub(numeric, body)}</root>"
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, huge_tree=True)
    try:
        etree.fromstring(wrapped.encode("utf-8", "surrogatepass"), parser)
    except (etree.XMLSyntaxError, ValueError, UnicodeError) as exc:
        raise confluence_error(400, f"Error parsing xhtml: {exc}") from None


def _no_content(page_id: str) -> ApiError:
    return confluence_error(404, f"No content found with id : ContentId{{id={page_id}}}")
