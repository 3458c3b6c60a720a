"""Jira's workflow transitions: GET (with `expand=transitions.fields`, each transition's screen) and POST,
per the issue type's workflow. A transition whose screen requires a field refuses to run without it,
and one without a screen refuses any field, as Jira does."""

from __future__ import annotations

from typing import Any

from sandbox.http.errors import jira_error
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, json_reply, no_content
from sandbox.jira.catalog import RESOLUTIONS, Resolution, Transition, find_by_name_or_id, workflow_of
from sandbox.jira.fields import not_on_screen, parse_edit
from sandbox.jira.inputs import json_body, rules_for, view_for
from sandbox.jira.json_shapes import JiraView, resolution_json, status_json
from sandbox.state import SandboxState

# What Jira answers a transition whose required Resolution is missing (a workflow field-required
# validator's message, as JRJC shows it: ErrorCollection{status=400, errors={}, errorMessages=[…]}).
RESOLUTION_REQUIRED = "Field Resolution is required."
_FIELD_NAMES = {"resolution": "Resolution", "comment": "Comment"}


def register(router: Router, versions: tuple[str, ...]) -> None:
    for version in versions:
        base = f"/rest/api/{version}/issue/{{issueIdOrKey}}/transitions"
        router.add("GET", base, get_transitions)
        router.add("POST", base, do_transition)


def get_transitions(state: SandboxState, request: Request) -> Reply:
    """The transitions of the issue's workflow; with `expand=transitions.fields`, each with its screen's fields."""
    issue = state.jira.issue(request.params["issueIdOrKey"])
    view = view_for(state, request)
    wanted = request.arg("transitionId")
    with_fields = "transitions.fields" in (request.arg("expand") or "").split(",")
    workflow = workflow_of(issue.issuetype)
    transitions = [_transition_json(t, view, with_fields) for t in workflow if wanted in (None, t.id)]
    return json_reply({"expand": "transitions", "transitions": transitions})


def _transition_json(transition: Transition, view: JiraView, with_fields: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": transition.id, "name": transition.name, "to": status_json(transition.to, view),
        "hasScreen": bool(transition.screen), "isGlobal": not transition.screen, "isInitial": False,
        "isAvailable": True, "isConditional": False, "looped": False,
    }
    if with_fields:
        body["fields"] = {name: _field_meta(name, name in transition.required, view) for name in transition.screen}
    return body


def _field_meta(name: str, required: bool, view: JiraView) -> dict[str, Any]:
    """Jira's FieldMetadata of a transition screen's field."""
    meta: dict[str, Any] = {"required": required, "name": _FIELD_NAMES.get(name, name), "key": name,
                            "hasDefaultValue": False}
    if name == "resolution":
        meta |= {"schema": {"type": "resolution", "system": "resolution"}, "operations": ["set"],
                 "allowedValues": [resolution_json(r, view) for r in RESOLUTIONS]}
    else:
        meta |= {"schema": {"type": "comments-page", "system": name}, "operations": ["add"]}
    return meta


def do_transition(state: SandboxState, request: Request) -> Reply:
    """204; 400 for a transition not in the issue's workflow, a field off its screen or a required one missing."""
    issue = state.jira.issue(request.params["issueIdOrKey"])
    payload = json_body(request)
    transition_id = (payload.get("transition") or {}).get("id") if isinstance(payload, dict) else None
    if not transition_id:
        raise jira_error(400, "Missing 'transition' identifier")
    transition = next((t for t in workflow_of(issue.issuetype) if t.id == str(transition_id)), None)
    fields, update = payload.get("fields") or {}, payload.get("update") or {}
    if transition is not None:
        resolution = _screen_values(transition, fields, update)
    comments = parse_edit({"update": update}, rules_for(state, request), existing=issue).comments
    state.jira.transition(issue, str(transition_id), resolution if transition is not None else None)
    for body in comments:
        state.jira.add_comment(issue, body, state.api_user)
    return no_content()


def _screen_values(transition: Transition, fields: Any, update: Any) -> Resolution | None:
    """The resolution to set, after checking the request against the transition's screen."""
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise jira_error(400, "'fields' and 'update' must be JSON objects.")
    # A comment may go with any transition (Jira adds it to the issue); other fields only on the screen.
    off_screen = {name: not_on_screen(name)
                  for name in (fields.keys() | update.keys()) - {*transition.screen, "comment"}}
    if off_screen:
        raise jira_error(400, errors=off_screen)
    if "resolution" in fields:
        return _resolution(fields["resolution"])
    if "resolution" in transition.required:
        raise jira_error(400, RESOLUTION_REQUIRED)
    return None


def _resolution(raw: Any) -> Resolution:
    if not isinstance(raw, dict):
        raise jira_error(400, errors={"resolution": "Specify the Resolution (id or name) in the string format"})
    found = find_by_name_or_id(RESOLUTIONS, raw)
    if found is None:
        label = raw.get("name", raw.get("id"))
        raise jira_error(400, errors={"resolution": f"Resolution '{label}' is not valid."})
    return found
