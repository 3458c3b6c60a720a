"""Helpers every Confluence handler shares: JSON object bodies and non-negative int parameters."""

from __future__ import annotations

from typing import Any

from sandbox.http.errors import confluence_error
from sandbox.http.wire import BadJson, Request


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON object, or Confluence's 400."""
    try:
        data = request.json()
    except BadJson:
        raise confluence_error(400, "Could not parse the request body as JSON") from None
    if not isinstance(data, dict):
        raise confluence_error(400, "The request body must be a JSON object")
    return data


def int_param(request: Request, name: str, default: int) -> int:
    """A non-negative integer query parameter, or Confluence's 400."""
    try:
        value = request.int_arg(name, default)
    except ValueError:
        raise confluence_error(400, f"Parameter '{name}' must be an integer") from None
    if value < 0:
        raise confluence_error(400, f"Parameter '{name}' must not be negative")
    return value
