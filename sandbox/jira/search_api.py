"""Issue search. Cloud: /rest/api/{2,3}/search/jql with nextPageToken and no total, while the retired
/rest/api/{2,3}/search answers 410 as Jira Cloud does since 2025. Data Center: /rest/api/2/search
with startAt/maxResults/total. Both read the (possibly lagging) search index."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.http.errors import jira_error
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, json_reply
from sandbox.jira.inputs import int_param, json_body, view_for
from sandbox.jira.json_shapes import FieldSelection, issue_json
from sandbox.jira.store import Issue
from sandbox.query.jql import CompiledJql, JqlContext, compile_jql
from sandbox.query.paging import decode_token, encode_token
from sandbox.state import SandboxState

RETIRED = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql API. "
    "A full migration guideline is available at https://developer.atlassian.com/changelog/#CHANGE-2046"
)
UNBOUNDED = "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
CLOUD_DEFAULT_MAX, CLOUD_CAP_FIELDS, CLOUD_CAP_IDS = 50, 100, 5000
DC_DEFAULT_MAX, DC_CAP = 50, 1000


def register(router: Router, is_cloud: bool) -> None:
    if is_cloud:
        for version in ("2", "3"):
            for method in ("GET", "POST"):
                router.add(method, f"/rest/api/{version}/search/jql", search_jql)
                router.add(method, f"/rest/api/{version}/search", retired_search)
    else:
        for method in ("GET", "POST"):
            router.add(method, "/rest/api/2/search", search_dc)
            router.add(method, "/rest/api/latest/search", search_dc)


@dataclass(frozen=True)
class _Query:
    """A search request, whether it came as GET parameters or a POST body."""

    jql: str
    fields: list[str]
    properties: list[str]
    max_results: int | None
    page: str | None  # nextPageToken (Cloud) or startAt (Data Center)
    reconcile: list[str]


def _read_query(request: Request, page_param: str) -> _Query:
    if request.method == "GET":
        maximum = None if request.arg("maxResults") in (None, "") else int_param(request, "maxResults", 0)
        return _Query(
            request.arg("jql", "") or "", request.arg_list("fields"), request.arg_list("properties"),
            maximum, request.arg(page_param), request.arg_list("reconcileIssues"),
        )
    body = json_body(request)
    if not isinstance(body, dict):
        raise jira_error(400, "The request body must be a JSON object.")
    fields = body.get("fields") or []
    maximum = body.get("maxResults")
    if maximum is not None and (not isinstance(maximum, int) or maximum < 0):
        raise jira_error(400, "'maxResults' must be a non-negative integer.")
    page = body.get(page_param)
    return _Query(
        str(body.get("jql") or ""), [f for item in fields for f in str(item).split(",")],
        list(body.get("properties") or []), maximum, None if page is None else str(page),
        [str(i) for i in body.get("reconcileIssues") or []],
    )


def _matching(state: SandboxState, query: _Query) -> tuple[CompiledJql, list[Issue]]:
    context = JqlContext(
        state.jira_directory, state.api_user, state.jira_now(), state.options.is_cloud, state.jira.sprints,
        issue_exists=state.jira.has_issue, zone=state.zone_of(state.api_user),
    )
    compiled = compile_jql(query.jql, context)
    visible = state.jira.searchable(query.reconcile)
    return compiled, compiled.sort.sort([issue for issue in visible if compiled.matches(issue)])


def retired_search(state: SandboxState, request: Request) -> Reply:
    raise jira_error(410, RETIRED)


def search_jql(state: SandboxState, request: Request) -> Reply:
    """Cloud's enhanced search: pages chained by nextPageToken; the last page has none."""
    query = _read_query(request, "nextPageToken")
    selection = FieldSelection(query.fields, "id")
    ids_only = selection.named <= {"id", "key"} and not (selection.all or selection.navigable)
    cap = CLOUD_CAP_IDS if ids_only else CLOUD_CAP_FIELDS
    limit = min(CLOUD_DEFAULT_MAX if query.max_results is None else query.max_results, cap)
    compiled, hits = _matching(state, query)
    if not compiled.bounded:
        raise jira_error(400, UNBOUNDED)
    start = _decode_token(query.page, query.jql)
    window = hits[start : start + limit]
    view = view_for(state, request)
    issues = [issue_json(i, view, selection, state.jira.sprints, query.properties) for i in window]
    body: dict[str, Any] = {"issues": issues}
    following = start + len(window)
    if limit and following < len(hits):
        body["nextPageToken"] = encode_token(following, query.jql)
    body["isLast"] = "nextPageToken" not in body
    return json_reply(body)


def search_dc(state: SandboxState, request: Request) -> Reply:
    """Data Center search: startAt/maxResults/total, `*navigable` fields by default."""
    query = _read_query(request, "startAt")
    try:
        start = int(query.page or 0)
    except ValueError:
        raise jira_error(400, f"The value '{query.page}' is not a valid number for 'startAt'.") from None
    limit = min(DC_DEFAULT_MAX if query.max_results is None else query.max_results, DC_CAP)
    _, hits = _matching(state, query)
    selection = FieldSelection(query.fields, "*navigable")
    view = view_for(state, request)
    issues = [issue_json(i, view, selection, state.jira.sprints, query.properties) for i in hits[start : start + limit]]
    body = {"expand": "schema,names", "startAt": start, "maxResults": limit, "total": len(hits), "issues": issues}
    return json_reply(body)


def _decode_token(token: str | None, jql: str) -> int:
    """The offset a token stands for; a token only continues the JQL that produced it."""
    if not token:
        return 0
    try:
        return decode_token(token, jql)
    except ValueError:
        raise jira_error(400, f"The provided next page token is invalid: {token}") from None
