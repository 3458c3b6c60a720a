"""Confluence Cloud REST v2 under /wiki/api/v2: spaces, pages and page properties (Cloud only).

The routes a client needs where Cloud retires v1 content routes, over the same store as v1. What v2
does its own way, as the official spec and public reports describe it:

- `GET /pages?space-id=&title=` matches the title exactly but case-insensitively, and an empty title
  matches nothing; `status` defaults to current and archived;
- `GET /pages/{id}` also returns an archived or trashed page, with `"status": "archived"` or `"trashed"`,
  unless `status` leaves it out; a page the user may not view answers 404, as a missing one;
- `POST /pages` without `parentId` puts the page under the space's homepage (unless `root-level=true`);
- `PUT /pages/{id}` needs id, status, title, body and version, and has no `minorEdit`: every update is a
  major edit that notifies watchers; a stale version answers 409 as in v1;
- page properties are addressed by their id (`/properties/{property-id}`), found by `?key=`.

Errors are raised in v1's shape and reshaped to v2's by the pipeline. Lists page with an opaque `cursor`.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from sandbox.confluence.inputs import int_param, json_body
from sandbox.confluence.model import ContentProperty, Page, Space
from sandbox.confluence.v2_shapes import API, page_json, property_json, results, space_json
from sandbox.http.errors import confluence_error
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, json_reply, no_content
from sandbox.query.paging import decode_token, encode_token
from sandbox.state import SandboxState

_LIST_STATUSES = ("current", "archived", "deleted", "trashed")
_STORAGE_ONLY = "the sandbox serves and stores body-format storage only"


def register(router: Router) -> None:
    """Add the v2 routes (Cloud flavour only)."""
    for method, template, handler in (
        ("GET", "/spaces", list_spaces), ("GET", "/pages", list_pages), ("POST", "/pages", create_page),
        ("GET", "/pages/{id}", get_page), ("PUT", "/pages/{id}", update_page), ("DELETE", "/pages/{id}", delete_page),
        ("GET", "/pages/{id}/operations", page_operations),
        ("GET", "/pages/{page-id}/properties", list_properties),
        ("POST", "/pages/{page-id}/properties", create_property),
        ("GET", "/pages/{page-id}/properties/{property-id}", get_property),
        ("PUT", "/pages/{page-id}/properties/{property-id}", update_property),
        ("DELETE", "/pages/{page-id}/properties/{property-id}", delete_property),
    ):
        router.add(method, API + template, handler)


# --- spaces and pages -----------------------------------------------------------------------------


def list_spaces(state: SandboxState, request: Request) -> Reply:
    """GET /spaces?keys=&ids=: keys match case-insensitively."""
    keys = {key.casefold() for key in request.arg_list("keys")}
    ids = set(request.arg_list("ids"))
    spaces = [s for s in state.confluence.spaces.values()
              if (not keys or s.key.casefold() in keys) and (not ids or str(s.id) in ids)]
    window, next_link = _window(request, spaces, "/spaces")
    return json_reply(results(state, [space_json(state, s) for s in window], next_link))


def list_pages(state: SandboxState, request: Request) -> Reply:
    """GET /pages?space-id=&title=&status=&body-format=: exact, case-insensitive title match."""
    body_format = _body_format(request)
    statuses = set(request.arg_list("status") or ["current", "archived"])
    if not statuses <= set(_LIST_STATUSES):
        raise confluence_error(400, f"Invalid status: {sorted(statuses - set(_LIST_STATUSES))}")
    space_ids, ids, title = set(request.arg_list("space-id")), set(request.arg_list("id")), request.arg("title")
    candidates = [p for p in (*state.confluence.pages.values(), *state.confluence.trash.values())
                  if p.id not in state.confluence.view_restricted]
    pages = sorted(
        (p for p in candidates if p.status in statuses
         and (not space_ids or str(state.confluence.spaces[p.space_key].id) in space_ids)
         and (not ids or p.id in ids)
         and (title is None or (title != "" and p.title.casefold() == title.casefold()))),
        key=lambda p: int(p.id))
    window, next_link = _window(request, pages, "/pages")
    return json_reply(results(state, [page_json(state, p, body_format, single=False) for p in window], next_link))


def get_page(state: SandboxState, request: Request) -> Reply:
    """GET /pages/{id}?body-format=&status=&version=."""
    page = _any_page(state, request.params["id"])
    wanted = request.arg_list("status")
    if wanted and page.status not in wanted:
        raise confluence_error(404, f"No content found with id : ContentId{{id={page.id}}}")
    version = None
    if request.arg("version"):
        number = int_param(request, "version", 0)
        version = next((v for v in page.versions if v.number == number), None)
        if version is None:
            raise confluence_error(404, f"No content found with id : ContentId{{id={page.id}}} and version {number}")
    return json_reply(page_json(state, page, _body_format(request), version))


def create_page(state: SandboxState, request: Request) -> Reply:
    """POST /pages {spaceId, status, title, parentId, body}: under the space's homepage unless told otherwise."""
    data = json_body(request)
    space = _space_by_id(state, data.get("spaceId"))
    _check_status(data.get("status", "current"))
    parent_id = data.get("parentId")
    if parent_id is None and request.arg("root-level") != "true":
        parent_id = space.homepage_id
    page = state.confluence.create_page(
        space.key, str(data.get("title") or ""), _storage_body(data), state.api_user,
        parent_id=str(parent_id) if parent_id is not None else None,
    )
    return json_reply(page_json(state, page, "storage"))


