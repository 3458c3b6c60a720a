"""Confluence REST v1 content properties: /wiki/rest/api/content/{id}/property[/{key}].

GET lists (start/limit, `key` filter) or reads one; POST creates (an existing key: 400, as the spec
says); PUT writes version.number = current + 1 (else 409) and creates a missing key at version 1
(another number: 404); DELETE answers 204. Every answer carries the property's version.
"""

from __future__ import annotations

from typing import Any

from sandbox.confluence.inputs import int_param, json_body
from sandbox.confluence.json_shapes import ContentJson, parse_expand
from sandbox.confluence.model import Page
from sandbox.http.errors import confluence_error
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, json_reply, no_content
from sandbox.state import SandboxState

API = "/wiki/rest/api/content/{id}/property"
DEFAULT_LIMIT = 10


def register(router: Router) -> None:
    """Add the content property routes."""
    for method, template, handler in (
        ("GET", "", list_properties), ("POST", "", create_property),
        ("GET", "/{key}", get_property), ("POST", "/{key}", create_property),
        ("PUT", "/{key}", update_property), ("DELETE", "/{key}", delete_property),
    ):
        router.add(method, API + template, handler)


def list_properties(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    keys = set(request.arg_list("key"))
    props = [p for p in page.properties.values() if not keys or p.key in keys]
    start, limit = int_param(request, "start", 0), int_param(request, "limit", DEFAULT_LIMIT)
    return json_reply(_json(state).property_array(page, props, start, limit, _expand(request)))


def get_property(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    prop = state.confluence.properties.get(page, request.params["key"])
    return _property_reply(state, page, prop.key, _expand(request))


def create_property(state: SandboxState, request: Request) -> Reply:
    """POST …/property ({key, value}) or …/property/{key} ({value}): 200 with version 1."""
    page = state.confluence.page(request.params["id"])
    state.confluence.check_editable(page.id, cloud=state.options.is_cloud)
    data = json_body(request)
    key = request.params.get("key") or data.get("key")
    if not isinstance(key, str):
        raise confluence_error(400, "The content property key is required")
    state.confluence.properties.create(page, key, _value(data), state.api_user)
    return _property_reply(state, page, key, set())


def update_property(state: SandboxState, request: Request) -> Reply:
    """PUT …/property/{key} with {value, version: {number: current + 1}}."""
    page = state.confluence.page(request.params["id"])
    state.confluence.check_editable(page.id, cloud=state.options.is_cloud)
    key = request.params["key"]
    data = json_body(request)
    if data.get("key") not in (None, key):
        raise confluence_error(400, f"The key in the body ({data.get('key')}) does not match the path's key ({key})")
    number, minor_edit = _version(data.get("version"))
    state.confluence.properties.update(page, key, _value(data), number, state.api_user, minor_edit)
    return _property_reply(state, page, key, set())


def delete_property(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    state.confluence.check_editable(page.id, cloud=state.options.is_cloud)
    state.confluence.properties.delete(page, request.params["key"])
    return no_content()


def _property_reply(state: SandboxState, page: Page, key: str, expand: set[str]) -> Reply:
    return json_reply(_json(state).content_property(page, page.properties[key], expand, top_level=True))


def _json(state: SandboxState) -> ContentJson:
    # Property answers never render page bodies, so no view renderer is needed.
    return ContentJson(state, lambda page, body: body)


def _expand(request: Request) -> set[str]:
    return parse_expand(request.arg_list("expand"))


def _value(data: dict[str, Any]) -> Any:
    if "value" not in data or data["value"] is None:
        raise confluence_error(400, "The content property value is required")
    return data["value"]


def _version(version: Any) -> tuple[int, bool]:
    """version.number as an int (the spec allows a numeric string), and version.minorEdit."""
    fields = version if isinstance(version, dict) else {}
    number = fields.get("number")
    if isinstance(number, str) and number.strip().isdigit():
        number = int(number)
    if not isinstance(number, int) or isinstance(number, bool):
        raise confluence_error(
            400, "Must supply an incremented version when updating a content property. No version supplied.",
        )
    return number, bool(fields.get("minorEdit", True))  # True is the spec's default
