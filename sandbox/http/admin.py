"""/_sandbox/…: health, statistics, fault injection, reset, a state summary, the clock, and the user and
admin actions that have no REST call here (moving an issue, hiding a field from a project's screens,
restricting a page); never counted."""

from __future__ import annotations

import json
from datetime import timedelta

from sandbox.http.controls import Controls
from sandbox.http.errors import ApiError
from sandbox.http.faults import FaultSpecError
from sandbox.http.router import Router
from sandbox.http.wire import BadJson, Reply, Request, json_reply, no_content


def build_router() -> Router:
    router = Router()
    for method, template, handler in (
        ("GET", "/_sandbox/health", health), ("GET", "/_sandbox/stats", stats),
        ("POST", "/_sandbox/stats/reset", reset_stats), ("GET", "/_sandbox/faults", list_faults),
        ("POST", "/_sandbox/faults", add_fault), ("DELETE", "/_sandbox/faults", clear_faults),
        ("POST", "/_sandbox/reset", reset), ("GET", "/_sandbox/state", state_summary),
        ("GET", "/_sandbox/clock", clock), ("POST", "/_sandbox/clock", advance_clock),
        ("POST", "/_sandbox/jira/issues/{key}/move", move_issue),
        ("POST", "/_sandbox/jira/projects/{key}/fields/{field}/hide", hide_field),
        ("POST", "/_sandbox/confluence/pages/{id}/restrict-edit", restrict_page_edit),
        ("POST", "/_sandbox/confluence/pages/{id}/restrict-view", restrict_page_view),
        ("POST", "/_sandbox/confluence/pages/{id}/archive", archive_page),
    ):
        router.add(method, template, handler)
    return router


def health(controls: Controls, request: Request) -> Reply:
    return json_reply({"status": "ok", "flavor": controls.options.flavor, "url": controls.state.site})


def stats(controls: Controls, request: Request) -> Reply:
    return json_reply(controls.stats.snapshot())


def reset_stats(controls: Controls, request: Request) -> Reply:
    controls.stats.reset()
    return json_reply(controls.stats.snapshot())


def list_faults(controls: Controls, request: Request) -> Reply:
    return json_reply(controls.faults.pending())


def add_fault(controls: Controls, request: Request) -> Reply:
    try:
        fault = controls.faults.add(request.json())
    except (BadJson, FaultSpecError) as exc:
        return json_reply({"error": str(exc)}, 400)
    return json_reply(fault.to_json(), 201)


def clear_faults(controls: Controls, request: Request) -> Reply:
    controls.faults.clear()
    return no_content()


def reset(controls: Controls, request: Request) -> Reply:
    """Back to the seed: state, statistics and pending faults."""
    controls.reset()
    return json_reply(controls.state.summary())


def state_summary(controls: Controls, request: Request) -> Reply:
    return json_reply(controls.state.summary())


def clock(controls: Controls, request: Request) -> Reply:
    """{"now": ISO time, "offset_seconds": how far ahead of the machine's clock}."""
    sandbox_clock = controls.state.clock
    return json_reply({"now": sandbox_clock().isoformat(), "offset_seconds": sandbox_clock.offset.total_seconds()})


def advance_clock(controls: Controls, request: Request) -> Reply:
    """{"seconds": n} moves the sandbox's time n seconds forward (n >= 0) → 200 as GET /_sandbox/clock."""
    try:
        controls.state.clock.advance(timedelta(seconds=float(request.json()["seconds"])))
    except (BadJson, KeyError, TypeError, ValueError) as exc:
        return json_reply({"error": f'move the clock forward with {{"seconds": n}}, n >= 0 ({exc})'}, 400)
    return clock(controls, request)


def move_issue(controls: Controls, request: Request) -> Reply:
    """{"project": "OTHER"} → 200 {"id", "key", "from"}; the project is created when new."""
    try:
        body = request.json()
    except BadJson as exc:
        return json_reply({"error": str(exc)}, 400)
    project = body.get("project") if isinstance(body, dict) else None
    if not isinstance(project, str) or not project.strip():
        return json_reply({"error": 'name the target project: {"project": "KEY"}'}, 400)
    try:
        return json_reply(controls.state.move_issue(request.params["key"], project))
    except ApiError as exc:
        return json_reply({"error": _error_text(exc)}, exc.reply.status)


def hide_field(controls: Controls, request: Request) -> Reply:
    """Take the field off the project's create and edit screens → 200 {"project", "hidden": [field ids]}."""
    project = request.params["key"].upper()
    try:
        hidden = controls.state.hide_field(project, request.params["field"])
    except ApiError as exc:
        return json_reply({"error": _error_text(exc)}, exc.reply.status)
    return json_reply({"project": project, "hidden": hidden})


def restrict_page_edit(controls: Controls, request: Request) -> Reply:
    """Let the sandbox user read the page but not edit it → 200 {"id", "operations": ["read"]}."""
    try:
        controls.state.restrict_page_edit(request.params["id"])
    except ApiError as exc:
        return json_reply({"error": _error_text(exc)}, exc.reply.status)
    return json_reply({"id": request.params["id"], "operations": ["read"]})


def restrict_page_view(controls: Controls, request: Request) -> Reply:
    """Hide the page from the sandbox user; optional {"status": 403} (default 404) → 200 {"id", "status"}."""
    try:
        body = request.json() if request.body else {}
        status = int((body or {}).get("status", 404))
        controls.state.restrict_page_view(request.params["id"], status)
    except (BadJson, TypeError, ValueError) as exc:
        return json_reply({"error": f'{{"status": 403 or 404}} ({exc})'}, 400)
    except ApiError as exc:
        return json_reply({"error": _error_text(exc)}, exc.reply.status)
    return json_reply({"id": request.params["id"], "status": status})


def archive_page(controls: Controls, request: Request) -> Reply:
    """Archive the page → 200 {"id", "status": "archived"}."""
    try:
        controls.state.archive_page(request.params["id"])
    except ApiError as exc:
        return json_reply({"error": _error_text(exc)}, exc.reply.status)
    return json_reply({"id": request.params["id"], "status": "archived"})


def _error_text(exc: ApiError) -> str:
    """The message of a Jira or Confluence error answer."""
    body = json.loads(exc.reply.body)
    if "message" in body:
        return str(body["message"])
    return "; ".join(body.get("errorMessages") or []) or json.dumps(body.get("errors"))