def update_page(state: SandboxState, request: Request) -> Reply:
    """PUT /pages/{id} {id, status, title, body, version: {number, message}}: a major edit, always."""
    page = state.confluence.page(_numeric(request.params["id"]))
    data = json_body(request)
    state.confluence.check_editable(page.id, cloud=True)  # the 403 wins over a 400 or 409
    if str(data.get("id")) != page.id:
        raise confluence_error(400, f"The id in the body ({data.get('id')}) does not match the path's ({page.id})")
    _check_status(data.get("status"))
    version = data.get("version")
    if not isinstance(version, dict) or not isinstance(version.get("number"), int):
        raise confluence_error(400, "Must supply an incremented version when updating a page. No version supplied.")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise confluence_error(400, "Title is required to update a page")
    parent_id = data.get("parentId")
    state.confluence.update_page(
        page.id, number=version["number"], title=title, body=_storage_body(data), author=state.api_user,
        minor_edit=False, message=str(version.get("message") or ""),
        parent_id=str(parent_id) if parent_id is not None else None,
    )
    return json_reply(page_json(state, page, "storage"))


def delete_page(state: SandboxState, request: Request) -> Reply:
    """DELETE /pages/{id}: trash a current page; ?purge=true deletes a trashed one for good."""
    page_id = _numeric(request.params["id"])
    if request.arg("purge") == "true":
        state.confluence.purge_page(page_id)
    else:
        state.confluence.trash_page(page_id)
    return no_content()


def page_operations(state: SandboxState, request: Request) -> Reply:
    """GET /pages/{id}/operations: what the sandbox user may do with the page."""
    page = state.confluence.page(_numeric(request.params["id"]))
    names = ["read"] if page.id in state.confluence.edit_restricted else ["read", "update", "delete"]
    return json_reply({"operations": [{"operation": name, "targetType": "page"} for name in names]})


# --- page properties ------------------------------------------------------------------------------


def list_properties(state: SandboxState, request: Request) -> Reply:
    """GET /pages/{page-id}/properties?key=: the page's properties, or the one with that key."""
    page = state.confluence.page(_numeric(request.params["page-id"]))
    key = request.arg("key")
    props = [p for p in page.properties.values() if key is None or p.key == key]
    window, next_link = _window(request, props, f"/pages/{page.id}/properties")
    return json_reply(results(state, [property_json(p) for p in window], next_link))


def create_property(state: SandboxState, request: Request) -> Reply:
    """POST /pages/{page-id}/properties {key, value}: version 1; an existing key is a 400."""
    page = state.confluence.page(_numeric(request.params["page-id"]))
    state.confluence.check_editable(page.id, cloud=True)
    data = json_body(request)
    if not isinstance(data.get("key"), str) or data.get("value") is None:
        raise confluence_error(400, "The content property key and value are required")
    return json_reply(property_json(state.confluence.properties.create(page, data["key"], data["value"],
                                                                       state.api_user)))


