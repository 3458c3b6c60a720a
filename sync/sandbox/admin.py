"""/_sandbox/…: health, statistics, fault injection, reset and a state summary (never counted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

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
