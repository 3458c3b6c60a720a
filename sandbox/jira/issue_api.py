"""Jira issue routes, /rest/api/2 and (Cloud only) /rest/api/3: create, bulk create, read, edit, delete,
comments, remote links and issue properties. A former key (the issue was moved) reads
and writes the issue under its current key, as Jira follows moved keys."""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

from sandbox.http.errors import ApiError, jira_error
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, json_reply, no_content
from sandbox.jira.fields import FieldError, FieldRules, parse_comment_body, parse_edit
from sandbox.jira.inputs import MAX_BULK, int_param, json_body, rules_for, view_for
from sandbox.jira.json_shapes import FieldSelection, comment_json, issue_json, remote_link_json
from sandbox.jira.store import Issue
from sandbox.state import SandboxState


def register(router: Router, versions: tuple[str, ...]) -> None:
    """Add the issue routes for each REST version the deployment serves."""
    for version in versions:
        base = f"/rest/api/{version}/issue"
        for method, template, handler in (
            ("POST", "", create_issue), ("POST", "/bulk", create_issues),
            ("GET", "/{issueIdOrKey}", get_issue), ("PUT", "/{issueIdOrKey}", edit_issue),
            ("DELETE", "/{issueIdOrKey}", delete_issue),
            ("GET", "/{issueIdOrKey}/comment", get_comments), ("POST", "/{issueIdOrKey}/comment", add_comment),
            ("GET", "/{issueIdOrKey}/remotelink", get_remote_links),
            ("POST", "/{issueIdOrKey}/remotelink", upsert_remote_link),
            ("GET", "/{issueIdOrKey}/properties", list_properties),
            ("GET", "/{issueIdOrKey}/properties/{propertyKey}", get_property),
            ("PUT", "/{issueIdOrKey}/properties/{propertyKey}", set_property),
        ):
            router.add(method, base + template, handler)


def _created(state: SandboxState, request: Request, issue: Issue) -> dict[str, Any]:
    return {"id": issue.id, "key": issue.key, "self": f"{view_for(state, request).api}/issue/{issue.id}"}


def _screen_rules(state: SandboxState, request: Request) -> FieldRules:
    """The field rules of a create or edit: also refuse fields off the project's screens (Sandbox.hide_field)."""
    return replace(rules_for(state, request), off_screen=state.fields_off_screen, required=state.required_fields)


def _create_one(state: SandboxState, request: Request, payload: Any) -> Issue:
    """Validate and create one issue, with its properties and an optional initial transition."""
    edit = parse_edit(payload, _screen_rules(state, request))
    properties = _properties(payload)
    issue = state.jira.create(edit, state.api_user)
    for key, value in properties:
        state.jira.set_property(issue, key, value)
    transition = (payload.get("transition") or {}).get("id")
    if transition:
        state.jira.transition(issue, str(transition))
    return issue


