"""Confluence REST v1 under /wiki/rest/api: content CRUD, CQL search, labels, children, space, user.

Paging follows the deployment: Cloud search pages by an opaque `cursor` in `_links.next` (a `start`
parameter is ignored), Data Center by `start`/`limit`. `limit` defaults to 25 and is capped at 25
when body.export_view/styled_view is expanded (spec), 50 for other body expansions and 200
otherwise (the sandbox's "fixed system limits").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from sandbox.browser.views import render_page_html
from sandbox.confluence import property_api
from sandbox.confluence.inputs import int_param, json_body
from sandbox.confluence.json_shapes import ContentJson, page_webui, parse_expand
from sandbox.confluence.model import Page
from sandbox.http.errors import confluence_error
from sandbox.http.router import Router
from sandbox.http.wire import BadJson, Reply, Request, json_reply, no_content
from sandbox.query.cql import compile_cql
from sandbox.query.paging import decode_token, encode_token
from sandbox.state import SandboxState
from sandbox.timefmt import confluence_time

API = "/wiki/rest/api"
DEFAULT_LIMIT = 25
_WRITE_EXPAND = {"space", "history", "version", "ancestors", "container", "body", "body.storage"}


def register(router: Router) -> None:
    """Add every Confluence route."""
    for method, template, handler in (
        ("GET", "/content", list_content), ("POST", "/content", create_content),
        ("GET", "/content/search", search_content), ("GET", "/search", search),
        ("GET", "/content/{id}", get_content), ("PUT", "/content/{id}", update_content),
        ("GET", "/content/{id}/history", get_history), ("GET", "/content/{id}/child/page", child_pages),
        ("GET", "/content/{id}/label", get_labels), ("POST", "/content/{id}/label", add_labels),
        ("DELETE", "/content/{id}/label", remove_label), ("DELETE", "/content/{id}/label/{label}", remove_label),
        ("GET", "/space/{spaceKey}", get_space), ("GET", "/user/current", current_user), ("GET", "/user", get_user),
        ("DELETE", "/content/{id}", delete_content),
        ("POST", "/content/{id}/permission/check", check_content_permission),
    ):
        router.add(method, API + template, handler)
    property_api.register(router)


def _renderer(state: SandboxState) -> ContentJson:
    return ContentJson(state, lambda page, body: render_page_html(state, page, body))


def _expand(request: Request, strip_prefix: str = "") -> set[str]:
    items = request.arg_list("expand")
    if strip_prefix:
        items = [item[len(strip_prefix):] if item.startswith(strip_prefix) else item for item in items]
    return parse_expand(items)


def get_content(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page_with_status(request.params["id"], request.arg_list("status"))
    version = None
    if request.arg("version"):
        number = int_param(request, "version", 0)
        version = next((v for v in page.versions if v.number == number), None)
        if version is None:
            raise confluence_error(404, f"No content found with id : ContentId{{id={page.id}}} and version {number}")
    return json_reply(_renderer(state).content(page, _expand(request), version, top_level=True))


def delete_content(state: SandboxState, request: Request) -> Reply:
    """Trash a current page; with status=trashed, purge a trashed one (Confluence's two-step delete)."""
    page_id = request.params["id"]
    if request.arg("status") == "trashed":
        state.confluence.purge_page(page_id)
    else:
        state.confluence.trash_page(page_id)
    return no_content()


def get_history(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    return json_reply(_renderer(state).history(page, {"history.lastUpdated", "history.previousVersion"}))


def create_content(state: SandboxState, request: Request) -> Reply:
    data = json_body(request)
    if data.get("type") != "page":
        kind = data.get("type")
        raise confluence_error(400, f"Could not create content with type {kind} (the sandbox stores pages only)")
    space_key = (data.get("space") or {}).get("key")
    if not space_key:
        raise confluence_error(400, "Space key is required to create content")
    ancestors = data.get("ancestors") or []
    parent_id = str(ancestors[-1].get("id")) if ancestors else None
    page = state.confluence.create_page(
        space_key, str(data.get("title") or ""), _storage_value(data), state.api_user,
        parent_id=parent_id, message=str((data.get("version") or {}).get("message") or ""),
    )
    return json_reply(_renderer(state).content(page, _WRITE_EXPAND, top_level=True))


def update_content(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    data = json_body(request)
    state.confluence.check_editable(page.id, cloud=state.options.is_cloud)  # the 403 wins over a 400 or 409
    version = data.get("version")
    if not isinstance(version, dict) or not isinstance(version.get("number"), int):
        raise confluence_error(400, "Must supply an incremented version when updating Content. No version supplied.")
    if data.get("type") != "page":
        kind = data.get("type")
        raise confluence_error(400, f"Content type must be given and match the existing type: page (got {kind})")
    title = data.get("title")
    if not isinstance(title, str) or not title.strip():
        raise confluence_error(400, "Title is required to update a page")
    ancestors = data.get("ancestors") or []
    body = None if data.get("body") is None else _storage_value(data)  # no body: keep the stored one
    state.confluence.update_page(
        page.id, number=version["number"], title=title, body=body,
        author=state.api_user, minor_edit=bool(version.get("minorEdit", False)),
        message=str(version.get("message") or ""), parent_id=str(ancestors[-1]["id"]) if ancestors else None,
    )
    return json_reply(_renderer(state).content(page, _WRITE_EXPAND, top_level=True))


def check_content_permission(state: SandboxState, request: Request) -> Reply:
    """Cloud only: may the sandbox user itself read, update or delete the page? {"hasPermission", "errors"}."""
    if not state.options.is_cloud:  # Data Center has no such resource
        raise confluence_error(404, f"null for uri: {request.target}")
    operation, subject = _permission_request(json_body(request))
    page = state.confluence.stored(request.params["id"])  # a view restriction is what this answers, not a 404
    if subject != {"type": "user", "identifier": state.api_user.account_id}:
        raise confluence_error(403, "Checking the permissions of another user or a group needs the "
                                    "'Confluence Administrator' global permission")
    hidden = page.id in state.confluence.view_restricted
    allowed = not hidden and (operation == "read" or page.id not in state.confluence.edit_restricted)
    errors = [] if allowed else [{"translation": "User does not have permission to the content", "args": []}]
    return json_reply({"hasPermission": allowed, "errors": errors})


def _permission_request(data: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The operation and subject of a permission check, or Confluence's 400."""
    operation, subject = data.get("operation"), data.get("subject")
    if operation not in ("read", "update", "delete"):
        raise confluence_error(400, "operation is required and must be one of: read, update, delete")
    if (not isinstance(subject, dict) or subject.get("type") not in ("user", "group")
            or not isinstance(subject.get("identifier"), str)):
        raise confluence_error(400, "subject is required: {\"type\": \"user\" or \"group\", \"identifier\": …}")
    return operation, {"type": subject["type"], "identifier": subject["identifier"]}


def _storage_value(data: dict[str, Any]) -> str:
    """The storage body of a create/update; other representations are not stored by the sandbox."""
    body = data.get("body")
    storage = body.get("storage") if isinstance(body, dict) else None
    value = storage.get("value") if isinstance(storage, dict) and storage.get("representation") == "storage" else None
    if not isinstance(value, str):
        raise confluence_error(
            400, "body.storage with representation 'storage' and a string value is required "
            "(the sandbox stores storage format only)",
        )
    return value


def get_labels(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    prefix = request.arg("prefix")
    labels = [label for label in page.labels if prefix in (None, "", label.prefix)]
    start, limit = int_param(request, "start", 0), int_param(request, "limit", 200)
    return json_reply(_renderer(state).label_array(page, labels, start, limit))


def add_labels(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    try:
        data: Any = request.json()
    except BadJson:
        raise confluence_error(400, "Could not parse the request body as JSON") from None
    items = data if isinstance(data, list) else [data]
    if not items or not all(isinstance(item, dict) and isinstance(item.get("name"), str) for item in items):
        raise confluence_error(400, "Labels must be given as [{\"prefix\": \"global\", \"name\": \"…\"}]")
    state.confluence.add_labels(page.id, [(item.get("prefix", "global"), item["name"]) for item in items])
    return json_reply(_renderer(state).label_array(page, page.labels))


def remove_label(state: SandboxState, request: Request) -> Reply:
    """DELETE …/label?name=x or …/label/x."""
    name = request.params.get("label") or request.arg("name")
    if not name:
        raise confluence_error(400, "The label name is required")
    state.confluence.remove_label(request.params["id"], name)
    return no_content()


def child_pages(state: SandboxState, request: Request) -> Reply:
    page = state.confluence.page(request.params["id"])
    start, limit = int_param(request, "start", 0), min(int_param(request, "limit", DEFAULT_LIMIT), 200)
    kids = state.confluence.children(page.id)
    return _content_array(state, request, kids, start, limit, f"/rest/api/content/{page.id}/child/page")


def list_content(state: SandboxState, request: Request) -> Reply:
    """GET /content?spaceKey=&title=&type=: what get_page_by_title and page_exists call."""
    space_key, title, kind = request.arg("spaceKey"), request.arg("title"), request.arg("type", "page")
    pages = [
        p for p in state.confluence.searchable(lag=None)
        if kind == "page" and space_key in (None, p.space_key) and (title is None or p.title == title)
    ]
    start, limit = int_param(request, "start", 0), min(int_param(request, "limit", DEFAULT_LIMIT), 200)
    return _content_array(state, request, pages, start, limit, "/rest/api/content")


def _content_array(
    state: SandboxState, request: Request, pages: list[Page], start: int, limit: int, path: str,
) -> Reply:
    window = pages[start : start + limit]
    links = {"base": state.wiki, "context": "/wiki", "self": f"{state.wiki}{path}"}
    if start + limit < len(pages) and limit:
        links["next"] = f"{path}?{urlencode(_carry(request, limit=limit, start=start + limit))}"
    renderer, expand = _renderer(state), _expand(request)
    results = [renderer.content(p, expand) for p in window]
    return json_reply({"results": results, "start": start, "limit": limit, "size": len(window), "_links": links})


@dataclass(frozen=True)
class _Hits:
    """One page of CQL results and the paging links that go with it."""

    pages: list[Page]
    start: int
    limit: int
    total: int
    links: dict[str, str]


def search_content(state: SandboxState, request: Request) -> Reply:
    """GET /content/search: CQL hits as Content objects."""
    expand = _expand(request)
    hits = _run_cql(state, request, expand, "/rest/api/content/search")
    renderer = _renderer(state)
    results = [renderer.content(p, expand) for p in hits.pages]
    body = {"results": results, "start": hits.start, "limit": hits.limit, "size": len(results), "_links": hits.links}
    return json_reply(body)


def search(state: SandboxState, request: Request) -> Reply:
    """GET /search: the same hits wrapped as SearchResult, content under `.content`."""
    expand = _expand(request, strip_prefix="content.")
    hits = _run_cql(state, request, expand, "/rest/api/search")
    renderer = _renderer(state)
    results = [_search_result(state, renderer, p, expand) for p in hits.pages]
    body = {
        "results": results, "start": hits.start, "limit": hits.limit, "size": len(results), "totalSize": hits.total,
        "cqlQuery": request.arg("cql"), "searchDuration": 3, "_links": hits.links,
    }
    return json_reply(body)


def _search_result(state: SandboxState, renderer: ContentJson, page: Page, expand: set[str]) -> dict[str, Any]:
    space = state.confluence.spaces[page.space_key]
    return {
        "content": renderer.content(page, expand), "title": page.title, "excerpt": "",
        "url": page_webui(page, state.options.is_cloud),
        "resultGlobalContainer": {"title": space.name, "displayUrl": f"/spaces/{space.key}"},
        "breadcrumbs": [], "entityType": "content", "iconCssClass": "aui-icon content-type-page",
        "lastModified": confluence_time(page.last_modified),
        "friendlyLastModified": page.last_modified.strftime("%b %d, %Y"),
        "score": 0.0,
    }


def _run_cql(state: SandboxState, request: Request, expand: set[str], path: str) -> _Hits:
    """Evaluate the CQL and cut the page of hits this request asked for, with its `_links`."""
    cql = request.arg("cql")
    if not cql:
        raise confluence_error(400, "CQL query parameter 'cql' is required")
    limit = min(int_param(request, "limit", DEFAULT_LIMIT), _limit_cap(expand))
    start = _decode_cursor(request.arg("cursor"), cql) if state.options.is_cloud else int_param(request, "start", 0)
    compiled = compile_cql(cql, state.confluence, state.api_user, state.confluence_now(), state.cql_zone)
    indexed = compiled.sort.sort([p for p in state.confluence.searchable(state.search_lag) if compiled.matches(p)])
    hits = [state.confluence.pages[p.id] for p in indexed]
    links = {"base": state.wiki, "context": "/wiki", "self": f"{state.wiki}{path}?{urlencode(_carry(request))}"}
    following = start + limit
    if limit and following < len(hits):
        paging = {"cursor": _cursor(following, cql)} if state.options.is_cloud else {"start": following}
        links["next"] = f"{path}?{urlencode(_carry(request, limit=limit, **paging))}"
    if state.options.is_cloud and start > 0:
        links["prev"] = f"{path}?{urlencode(_carry(request, limit=limit, cursor=_cursor(max(start - limit, 0), cql)))}"
    return _Hits(hits[start:following], start, limit, len(hits), links)


def _limit_cap(expand: set[str]) -> int:
    if expand & {"body.export_view", "body.styled_view"}:
        return 25
    if any(item.startswith("body.") for item in expand):
        return 50
    return 200


def _carry(request: Request, **overrides: Any) -> list[tuple[str, str]]:
    """The request's query parameters with paging parameters replaced."""
    replaced = set(overrides) | {"start", "cursor"}
    kept = [(k, v) for k, values in request.query.items() for v in values if k not in replaced]
    return kept + [(k, str(v)) for k, v in overrides.items()]


def _cursor(offset: int, cql: str) -> str:
    return encode_token(offset, cql, prefix="_sa_")


def _decode_cursor(cursor: str | None, cql: str) -> int:
    """The offset a cursor stands for; cursors only work with the CQL that produced them."""
    if not cursor:
        return 0
    try:
        return decode_token(cursor, cql, prefix="_sa_")
    except ValueError:
        raise confluence_error(400, f"Invalid cursor: {cursor}") from None


def get_space(state: SandboxState, request: Request) -> Reply:
    space = state.confluence.space(request.params["spaceKey"])
    data = _renderer(state).space(space)
    data["_links"].update(base=state.wiki, context="/wiki")
    return json_reply(data)


def current_user(state: SandboxState, request: Request) -> Reply:
    return json_reply(_renderer(state).user(state.api_user))


def get_user(state: SandboxState, request: Request) -> Reply:
    """One person by Cloud's ?accountId=, or Data Center's ?key= (Confluence's userkey) or ?username=; else 404."""
    people = state.directory.of_product("confluence")
    if state.options.is_cloud:
        account_id = request.arg("accountId")
        if not account_id:
            raise confluence_error(400, "accountId is required")
        found = people.by_account_id(account_id)
    else:
        key, username = request.arg("key"), request.arg("username")
        if not key and not username:
            raise confluence_error(400, "Either key or username is required")
        found = people.by_key(key) if key else people.by_username(username or "")
    if found is None:
        raise confluence_error(404, "No user found with the given identifier")
    return json_reply(_renderer(state).user(found))
