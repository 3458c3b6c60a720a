"""/_sandbox/…: health, statistics, fault injection, reset, a state summary and the user actions that have
no REST call (moving an issue to another project); never counted."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from sync.sandbox.errors import ApiError
from sync.sandbox.faults import FaultSpecError
from sync.sandbox.router import Router
from sync.sandbox.wire import BadJson, Reply, Request, json_reply, no_content

if TYPE_CHECKING:
    from sync.sandbox.app import SandboxApp


def build_router() -> Router:
    router = Router()
    for method, template, handler in (
        ("GET", "/_sandbox/health", health), ("GET", "/_sandbox/stats", stats),
        ("POST", "/_sandbox/stats/reset", reset_stats), ("GET", "/_sandbox/faults", list_faults),
        ("POST", "/_sandbox/faults", add_fault), ("DELETE", "/_sandbox/faults", clear_faults),
        ("POST", "/_sandbox/reset", reset), ("GET", "/_sandbox/state", state_summary),
        ("POST", "/_sandbox/jira/issues/{key}/move", move_issue),
    ):
        router.add(method, template, handler)
    return router


def health(app: SandboxApp, request: Request) -> Reply:
    return json_reply({"status": "ok", "flavor": app.options.flavor, "url": app.state.site})


def stats(app: SandboxApp, request: Request) -> Reply:
    return json_reply(app.stats.snapshot())


def reset_stats(app: SandboxApp, request: Request) -> Reply:
    app.stats.reset()
    return json_reply(app.stats.snapshot())


def list_faults(app: SandboxApp, request: Request) -> Reply:
    return json_reply(app.faults.pending())


def add_fault(app: SandboxApp, request: Request) -> Reply:
    try:
        fault = app.faults.add(request.json())
    except (BadJson, FaultSpecError) as exc:
        return json_reply({"error": str(exc)}, 400)
    return json_reply(fault.to_json(), 201)


def clear_faults(app: SandboxApp, request: Request) -> Reply:
    app.faults.clear()
    return no_content()


def reset(app: SandboxApp, request: Request) -> Reply:
    """Back to the seed: state, statistics and pending faults."""
    app.state.reset()
    app.stats.reset()
    app.faults.clear()
    return json_reply(app.state.summary())


def state_summary(app: SandboxApp, request: Request) -> Reply:
    return json_reply(app.state.summary())


def move_issue(app: SandboxApp, request: Request) -> Reply:
    """{"project": "OTHER"} → 200 {"id", "key", "from"}; the project is created when new."""
    try:
        body = request.json()
    except BadJson as exc:
        return json_reply({"error": str(exc)}, 400)
    project = body.get("project") if isinstance(body, dict) else None
    if not isinstance(project, str) or not project.strip():
        return json_reply({"error": 'name the target project: {"project": "KEY"}'}, 400)
    try:
        return json_reply(app.state.move_issue(request.params["key"], project))
    except ApiError as exc:
        return json_reply({"error": _error_text(exc)}, exc.reply.status)


def _error_text(exc: ApiError) -> str:
    """The message of a Jira error answer."""
    body = json.loads(exc.reply.body)
    return "; ".join(body.get("errorMessages") or []) or json.dumps(body.get("errors"))
