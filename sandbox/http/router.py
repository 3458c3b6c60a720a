"""A small router: `METHOD /path/{param}` templates, literal segments winning over parameters."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import unquote

from sandbox.http.wire import Reply, Request

Kind = Literal["api", "view"]
Handler = Callable[..., Reply]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    kind: Kind

    @property
    def name(self) -> str:
        """What statistics count: e.g. 'PUT /wiki/rest/api/content/{id}'."""
        return f"{self.method} {self.template}"

    def match(self, segments: list[str]) -> tuple[int, dict[str, str]] | None:
        """(number of literal segments, path parameters) when the path fits this template."""
        parts = self.template.strip("/").split("/")
        if len(parts) != len(segments):
            return None
        params, literals = {}, 0
        for part, segment in zip(parts, segments, strict=True):
            if part.startswith("{") and part.endswith("}"):
                if not segment:
                    return None
                params[part[1:-1]] = unquote(segment)
            elif part == segment:
                literals += 1
            else:
                return None
        return literals, params


class Router:
    def __init__(self) -> None:
        self.routes: list[Route] = []

    def add(self, method: str, template: str, handler: Handler, kind: Kind = "api") -> None:
        self.routes.append(Route(method.upper(), template, handler, kind))

    def match(self, request: Request) -> tuple[Route | None, list[str]]:
        """The best route for the request (path params stored on it), and the methods the path allows."""
        segments = request.path.strip("/").split("/")
        best: tuple[int, Route, dict[str, str]] | None = None
        allowed: list[str] = []
        for route in self.routes:
            found = route.match(segments)
            if found is None:
                continue
            allowed.append(route.method)
            if route.method == request.method and (best is None or found[0] > best[0]):
                best = (found[0], route, found[1])
        if best is None:
            return None, allowed
        request.params = best[2]
        return best[1], allowed
