"""The request a handler reads and the reply it returns, independent of the HTTP server."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

JSON_TYPE = "application/json;charset=UTF-8"
HTML_TYPE = "text/html;charset=UTF-8"
TEXT_TYPE = "text/plain;charset=UTF-8"


class BadJson(ValueError):
    """The request body is not the JSON the handler needs."""


@dataclass
class Request:
    """One parsed HTTP request; `params` holds the route's path variables; `via_gateway`: it came through
    the API gateway form (/ex/{product}/{cloudId}/…), its path is the product's own."""

    method: str
    target: str
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = field(default_factory=dict)
    via_gateway: bool = False
    path: str = field(init=False)
    query: dict[str, list[str]] = field(init=False)

    def __post_init__(self) -> None:
        parts = urlsplit(self.target)
        self.path = parts.path
        self.query = parse_qs(parts.query, keep_blank_values=True)

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default

    def arg_list(self, name: str) -> list[str]:
        """Every comma-separated value of a (possibly repeated) query parameter."""
        return [item.strip() for value in self.query.get(name, []) for item in value.split(",") if item.strip()]

    def int_arg(self, name: str, default: int) -> int:
        """A query parameter as an int; the caller turns ValueError into the product's 400."""
        value = self.arg(name)
        return default if value in (None, "") else int(value)

    def header(self, name: str) -> str:
        return self.headers.get(name.lower(), "")

    def json(self) -> Any:
        """The body as JSON; raises BadJson when it is missing or malformed."""
        try:
            return json.loads(self.body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise BadJson(str(exc)) from exc


@dataclass
class Reply:
    """What goes back on the wire."""

    status: int
    body: bytes = b""
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Reply:
    """A JSON answer, UTF-8, with the content type Atlassian sends."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Reply(status, body, JSON_TYPE, dict(headers or {}))


def html_reply(page: str, status: int = 200) -> Reply:
    """An HTML page for the browser view."""
    return Reply(status, page.encode("utf-8"), HTML_TYPE)


def no_content() -> Reply:
    """204, as Jira answers edits and transitions."""
    return Reply(204, b"", "")
