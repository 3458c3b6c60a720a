"""Jira Software (Agile) routes: boards, sprints, and moving issues into a sprint."""

from __future__ import annotations

from typing import Any

from sandbox.http.errors import jira_error
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, json_reply, no_content
from sandbox.jira.catalog import OPS, Board, Sprint
from sandbox.jira.inputs import MAX_BULK, int_param, json_body
from sandbox.jira.json_shapes import board_json, sprint_json
from sandbox.state import SandboxState

AGILE = "/rest/agile/1.0"
_SPRINT_STATES = ("future", "active", "closed")


def register(router: Router) -> None:
    router.add("GET", f"{AGILE}/board", boards)
    router.add("GET", f"{AGILE}/board/{{boardId}}", board)
    router.add("GET", f"{AGILE}/board/{{boardId}}/sprint", board_sprints)
    router.add("GET", f"{AGILE}/sprint/{{sprintId}}", sprint)
    router.add("POST", f"{AGILE}/sprint/{{sprintId}}/issue", move_to_sprint)
    router.add("POST", f"{AGILE}/epic/{{epicIdOrKey}}/issue", move_to_epic)


def _board(state: SandboxState, request: Request) -> Board:
    found = state.jira.boards.get(_int_path(request, "boardId"))
    if found is None:
        raise jira_error(404, "Board does not exist or you do not have permission to see it.")
    return found


def _sprint(state: SandboxState, request: Request) -> Sprint:
    found = state.jira.sprints.get(_int_path(request, "sprintId"))
    if found is None:
        raise jira_error(404, "Sprint does not exist or you do not have permission to see it.")
    return found


def _int_path(request: Request, name: str) -> int:
    try:
        return int(request.params[name])
    except ValueError:
        raise jira_error(400, f"'{request.params[name]}' is not a valid {name}.") from None


def _paged(values: list[dict[str, Any]], request: Request) -> dict[str, Any]:
    start, limit = int_param(request, "startAt", 0), int_param(request, "maxResults", 50)
    window = values[start : start + limit]
    is_last = start + len(window) >= len(values)
    return {"maxResults": limit, "startAt": start, "total": len(values), "isLast": is_last, "values": window}


def boards(state: SandboxState, request: Request) -> Reply:
    wanted_project = request.arg("projectKeyOrId")
    wanted_type, wanted_name = request.arg("type"), request.arg("name")
    found = [
        b for b in state.jira.boards.values()
        if (wanted_project is None or wanted_project.upper() in (OPS.key, OPS.id))
        and (wanted_type is None or b.type == wanted_type)
        and (wanted_name is None or wanted_name.lower() in b.name.lower())
    ]
    return json_reply(_paged([board_json(b, state.site) for b in found], request))


def board(state: SandboxState, request: Request) -> Reply:
    return json_reply(board_json(_board(state, request), state.site))


def board_sprints(state: SandboxState, request: Request) -> Reply:
    """?state=active,future filters; sprints are listed closed, active, then future."""
    found = _board(state, request)
    states = request.arg_list("state") or list(_SPRINT_STATES)
    unknown = [s for s in states if s not in _SPRINT_STATES]
    if unknown:
        raise jira_error(400, f"Unknown sprint state: {unknown[0]}. Use future, active or closed.")
    order = {"closed": 0, "active": 1, "future": 2}
    chosen = [s for s in state.jira.sprints.values() if s.board_id == found.id and s.state in states]
    sprints = sorted(chosen, key=lambda s: (order[s.state], s.id))
    body = _paged([sprint_json(s, state.site) for s in sprints], request)
    body.pop("total")
    return json_reply(body)


def sprint(state: SandboxState, request: Request) -> Reply:
    return json_reply(sprint_json(_sprint(state, request), state.site))


def _issue_keys(request: Request) -> list[str]:
    """The `issues` list of a move request: 1 to 50 keys or ids, else Jira's 400."""
    payload = json_body(request)
    keys = payload.get("issues") if isinstance(payload, dict) else None
    if not isinstance(keys, list) or not keys:
        raise jira_error(400, "'issues' must list at least one issue key or id.")
    if len(keys) > MAX_BULK:
        raise jira_error(400, f"Too many issues: {len(keys)}. At most {MAX_BULK} issues can be moved in one request.")
    return [str(key) for key in keys]


def move_to_sprint(state: SandboxState, request: Request) -> Reply:
    """At most 50 issues, into an active or future sprint only."""
    target = _sprint(state, request)
    keys = _issue_keys(request)
    if target.state == "closed":
        raise jira_error(400, "Issues can only be moved to open or active sprints.")
    state.jira.move_to_sprint(target.id, keys)
    return no_content()


def move_to_epic(state: SandboxState, request: Request) -> Reply:
    """At most 50 issues under an epic [AG moveIssuesToEpic]; the target must be an Epic."""
    key = request.params["epicIdOrKey"]
    if not state.jira.has_issue(key):
        raise jira_error(404, "Issue does not exist or you do not have permission to see it.")
    epic = state.jira.issue(key)
    if epic.issuetype.name != "Epic":
        raise jira_error(400, f"Issue {epic.key} is not an epic.")
    keys = _issue_keys(request)
    missing = [k for k in keys if not state.jira.has_issue(k)]
    if missing:
        raise jira_error(400, f"Issue {missing[0]} does not exist or you do not have permission to see it.")
    state.jira.move_to_epic(epic.key, keys)
    return no_content()