def get_property(state: SandboxState, request: Request) -> Reply:
    _, prop = _property(state, request)
    return json_reply(property_json(prop))


def update_property(state: SandboxState, request: Request) -> Reply:
    """PUT /pages/{page-id}/properties/{property-id} {key, value, version: {number: current + 1}}."""
    page, prop = _property(state, request)
    state.confluence.check_editable(page.id, cloud=True)
    data = json_body(request)
    if data.get("key") not in (None, prop.key):
        raise confluence_error(400, f"The key in the body ({data.get('key')}) is not the property's ({prop.key})")
    version = data.get("version")
    if not isinstance(version, dict) or not isinstance(version.get("number"), int) or data.get("value") is None:
        raise confluence_error(400, "Must supply a value and an incremented version when updating a property.")
    updated = state.confluence.properties.update(page, prop.key, data["value"], version["number"], state.api_user)
    return json_reply(property_json(updated))


def delete_property(state: SandboxState, request: Request) -> Reply:
    page, prop = _property(state, request)
    state.confluence.check_editable(page.id, cloud=True)
    state.confluence.properties.delete(page, prop.key)
    return no_content()


# --- helpers --------------------------------------------------------------------------------------


def _numeric(value: str) -> str:
    """A path id, which v2 declares as an integer: Confluence's 400 otherwise."""
    if not value.isdigit():
        raise confluence_error(400, f"Invalid id: {value}")
    return value


def _any_page(state: SandboxState, page_id: str) -> Page:
    """The page, current, archived or trashed; the 404 when none, or when the user may not view it (v2's spec)."""
    found = state.confluence.pages.get(_numeric(page_id)) or state.confluence.trash.get(page_id)
    if found is None or page_id in state.confluence.view_restricted:
        raise confluence_error(404, f"No content found with id : ContentId{{id={page_id}}}")
    return found


def _space_by_id(state: SandboxState, space_id: object) -> Space:
    if not isinstance(space_id, str) or not space_id:
        raise confluence_error(400, "spaceId is required to create a page")
    found = next((s for s in state.confluence.spaces.values() if str(s.id) == space_id), None)
    if found is None:
        raise confluence_error(404, f"No space with id : {space_id}")
    return found


def _property(state: SandboxState, request: Request) -> tuple[Page, ContentProperty]:
    page = state.confluence.page(_numeric(request.params["page-id"]))
    wanted = _numeric(request.params["property-id"])
    prop = next((p for p in page.properties.values() if p.id == wanted), None)
    if prop is None:
        raise confluence_error(404, f"No content property found with id: {wanted}")
    return page, prop


def _check_status(status: object) -> None:
    if status != "current":
        raise confluence_error(400, f"status must be current (the sandbox keeps no drafts), not {status!r}")


def _body_format(request: Request) -> str | None:
    body_format = request.arg("body-format")
    if body_format not in (None, "storage"):
        raise confluence_error(400, f"body-format {body_format}: {_STORAGE_ONLY}")
    return body_format


def _storage_body(data: dict[str, Any]) -> str:
    """The storage value of a write: `{representation, value}` or `{storage: {representation, value}}`."""
    body = data.get("body")
    body = body.get("storage", body) if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("representation") != "storage" or not isinstance(body.get("value"), str):
        raise confluence_error(400, f"body with representation storage and a string value is required: {_STORAGE_ONLY}")
    return str(body["value"])


def _window(request: Request, items: list[Any], path: str) -> tuple[list[Any], str | None]:
    """One page of items by `limit` (1-250, default 25) and `cursor`; the relative link to the next one."""
    limit = int_param(request, "limit", 25)
    if not 1 <= limit <= 250:
        raise confluence_error(400, "limit must be between 1 and 250")
    signature = urlencode(sorted((k, v) for k, values in request.query.items() for v in values if k != "cursor"))
    cursor = request.arg("cursor")
    try:
        start = decode_token(cursor, signature) if cursor else 0
    except ValueError:
        raise confluence_error(400, f"Invalid cursor: {cursor}") from None
    if start + limit >= len(items):
        return items[start:], None
    query = [(k, v) for k, values in request.query.items() for v in values if k != "cursor"]
    following = urlencode([*query, ("cursor", encode_token(start + limit, signature))])
    return items[start:start + limit], f"{API}{path}?{following}"
