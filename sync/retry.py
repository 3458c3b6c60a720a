"""The single retry policy for Atlassian HTTP calls, and the client-side pacer every adapter shares.

Only 429, 500/502/503/504 and connection errors/timeouts are retried. A non-idempotent call (a
create) is retried only when the server provably did not process it: a 429, or a connection that
failed before the request was sent. Anything else is raised so the caller re-queries by label.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

import requests
import structlog
import tenacity
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError

RETRYABLE_STATUSES = frozenset({429, 500, 502, 503, 504})
MIN_SERVER_WAIT_SECONDS = 1.0  # Jira sometimes sends Retry-After: 0; retrying at once only storms.

T = TypeVar("T")
log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    """Bounded retries with server-directed or exponential, jittered waits; sleep and clock injectable."""

    max_attempts: int = 5
    max_total_seconds: float = 120.0
    base_seconds: float = 1.0
    cap_seconds: float = 60.0
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.time, repr=False)  # wall clock: HTTP dates need it
    jitter: Callable[[], float] = field(default=random.random, repr=False)  # uniform in [0, 1)

    def call(self, fn: Callable[[], T], *, idempotent: bool, operation: str = "request") -> T:
        """Run fn, retrying what this policy allows; re-raise the last error when giving up."""
        started = self.clock()
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(lambda exc: is_retryable(exc, idempotent=idempotent)),
            wait=self._wait,
            stop=lambda state: self._should_stop(state, started),
            sleep=self.sleep,
            before_sleep=lambda state: _log_retry(state, operation),
            reraise=True,
        )
        return retrying(fn)

    def backoff(self, attempt: int) -> float:
        """Exponential backoff for the given attempt (1-based), half of it jittered, up to the cap."""
        ceiling = min(self.cap_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return ceiling / 2 + self.jitter() * ceiling / 2

    def _wait(self, state: tenacity.RetryCallState) -> float:
        assert state.outcome is not None  # tenacity asks how long to wait only after an attempt ended
        hint = server_wait_hint(state.outcome.exception(), now=self.clock())
        if hint is None:
            return self.backoff(state.attempt_number)
        return max(hint, MIN_SERVER_WAIT_SECONDS) + self.jitter()

    def _should_stop(self, state: tenacity.RetryCallState, started: float) -> bool:
        waited_too_long = self.clock() - started + state.upcoming_sleep > self.max_total_seconds
        return state.attempt_number >= self.max_attempts or waited_too_long


def is_retryable(exc: BaseException, *, idempotent: bool) -> bool:
    """Whether another attempt is safe and may help."""
    status = status_of(exc)
    if status is not None:
        return status == 429 or (idempotent and status in RETRYABLE_STATUSES)
    if isinstance(exc, requests.exceptions.SSLError):
        return False  # a certificate problem does not go away by itself
    if idempotent:
        return isinstance(exc, (requests.ConnectionError, requests.Timeout))
    return failed_before_sending(exc)


def failed_before_sending(exc: BaseException) -> bool:
    """True when the connection failed before any byte of the request reached the server."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.ConnectionError) and exc.args:
        cause = exc.args[0]
        # urllib3 reports refused/unresolvable/timed-out connects as MaxRetryError(ConnectTimeoutError...).
        return isinstance(cause, MaxRetryError) and isinstance(cause.reason, ConnectTimeoutError)
    return False


def status_of(exc: BaseException) -> int | None:
    """The HTTP status behind an exception, if it carries a response."""
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def server_wait_hint(exc: BaseException | None, *, now: float) -> float | None:
    """Seconds the server asked us to wait (Retry-After or X-RateLimit-Reset), or None."""
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None) or {}
    hints = [
        parse_retry_after(headers.get("Retry-After"), now=now),
        parse_rate_limit_reset(headers.get("X-RateLimit-Reset"), now=now),
    ]
    known = [hint for hint in hints if hint is not None]
    return max(known) if known else None


def parse_retry_after(value: str | None, *, now: float) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP-date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - now)
    except (TypeError, ValueError, IndexError):
        return None


def parse_rate_limit_reset(value: str | None, *, now: float) -> float | None:
    """X-RateLimit-Reset (an ISO 8601 time) as seconds from now; None when absent or unreadable."""
    if not value:
        return None
    try:
        reset = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    if reset.tzinfo is None:
        return None
    return max(0.0, reset.timestamp() - now)


def _log_retry(state: tenacity.RetryCallState, operation: str) -> None:
    exc = state.outcome.exception() if state.outcome else None
    log.warning(
        "request_retried",
        operation=operation,
        status=status_of(exc) if exc else None,
        error=type(exc).__name__ if exc else None,
        attempt=state.attempt_number,
        wait=round(state.upcoming_sleep, 2),
    )


class Pacer:
    """A thread-safe token bucket: at most `rate` requests per second, bursts up to `burst`."""

    def __init__(
        self,
        rate: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        self.rate = rate
        self.burst = burst if burst is not None else max(1.0, rate)
        self._clock, self._sleep = clock, sleep
        self._tokens = self.burst
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self) -> None:
        """Take one token, sleeping until it is available."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._updated) * self.rate)
            self._updated = now
            self._tokens -= 1  # reserve even when negative, so waiting threads queue in order
            wait = -self._tokens / self.rate if self._tokens < 0 else 0.0
        if wait > 0:
            self._sleep(wait)
