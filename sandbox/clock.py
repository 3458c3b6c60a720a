"""The sandbox's clock: wall time plus an offset that a test or an operator moves forward.

Everything time-dependent in the sandbox reads it: timestamps of writes, `now()` and relative dates
in JQL and CQL, when a write reaches the search index, and the `Date` header of every answer. So
moving it forward ("an hour later") needs no waiting, and the daemon, which keeps time by the
servers' `Date` headers, sees the same hour pass. It never runs backwards: a reset keeps it.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sandbox.timefmt import utcnow


class SandboxClock:
    """Callable: the sandbox's current time (aware, UTC, millisecond precision)."""

    def __init__(self, offset: timedelta = timedelta()) -> None:
        self._offset = offset
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        return utcnow() + self.offset

    @property
    def offset(self) -> timedelta:
        """How far the sandbox's time is ahead of the machine's."""
        with self._lock:
            return self._offset

    def advance(self, delta: timedelta) -> datetime:
        """Move the time forward by `delta` (never back); the new time."""
        if delta < timedelta():
            raise ValueError("the sandbox clock only moves forward")
        with self._lock:
            self._offset += delta
        return self()
