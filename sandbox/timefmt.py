"""Timestamps as Jira and Confluence write them, the date literals their query languages accept, and time zones.

Jira writes every timestamp in the time zone of the account that asks (`…000-0800`), and reads a
JQL date literal without a zone in that account's zone; Confluence writes UTC (`…000Z`) and reads a
CQL date literal in the site's or the user's zone (docs/atlassian-behaviours.md, "Time").
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, tzinfo
from email.utils import format_datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_RELATIVE = re.compile(r"^([+-]?)\s*(\d+)\s*([wdhm])$", re.IGNORECASE)
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
_ABSOLUTE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


def utcnow() -> datetime:
    """The machine's current time, timezone-aware, truncated to milliseconds as both products store it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def zone(name: str) -> tzinfo:
    """The IANA time zone with this name (`America/Los_Angeles`, `Etc/GMT+8`, `UTC`); ValueError if unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}: use an IANA name such as America/Los_Angeles") from None


def jira_time(moment: datetime, in_zone: tzinfo = UTC) -> str:
    """Jira's form, in the zone of the account that asks: 2026-02-11T01:12:00.000-0800."""
    local = moment.astimezone(in_zone)
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}" + local.strftime("%z")


def confluence_time(moment: datetime) -> str:
    """Confluence's form: 2026-02-11T09:12:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_offset_time(moment: datetime) -> str:
    """RFC 3339 with a colon in the offset, as the Agile API writes sprint dates."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def http_date(moment: datetime) -> str:
    """An HTTP `Date` header value (RFC 7231): Thu, 09 Jan 2025 09:22:15 GMT."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0), usegmt=True)


def parse_relative(text: str) -> timedelta | None:
    """`-5m`, `+2d`, `1w` → a signed offset; None when `text` is not a relative period."""
    match = _RELATIVE.match(text.strip())
    if not match:
        return None
    sign, amount, unit = match.groups()
    delta = int(amount) * _UNITS[unit.lower()]
    return -delta if sign == "-" else delta


def parse_absolute(text: str, in_zone: tzinfo = UTC) -> tuple[datetime, bool] | None:
    """A query date literal read as wall time in `in_zone` → (instant in UTC, whether it named a whole day)."""
    for fmt in _ABSOLUTE_FORMATS:
        try:
            wall = datetime.strptime(text.strip(), fmt)
        except ValueError:
            continue
        return wall.replace(tzinfo=in_zone).astimezone(UTC), "%H" not in fmt
    return None


def start_of_day(moment: datetime, in_zone: tzinfo = UTC) -> datetime:
    """Midnight of the day `moment` falls on in `in_zone`, as an instant in UTC."""
    # zoneinfo works out the offset of the new wall time (midnight may be in another DST period)
    return moment.astimezone(in_zone).replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
