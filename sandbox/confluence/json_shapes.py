"""Confluence v1 representations: content with `expand`, versions, users, spaces and labels.

Links follow the products: `_links.base` is the wiki's root (…/wiki), `webui` is relative to it and
opens the sandbox's browser view (Cloud: /spaces/PM/pages/{id}/{slug}; Data Center:
/pages/viewpage.action?pageId={id}).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import quote, quote_plus

from sandbox.confluence.model import ContentProperty, Label, Page, PageVersion, Space
from sandbox.directory import User
from sandbox.state import SandboxState
from sandbox.timefmt import confluence_time

CONTEXT = "/wiki"
_BODY_FORMATS = (
    "storage", "view", "export_view", "styled_view", "editor", "editor2", "anonymous_export_view",
    "atlas_doc_format", "wiki", "dynamic",
)
_RENDERED_FORMATS = ("view", "export_view", "styled_view", "anonymous_export_view")


def parse_expand(values: list[str]) -> set[str]:
    """`expand=body.storage,version` (possibly repeated) → {"body", "body.storage", "version"}."""
    expanded: set[str] = set()
    for item in values:
        parts = item.split(".")
        expanded.update(".".join(parts[: i + 1]) for i in range(len(parts)))
    return expanded


def page_webui(page: Page, is_cloud: bool) -> str:
    if is_cloud:
        return f"/spaces/{quote(page.space_key)}/pages/{page.id}/{quote_plus(page.title)}"
    return f"/pages/viewpage.action?pageId={page.id}"


class ContentJson:
    """Builds the JSON of pages for one request; `render_view` turns storage into HTML for body.view."""

    def __init__(self, state: SandboxState, render_view: Callable[[Page, str], str]) -> None:
        self.state = state
        self.wiki = state.wiki
        self.is_cloud = state.options.is_cloud
        self.render_view = render_view

    def operations(self, page: Page) -> list[dict[str, Any]]:
        """What the sandbox user may do with the page (`expand=operations`)."""
        allowed = ["read"] if page.id in self.state.confluence.edit_restricted else ["read", "update", "delete"]
        return [{"operation": name, "targetType": "page"} for name in allowed]

    def content(
        self, page: Page, expand: set[str], version: PageVersion | None = None, top_level: bool = False,
    ) -> dict[str, Any]:
        """A page as GET /content/{id} shows it with the given expansions."""
        shown = version or page.current
        api = f"/rest/api/content/{page.id}"
        data: dict[str, Any] = {
            "id": page.id, "type": "page",
            "status": page.status if shown is page.current else "historical", "title": shown.title,
        }
        expandable = {
            "container": f"/rest/api/space/{page.space_key}", "metadata": "", "operations": "",
            "children": f"{api}/child",
            "restrictions": f"{api}/restriction/byOperation", "history": f"{api}/history", "ancestors": "",
            "body": "", "version": "", "descendants": f"{api}/descendant", "space": f"/rest/api/space/{page.space_key}",
        }
        builders: dict[str, Callable[[], Any]] = {
            "space": lambda: self.space(self.state.confluence.spaces[page.space_key]),
            "container": lambda: self.space(self.state.confluence.spaces[page.space_key]),
            "history": lambda: self.history(page, expand),
            "version": lambda: self.version(page, shown),
            "ancestors": lambda: [self.content(a, set()) for a in self.state.confluence.ancestors(page)],
            "children": lambda: self.children(page, expand),
            "body": lambda: self.body(page, shown, expand),
            "metadata": lambda: self.metadata(page, expand),
            "operations": lambda: self.operations(page),
        }
        for name, build in builders.items():
            if name in expand:
                data[name] = build()
                expandable.pop(name)
        data["_expandable"] = expandable
        data["_links"] = self.content_links(page, top_level)
        return data

    def content_links(self, page: Page, top_level: bool) -> dict[str, Any]:
        links = {
            "webui": page_webui(page, self.is_cloud),
            "editui": f"/pages/resumedraft.action?draftId={page.id}",
            "tinyui": f"/x/{page.id}",
            "self": f"{self.wiki}/rest/api/content/{page.id}",
        }
        if top_level:
            links.update(collection="/rest/api/content", base=self.wiki, context=CONTEXT)
        return links

    def body(self, page: Page, shown: PageVersion, expand: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {}
        for fmt in ("storage", *_RENDERED_FORMATS):
            if f"body.{fmt}" in expand:
                value = shown.body if fmt == "storage" else self.render_view(page, shown.body)
                data[fmt] = {
                    "value": value, "representation": fmt, "embeddedContent": [],
                    "_expandable": {"content": f"/rest/api/content/{page.id}"},
                }
        data["_expandable"] = {fmt: "" for fmt in _BODY_FORMATS if fmt not in data}
        return data

    def version(self, page: Page, version: PageVersion) -> dict[str, Any]:
        return {
            "by": self.user(version.by),
            "when": confluence_time(version.when),
            "friendlyWhen": version.when.strftime("%b %d, %Y"),
            "message": version.message,
            "number": version.number,
            "minorEdit": version.minor_edit,
            "contentTypeModified": False,
            "_expandable": {"collaborators": "", "content": f"/rest/api/content/{page.id}"},
            "_links": {"self": f"{self.wiki}/rest/api/content/{page.id}/version/{version.number}"},
        }

    def history(self, page: Page, expand: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {
            "latest": True, "createdBy": self.user(page.created_by), "createdDate": confluence_time(page.created),
            "_expandable": {"lastUpdated": "", "previousVersion": "", "contributors": "", "nextVersion": ""},
            "_links": {"self": f"{self.wiki}/rest/api/content/{page.id}/history"},
        }
        if "history.lastUpdated" in expand:
            data["lastUpdated"] = self.version(page, page.current)
            data["_expandable"].pop("lastUpdated")
        if "history.previousVersion" in expand and len(page.versions) > 1:
            data["previousVersion"] = self.version(page, page.versions[-2])
            data["_expandable"].pop("previousVersion")
        return data

    def children(self, page: Page, expand: set[str]) -> dict[str, Any]:
        data: dict[str, Any] = {"_expandable": {"attachment": "", "comment": "", "page": ""}}
        if "children.page" in expand:
            kids = self.state.confluence.children(page.id)
            data["page"] = {
                "results": [self.content(kid, set()) for kid in kids], "start": 0, "limit": 25, "size": len(kids),
                "_links": {"self": f"{self.wiki}/rest/api/content/{page.id}/child/page"},
            }
            data["_expandable"].pop("page")
        return data

    def metadata(self, page: Page, expand: set[str]) -> dict[str, Any]:
        unexpanded = ("currentuser", "comments", "simple", "properties", "frontend", "likes")
        data: dict[str, Any] = {"_expandable": dict.fromkeys(unexpanded, "")}
        if "metadata.labels" in expand:
            data["labels"] = self.label_array(page, page.labels)
        else:
            data["_expandable"]["labels"] = ""
        return data

    def label_array(self, page: Page, labels: list[Label], start: int = 0, limit: int = 200) -> dict[str, Any]:
        window = labels[start : start + limit]
        return {
            "results": [{"prefix": label.prefix, "name": label.name, "id": label.id, "label": label.name}
                        for label in window],
            "start": start, "limit": limit, "size": len(window),
            "_links": {"self": f"{self.wiki}/rest/api/content/{page.id}/label"},
        }

    def content_property(self, page: Page, prop: ContentProperty, expand: set[str],
                         top_level: bool = False) -> dict[str, Any]:
        """A content property: its version always, the page itself only with expand=content."""
        links = {"self": f"{self.wiki}/rest/api/content/{page.id}/property/{quote(prop.key, safe='')}"}
        if top_level:
            links.update(base=self.wiki, context=CONTEXT)
        data: dict[str, Any] = {
            "id": prop.id, "key": prop.key, "value": prop.value, "version": self.property_version(prop),
            "_links": links, "_expandable": {"content": f"/rest/api/content/{page.id}"},
        }
        if "content" in expand:
            data["content"] = self.content(page, set())
            data["_expandable"].pop("content")
        return data

    def property_version(self, prop: ContentProperty) -> dict[str, Any]:
        """Cloud adds contentTypeModified, Data Center `hidden` (as each product answers)."""
        version = {
            "when": confluence_time(prop.when), "message": prop.message, "number": prop.number,
            "minorEdit": prop.minor_edit,
        }
        return version | ({"contentTypeModified": False} if self.is_cloud else {"hidden": False})

    def property_array(
        self, page: Page, props: list[ContentProperty], start: int, limit: int, expand: set[str],
    ) -> dict[str, Any]:
        window = props[start : start + limit]
        path = f"/rest/api/content/{page.id}/property"
        links = {"base": self.wiki, "context": CONTEXT, "self": f"{self.wiki}{path}"}
        if limit and start + limit < len(props):
            links["next"] = f"{path}?limit={limit}&start={start + limit}"
        return {
            "results": [self.content_property(page, p, expand) for p in window],
            "start": start, "limit": limit, "size": len(window), "_links": links,
        }

    def space(self, space: Space) -> dict[str, Any]:
        return {
            "id": space.id, "key": space.key, "name": space.name, "type": "global", "status": "current",
            "_expandable": {
                "settings": "", "metadata": "", "operations": "", "lookAndFeel": "", "identifiers": "",
                "permissions": "", "icon": "", "description": "", "theme": "", "history": "",
                "homepage": f"/rest/api/content/{space.homepage_id}" if space.homepage_id else "",
            },
            "_links": {
                "webui": f"/spaces/{quote(space.key)}", "self": f"{self.wiki}/rest/api/space/{quote(space.key)}",
            },
        }

    def user(self, user: User) -> dict[str, Any]:
        picture = {"path": f"{CONTEXT}/aa-avatar/{quote(user.username)}", "width": 48, "height": 48, "isDefault": False}
        if self.is_cloud:
            return {
                "type": "known", "accountId": user.account_id, "accountType": "atlassian", "email": user.email,
                "publicName": user.display_name, "profilePicture": picture, "displayName": user.display_name,
                "isExternalCollaborator": False, "_expandable": {"operations": "", "personalSpace": ""},
                "_links": {"self": f"{self.wiki}/rest/api/user?accountId={quote(user.account_id)}"},
            }
        return {
            "type": "known", "username": user.username, "userKey": user.userkey, "profilePicture": picture,
            "displayName": user.display_name, "_expandable": {"status": ""},
            "_links": {"self": f"{self.wiki}/rest/api/user?key={quote(user.userkey)}"},
        }
