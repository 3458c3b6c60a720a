"""Checks of time: the servers' clocks against ours, and the time zone Jira reads the account's dates in.

The sync does not depend on either (sync.window: it asks for "minutes back" on the server's own clock,
and keeps every watermark in that server's time), so these lines say what the daemon does about them.
What our clock still decides: log and health times, and the first search window of a process before
any answer (our clock plus the skew seen last cycle, asked again when short). A clock minutes off is a
host without time synchronisation, which also breaks TLS certificate checks sooner or later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

from sync.checks import Check, Probe
from sync.ports import AtlassianError

SKEW_LIMIT = timedelta(minutes=2)  # an NTP-synchronised host is within a second; HTTP dates have whole seconds


def server_clock(probe: Probe, now: Callable[[], datetime] = lambda: datetime.now(UTC)) -> Iterator[Check]:
    """Jira's and Confluence's clocks (their latest `Date` header) are within SKEW_LIMIT of ours."""
    ours = now()
    skews = {name: moment - ours for name, moment in (("Jira", probe.jira.server_time()),
                                                       ("Confluence", probe.confluence.server_time()))
             if moment is not None}
    if not skews:
        yield Check("server clock", False, "neither Jira nor Confluence has answered yet: no clock to compare")
        return
    told = ", ".join(f"{name}'s clock is {_describe(skew)} ours" for name, skew in skews.items())
    off = [name for name, skew in skews.items() if abs(skew) > SKEW_LIMIT]
    if off:
        yield Check("server clock", False, (
            f"{told}: this host's clock is off (more than {SKEW_LIMIT.seconds // 60} min). Syncing reads "
            "times by the servers' clocks and is unaffected, but log and health times and TLS checks use "
            "ours: synchronise this host's clock (NTP, chrony or systemd-timesyncd)"))
        return
    yield Check("server clock", True, f"{told} (the sync reads times by the servers' clocks)")


def time_zone(probe: Probe) -> Iterator[Check]:
    """Which zone Jira reads the account's date literals in; the daemon sends none, so any zone works."""
    try:
        account = probe.jira.myself().get("timeZone")
        site = probe.jira.server_info().get("serverTimeZone")
    except AtlassianError as exc:
        yield Check("time zone", False, f"Jira would not say the account's time zone (GET myself): {exc}")
        return
    zone = f"the account's time zone is {account or 'not shown'}" + (f" (site default {site})" if site else "")
    yield Check("time zone", True, (
        f"{zone}. Jira reads JQL date literals in it, so postmortem-sync sends none: it asks for changes "
        "in minutes back on each server's own clock; due dates count as overdue by Jira's date in UTC"))


def _describe(skew: timedelta) -> str:
    """`3 s ahead of`, `15 min behind`, `0 s from`."""
    seconds = round(skew.total_seconds())
    if seconds == 0:
        return "0 s from"
    size = f"{abs(seconds)} s" if abs(seconds) < 120 else f"{round(abs(seconds) / 60)} min"
    return f"{size} {'ahead of' if seconds > 0 else 'behind'}"
