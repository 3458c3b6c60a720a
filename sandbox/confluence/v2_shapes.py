"""Confluence v2 representations (/wiki/api/v2): pages, spaces, content properties and their versions.

v2 names everything by id (`spaceId`, `authorId`), writes no `minorEdit` and carries links that are
relative to `_links.base` (the wiki's root, …/wiki), like v1's `webui`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sandbox.confluence.json_shapes import page_webui
from sandbox.confluence.model import ContentProperty, Page, PageVersion, Space
from sandbox.state import SandboxState
from sandbox.timefmt import confluence_time

API = "/wiki/api/v2"


def version_json(version: PageVersion | ContentProperty) -> dict[str, Any]:
    """A page's or a property's version; `minorEdit` is read back as stored (v2 writes never set it)."""
    by = version.by
    return {
        "createdAt": confluence_time(version.when), "message": version.message, "number": version.number,
        "minorEdit": version.minor_edit, "authorId": by.account_id,
    }


def page_json(state: SandboxState, page: Page, body_format: str | None, version: PageVersion | None = None,
              *, single: bool = True) -> dict[str, Any]:
    """A page as GET /pages/{id} (single) or GET /pages (bulk) shows it; `body` holds the asked-for format."""
    shown = version or page.current
    space = state.confluence.spaces[page.space_key]
    data: dict[str, Any] = {
        "id": page.id, "status": page.status if shown is page.current else "historical", "title": shown.title,
        "spaceId": str(space.id), "authorId": page.created_by.account_id, "ownerId": page.created_by.account_id,
        "createdAt": confluence_time(page.created), "version": version_json(shown),
        "body": {"storage": {"representation": "storage", "value": shown.body}} if body_format == "storage" else {},
        "_links": {
            "webui": page_webui(page, True), "editui": f"/pages/resumedraft.action?draftId={page.id}",
            "tinyui": f"/x/{page.id}",
        },
    }
    if page.parent_id is not None:
        data.update(parentId=page.parent_id, parentType="page")
    if single:
        data["_links"]["base"] = state.wiki
    return data


def space_json(state: SandboxState, space: Space) -> dict[str, Any]:
    """A space as GET /spaces lists it."""
    data: dict[str, Any] = {
        "id": str(space.id), "key": space.key, "name": space.name, "type": "global", "status": "current",
        "authorId": state.api_user.account_id, "_links": {"webui": f"/spaces/{quote(space.key)}"},
    }
    if space.homepage_id:
        data["homepageId"] = space.homepage_id
    return data


def property_json(prop: ContentProperty) -> dict[str, Any]:
    """A content property with its version."""
    return {"id": prop.id, "key": prop.key, "value": prop.value, "version": version_json(prop)}


def results(state: SandboxState, items: list[dict[str, Any]], next_link: str | None) -> dict[str, Any]:
    """A MultiEntityResult: the items and `_links` (`next` is relative to the site, /wiki included)."""
    links = {"base": state.wiki}
    if next_link:
        links["next"] = next_link
    return {"results": items, "_links": links}
