"""The servers' clocks, as their answers tell them: the `Date` header of the latest one, carried forward by
our monotonic clock; and a cycle's view of them (`Clocks`).

Why not our own clock: what the daemon waits for happens on the servers. A search index catches up on
the server's time, a lease term is compared by instances that may disagree by minutes, and a query
window is evaluated by the server. Our clock may be off by any amount, and may be set while we run;
the monotonic clock only measures how long ago the header arrived. A `Date` header has whole seconds,
so a reading may be up to a second (plus the trip) behind: callers that need a bound add a margin.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sync.ports import ConfluencePort, JiraPort


class ServerClock:
    """One server's time: observe() every answer's `Date`; at() and now() read it (None before any answer).

    Each answer says the server's time was at least its `Date` when it arrived; the clock keeps the latest
    such lower bound (so it never runs backwards, and many answers make it exact to well under a second),
    unless an answer is more than `JUMP` behind it: then the server's clock was set back, and it follows.
    """

    JUMP = timedelta(seconds=2)

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._monotonic = monotonic
        self._origin: datetime | None = None  # the server's time at our monotonic reading 0
        self._lock = threading.Lock()

    def observe(self, date_header: str | None) -> None:
        """Take the server's time from an answer's `Date` header; one that does not parse is ignored."""
        moment = parse_http_date(date_header)
        if moment is None:
            return
        origin = moment - timedelta(seconds=self._monotonic())
        with self._lock:
            if self._origin is None or origin > self._origin or origin < self._origin - self.JUMP:
                self._origin = origin

    def at(self, instant: float) -> datetime | None:
        """The server's time at a reading of our monotonic clock; None until an answer was seen."""
        with self._lock:
            origin = self._origin
        return None if origin is None else origin + timedelta(seconds=instant)

    def now(self) -> datetime | None:
        """The server's time now; None until an answer was seen."""
        return self.at(self._monotonic())


def parse_http_date(value: str | None) -> datetime | None:
    """An HTTP date (`Thu, 09 Jan 2025 09:22:15 GMT`) as an aware datetime; None if absent or unreadable."""
    if not value:
        return None
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class Clocks:
    """Our clock when the cycle began, and how far each server's clock was from it at the end of the last cycle."""

    local: datetime
    began: float  # time.monotonic() when the cycle began
    offsets: dict[str, timedelta]  # product -> its server's time minus ours, at the end of the last cycle

    @classmethod
    def starting(cls, local: datetime, meta: Mapping[str, str]) -> Clocks:
        """A cycle beginning now, at `local` by our clock, with the skews the state remembers."""
        offsets = {product: timedelta(seconds=float(meta[f"{product}_skew_s"]))
                   for product in ("jira", "confluence") if f"{product}_skew_s" in meta}
        return cls(local, time.monotonic(), offsets)

    def estimate(self, product: str) -> Callable[[float], datetime]:
        """A stand-in for a server's clock before its first answer: our clock plus the skew seen last cycle."""
        skew = self.offsets.get(product, timedelta())
        return lambda instant: self.local + timedelta(seconds=instant - self.began) + skew

    def server(self, port: JiraPort | ConfluencePort, product: str, instant: float | None = None) -> datetime:
        """The server's time at a monotonic reading (now when None): by its `Date` headers, else estimated."""
        instant = time.monotonic() if instant is None else instant
        return port.server_time(instant) or self.estimate(product)(instant)

    def skew_meta(self, jira: JiraPort, confluence: ConfluencePort) -> dict[str, str | None]:
        """Each server's skew from our clock now, as state meta entries: the next cycle's estimates start there."""
        instant = time.monotonic()
        local = self.local + timedelta(seconds=instant - self.began)
        return {f"{product}_skew_s": str((at - local).total_seconds())
                for product, port in (("jira", jira), ("confluence", confluence))
                if (at := port.server_time(instant)) is not None}


def passed_for_all(port: JiraPort | ConfluencePort, fallback: datetime) -> datetime:
    """A time every instance reading this server's clock agrees has passed (e.g. to end a lease at): the server's
    time, less the margin by which another instance's reading of the same moment may be behind; `fallback`
    (our clock) before the server's first answer."""
    return (port.server_time() or fallback) - ServerClock.JUMP
