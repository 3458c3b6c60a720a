"""The one way an adapter talks HTTP: `RestChannel`, and the small wire formats both products share.

Every call goes through a channel: the shared pacer, the single retry policy (`sync.retry`), a request
counter, the server's clock (every answer's `Date` header, `sync.clock`), and the mapping of HTTP
failures to port exceptions with credentials scrubbed. The library's
own retries are off (docs/atlassian-behaviours.md, "The client library"): it would either give up
after one 429 or re-send a POST, creating an issue twice.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit

import requests
from atlassian.rest_client import AtlassianRestAPI

from sync.clock import ServerClock
from sync.ports import AtlassianError, AuthFailed, Gone, NotFound, PermissionDenied, RateLimited, VersionConflict
from sync.retry import Pacer, RetryPolicy, server_wait_hint, status_of

_ERRORS_BY_STATUS: dict[int, type[AtlassianError]] = {
    401: AuthFailed, 403: PermissionDenied, 404: NotFound, 409: VersionConflict, 410: Gone,
}
# Told of each failure before it is raised, with the operation ("GET rest/api/3/search/jql").
FailureHook = Callable[[AtlassianError, str], None]


class RestChannel:
    """Sends calls through the pacer and the retry policy, counts attempts and maps failures."""

    def __init__(self, *, pacer: Pacer, policy: RetryPolicy, secrets: Sequence[str] = (),
                 on_failure: FailureHook | None = None) -> None:
        self._pacer, self._policy = pacer, policy
        self._on_failure = on_failure
        self._secrets = tuple(sorted((s for s in secrets if s), key=len, reverse=True))
        self._count = 0
        self._lock = threading.Lock()
        self.clock = ServerClock()  # the server's time, from the Date header of its latest answer

    @property
    def request_count(self) -> int:
        """HTTP requests sent so far, retries included."""
        return self._count

    def send(
        self,
        client: AtlassianRestAPI,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        body: Any = None,
        idempotent: bool,
        tolerate: Sequence[int] = (),
    ) -> Any:
        """The JSON answer of one call (None when empty); a port exception when it fails."""
        operation = f"{method} {urlsplit(path).path or path}"

        def attempt() -> Any:
            self._pacer.acquire()
            with self._lock:
                self._count += 1
            try:
                response = client.request(method, path, params=params, data=body, absolute=is_absolute(path))
            except requests.HTTPError as exc:
                self._observe(exc.response)
                if status_of(exc) in tolerate:
                    return _json(exc.response)
                raise
            self._observe(response)
            return _json(response)

        try:
            return self._policy.call(attempt, idempotent=idempotent, operation=operation)
        except requests.HTTPError as exc:
            raise self._told(self._http_error(exc, operation), operation) from None
        except requests.RequestException as exc:
            error = AtlassianError(self.scrub(f"{operation} failed: {type(exc).__name__}: {exc}"))
            raise self._told(error, operation) from None

    def _observe(self, response: requests.Response | None) -> None:
        if response is not None:
            self.clock.observe(response.headers.get("Date"))

    def scrub(self, text: str) -> str:
        """Text with every configured secret replaced."""
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text

    def _told(self, error: AtlassianError, operation: str) -> AtlassianError:
        """The error, once the failure hook has heard of it."""
        if self._on_failure is not None:
            self._on_failure(error, operation)
        return error

    def _http_error(self, exc: requests.HTTPError, operation: str) -> AtlassianError:
        status = status_of(exc)
        message = self.scrub(f"{operation}: {str(exc).strip() or 'failed'}")[:1000]
        if status == 429:
            return RateLimited(message, retry_after=server_wait_hint(exc, now=self._policy.clock()))
        errors = (_json(exc.response) or {}) if status == 400 else {}
        fields = list(errors.get("errors") or {}) if isinstance(errors, dict) else []
        return _ERRORS_BY_STATUS.get(status or 0, AtlassianError)(message, status=status, fields=fields)


def is_absolute(path: str) -> bool:
    """Whether path is a full URL (a next link) rather than a path under the client's base URL."""
    return bool(urlsplit(path).scheme)


def segment(value: object) -> str:
    """Value as one URL path segment: a key or id can never add a path level or a query."""
    return quote(str(value), safe="")


def parse_time(value: str | None) -> datetime | None:
    """An aware datetime from Jira/Confluence timestamps (`...000+0000`, `...Z`); naive means UTC."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _json(response: requests.Response | None) -> Any:
    if response is None or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return None
