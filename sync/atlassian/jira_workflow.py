"""Jira workflow transitions for the Jira adapter: read with their screens, taken with the fields they require.

Workflows differ per project and issue type (a site's bugs rarely share the tasks' workflow), so the
done transition is cached per (project, issue type), never for the whole site: a cached one saves the
GET of every later transition of that kind, and a 400 sends us back to reading the issue's transitions.
A screen that requires a resolution gets the configured one; so does a transition that Jira refuses for
want of one although its screen did not say so (Jira may under-report it).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import structlog

from sync.atlassian.jira_meta import Transition, asks_for_resolution, done_transition, named_transition, transition_body
from sync.atlassian.transport import segment
from sync.ports import AtlassianError, IssueKind

log = structlog.get_logger(__name__)

Get = Callable[..., Any]
Post = Callable[[str, Any], Any]


class Workflows:
    """Transitions of one Jira's issues: the done one (configured by name, else the first into a done status)
    and named ones (the removed-item transition), each POSTed with the resolution its screen requires."""

    def __init__(self, get: Get, post: Post, *, done_name: str | None = None, done_resolution: str = "Done",
                 removed_resolution: str | None = None) -> None:
        self._get, self._post = get, post
        self._done_name = done_name
        self._done_resolution = done_resolution
        self._removed_resolution = removed_resolution or done_resolution
        self._done_by_kind: dict[IssueKind, Transition] = {}
        self._reading: dict[IssueKind, threading.Lock] = {}
        self._lock = threading.Lock()

    def options(self, key: str) -> list[dict[str, Any]]:
        """The transitions the issue may take now, each with its screen's fields."""
        path = f"rest/api/2/issue/{segment(key)}/transitions"
        return (self._get(path, expand="transitions.fields") or {}).get("transitions") or []

    def to_done(self, key: str, kind: IssueKind | None = None) -> bool:
        """Take the done transition; False when the issue has none. `kind` (project, issue type) enables the cache."""
        known = self._known(kind)
        if known is not None:
            try:
                return self._take(key, known, self._done_resolution)
            except AtlassianError as exc:
                if exc.status != 400:
                    raise
                log.info("done_transition_read_again", issue_key=key, status=exc.status)
                self._forget(kind, known)
        return self._take(key, self._read_done(key, kind), self._done_resolution)

    def _known(self, kind: IssueKind | None) -> Transition | None:
        with self._lock:
            return self._done_by_kind.get(kind) if kind else None

    def _forget(self, kind: IssueKind | None, transition: Transition) -> None:
        with self._lock:
            if kind and self._done_by_kind.get(kind) is transition:
                del self._done_by_kind[kind]

    def _read_done(self, key: str, kind: IssueKind | None) -> Transition | None:
        """The issue's done transition, read once per kind: issues of one kind transitioned side by side share it."""
        with self._lock:
            reading = self._reading.setdefault(kind, threading.Lock()) if kind else threading.Lock()
        with reading:
            known = self._known(kind)
            if known is not None:
                return known
            options = self.options(key)
            chosen = named_transition(options, self._done_name) if self._done_name else done_transition(options)
            if chosen is not None and kind:
                with self._lock:
                    self._done_by_kind[kind] = chosen
            return chosen

    def take(self, key: str, name: str) -> bool:
        """Take the transition with this name (or into the status with this name); False when there is none."""
        return self._take(key, named_transition(self.options(key), name), self._removed_resolution)

    def _take(self, key: str, transition: Transition | None, resolution: str) -> bool:
        if transition is None:
            return False
        path = f"rest/api/2/issue/{segment(key)}/transitions"
        body = transition_body(transition, resolution)
        try:
            self._post(path, body)
        except AtlassianError as exc:
            if "fields" in body or not asks_for_resolution(exc):
                raise
            log.info("transition_needs_resolution", issue_key=key, transition=str(transition.get("id")))
            self._post(path, transition_body(transition, resolution, with_resolution=True))
        return True