def _properties(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    """The `properties` of a create or edit body: [{"key": …, "value": …}]."""
    properties = payload.get("properties") or []
    if not isinstance(properties, list) or not all(isinstance(p, dict) and "key" in p for p in properties):
        raise jira_error(400, errors={"properties": "Each property needs a 'key' and a 'value'."})
    return [(str(p["key"]), p.get("value")) for p in properties]


def create_issue(state: SandboxState, request: Request) -> Reply:
    issue = _create_one(state, request, json_body(request))
    return json_reply(_created(state, request, issue), 201)


def create_issues(state: SandboxState, request: Request) -> Reply:
    """Up to 50 issues; failures are reported per item and the rest are still created."""
    payload = json_body(request)
    updates = payload.get("issueUpdates") if isinstance(payload, dict) else None
    if not isinstance(updates, list) or not updates:
        empty = _bulk_error(0, ["No issues to create: 'issueUpdates' is empty."], {})
        return json_reply({"issues": [], "errors": [empty]}, 400)
    if len(updates) > MAX_BULK:
        message = f"Too many issues in the request: {len(updates)}. The maximum is {MAX_BULK}."
        return json_reply({"issues": [], "errors": [_bulk_error(MAX_BULK, [message], {})]}, 400)
    issues, errors = [], []
    for index, update in enumerate(updates):
        try:
            issues.append(_created(state, request, _create_one(state, request, update)))
        except ApiError as exc:
            body = _error_body(exc)
            errors.append(_bulk_error(index, body.get("errorMessages", []), body.get("errors", {})))
    return json_reply({"issues": issues, "errors": errors}, 201 if issues else 400)


def _bulk_error(index: int, messages: list[str], field_errors: dict[str, Any]) -> dict[str, Any]:
    element_errors = {"errorMessages": messages, "errors": field_errors}
    return {"status": 400, "elementErrors": element_errors, "failedElementNumber": index}


def _error_body(exc: ApiError) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(exc.reply.body)  # Jira's error answers are JSON objects
    return body


def get_issue(state: SandboxState, request: Request) -> Reply:
    issue = state.jira.issue(request.params["issueIdOrKey"])
    selection = FieldSelection(request.arg_list("fields"), "*all")
    properties = request.arg_list("properties")
    return json_reply(issue_json(issue, view_for(state, request), selection, state.jira.sprints, properties))


def edit_issue(state: SandboxState, request: Request) -> Reply:
    """Edit fields; a `transition` in the body is ignored as Jira does. 204, or 200 with returnIssue=true."""
    issue = state.jira.issue(request.params["issueIdOrKey"])
    payload = json_body(request)
    edit = parse_edit(payload, _screen_rules(state, request), existing=issue)
    properties = _properties(payload)
    state.jira.edit(issue, edit, state.api_user)
    for key, value in properties:
        state.jira.set_property(issue, key, value)
    if (request.arg("returnIssue") or "").lower() == "true":
        return json_reply(issue_json(issue, view_for(state, request), FieldSelection([], "*all"), state.jira.sprints))
    return no_content()


def delete_issue(state: SandboxState, request: Request) -> Reply:
    """204; the sandbox has no subtasks, so `deleteSubtasks` never matters."""
    issue = state.jira.issue(request.params["issueIdOrKey"])
    state.jira.delete(issue)
    return no_content()


def get_comments(state: SandboxState, request: Request) -> Reply:
    issue = state.jira.issue(request.params["issueIdOrKey"])
    start, limit = int_param(request, "startAt", 0), int_param(request, "maxResults", 100)
    comments = list(reversed(issue.comments)) if request.arg("orderBy", "") == "-created" else issue.comments
    view = view_for(state, request)
    window = [comment_json(issue, c, view) for c in comments[start : start + limit]]
    return json_reply({"startAt": start, "maxResults": limit, "total": len(comments), "comments": window})


def add_comment(state: SandboxState, request: Request) -> Reply:
    issue = state.jira.issue(request.params["issueIdOrKey"])
    payload = json_body(request)
    try:
        body = parse_comment_body(payload.get("body") if isinstance(payload, dict) else None, rules_for(state, request))
    except FieldError as exc:
        raise jira_error(400, errors={"comment": str(exc)}) from None
    comment = state.jira.add_comment(issue, body, state.api_user)
    return json_reply(comment_json(issue, comment, view_for(state, request)), 201)


def get_remote_links(state: SandboxState, request: Request) -> Reply:
    issue = state.jira.issue(request.params["issueIdOrKey"])
    view = view_for(state, request)
    global_id = request.arg("globalId")
    if global_id is None:
        return json_reply([remote_link_json(issue, link, view) for link in issue.remote_links])
    link = next((found for found in issue.remote_links if found.global_id == global_id), None)
    if link is None:
        raise jira_error(404, f"No remote link with globalId '{global_id}' exists for this issue.")
    return json_reply(remote_link_json(issue, link, view))


def upsert_remote_link(state: SandboxState, request: Request) -> Reply:
    """201 for a new link, 200 when the globalId already existed (the link is replaced)."""
    issue = state.jira.issue(request.params["issueIdOrKey"])
    payload = json_body(request)
    if not isinstance(payload, dict):
        raise jira_error(400, "The request body must be a JSON object.")
    link, created = state.jira.upsert_remote_link(issue, payload)
    body = {"id": link.id, "self": f"{view_for(state, request).api}/issue/{issue.key}/remotelink/{link.id}"}
    return json_reply(body, 201 if created else 200)


def list_properties(state: SandboxState, request: Request) -> Reply:
    issue = state.jira.issue(request.params["issueIdOrKey"])
    api = view_for(state, request).api
    keys = [{"key": k, "self": f"{api}/issue/{issue.id}/properties/{k}"} for k in issue.properties]
    return json_reply({"keys": keys})


def get_property(state: SandboxState, request: Request) -> Reply:
    issue = state.jira.issue(request.params["issueIdOrKey"])
    key = request.params["propertyKey"]
    if key not in issue.properties:
        raise jira_error(404, f"The property with key '{key}' does not exist.")
    return json_reply({"key": key, "value": issue.properties[key]})


def set_property(state: SandboxState, request: Request) -> Reply:
    issue = state.jira.issue(request.params["issueIdOrKey"])
    created = state.jira.set_property(issue, request.params["propertyKey"], json_body(request))
    return json_reply({}, 201 if created else 200)
