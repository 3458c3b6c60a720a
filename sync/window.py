"""What an incremental cycle reads: what changed since the previous cycle's reads, and `sync.overlap_minutes`
before that, asked for as a number of minutes the server counts back from its own clock.

Why minutes back and not a date (docs/atlassian-behaviours.md, "Time"): Jira reads a date literal in the
searching account's time zone and Confluence in the site's or the user's, so `updated >= "2026-12-01
20:00"` meant in UTC asks an account in Los Angeles for the future and finds nothing. `-17m` means the
same on every site, and the server evaluates it on its clock, so it also does not matter how far ours is
off. The number of minutes is the server's own elapsed time: each watermark is kept in that server's
time (by its `Date` headers, sync.clock), so it is right even when our clock is minutes off or jumps.

Before the first answer of a process the server's time is only estimated (our clock plus the skew seen
last cycle); when the answer's `Date` shows the estimate was short, `read_window` asks once more,
reaching far enough. The overlap covers search-index lag: a write indexed that much late is still read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from sync.state_codec import PAGE_FORMAT

T = TypeVar("T")
# HTTP dates have whole seconds, a relative date may be cut to the minute, and the trip takes time.
_MARGIN = timedelta(seconds=2)


@dataclass(frozen=True)
class Window:
    """This cycle's number; a full reconcile reads everything, else what changed since the watermarks."""

    number: int
    full: bool
    pages_since: datetime | None  # Confluence's time when the previous page search was sent
    issues_since: datetime | None  # Jira's time when the previous issue search was sent


def plan_window(meta: Mapping[str, str], full_reconcile_every: int) -> Window:
    """This cycle's number and window: a full reconcile every Nth cycle, when no page was ever read, and
    when the cached parses are of another format (an upgrade).

    Watermarks of an older version (our clock, not the server's: `confluence_since`) are not trusted.
    """
    number = int(meta.get("cycle", "0")) + 1
    stale = meta.get("page_format") != PAGE_FORMAT  # cached parses of an older version lack what is read now
    if "pages_seen_at" not in meta or stale or number % full_reconcile_every == 0:
        return Window(number, True, None, None)
    issues = meta.get("issues_seen_at")
    return Window(number, False, datetime.fromisoformat(meta["pages_seen_at"]),
                  datetime.fromisoformat(issues) if issues else None)


def minutes_back(since: datetime, now: datetime, overlap_minutes: int) -> int:
    """How many minutes before `now` a search must reach to cover `since` and the overlap before it, with a
    minute to spare (so that an estimate of `now` off by less than that needs no second search)."""
    elapsed = max(timedelta(), now - since) + _MARGIN
    return overlap_minutes + math.ceil(elapsed / timedelta(minutes=1)) + 1


def covered(minutes: int, since: datetime, sent: datetime, overlap_minutes: int) -> bool:
    """Whether a search reaching `minutes` back, sent at `sent` (the server's time), covered `since` and the overlap."""
    return sent + _MARGIN - timedelta(minutes=minutes) <= since - timedelta(minutes=overlap_minutes)


def read_window(search: Callable[[int | None], T], since: datetime | None, overlap_minutes: int,
                server_time: Callable[[float], datetime | None],
                estimate: Callable[[float], datetime]) -> tuple[T, datetime]:
    """Run `search` over the window (everything when `since` is None): what it found, and the server's time
    when it was sent.

    `server_time` reads the server's clock at a `time.monotonic()` reading (None before its first answer);
    `estimate` is our clock plus the skew the last cycle saw. Before this search is answered the later of the
    two is used (the last answer may be long ago, and either clock may have been set since): reaching back
    too far costs little. When the answer shows even that was short, the search runs once more.
    """
    sent = time.monotonic()
    known = server_time(sent)
    before = max(known, estimate(sent)) if known else estimate(sent)
    minutes = None if since is None else minutes_back(since, before, overlap_minutes)
    found = search(minutes)
    at = server_time(sent) or before
    if since is None or minutes is None or covered(minutes, since, at, overlap_minutes):
        return found, at
    sent = time.monotonic()
    at = server_time(sent) or estimate(sent)
    found = search(minutes_back(since, at, overlap_minutes))
    return found, server_time(sent) or at
