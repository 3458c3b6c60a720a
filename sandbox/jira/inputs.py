"""Helpers every Jira handler shares: the REST version of the request, JSON bodies, int parameters."""

from __future__ import annotations

from typing import Any

from sandbox.http.errors import jira_error
from sandbox.http.wire import BadJson, Request
from sandbox.jira.fields import FieldRules
from sandbox.jira.json_shapes import JiraView
from sandbox.state import SandboxState

MAX_BULK = 50


def api_version(request: Request) -> str:
    """'2' or '3' from /rest/api/{version}/…; 'latest' means 2."""
    version = request.path.split("/")[3]
    return "2" if version == "latest" else version


def view_for(state: SandboxState, request: Request) -> JiraView:
    """How to render for this request: every request is the service account's, so timestamps are in its zone."""
    options = state.options
    return JiraView(state.site, options.is_cloud, api_version(request),
                    state.api_user.time_zone or options.site_timezone, options.site_timezone)


def rules_for(state: SandboxState, request: Request) -> FieldRules:
    return FieldRules(state.options.is_cloud, api_version(request), state.jira, state.jira_directory)


def json_body(request: Request, required: bool = True) -> Any:
    """The request body as JSON, or Jira's 400."""
    if not request.body.strip():
        if required:
            raise jira_error(400, "No content to map to Object due to end of input")
        return {}
    try:
        return request.json()
    except BadJson as exc:
        raise jira_error(400, f"Unexpected character in the request body: {exc}") from None


def int_param(request: Request, name: str, default: int, minimum: int = 0) -> int:
    try:
        value = request.int_arg(name, default)
    except ValueError:
        raise jira_error(400, f"The value '{request.arg(name)}' is not a valid number for '{name}'.") from None
    if value < minimum:
        raise jira_error(400, f"'{name}' must be at least {minimum}.")
    return value
