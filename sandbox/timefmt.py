"""Timestamps as Jira and Confluence write them, and the date literals their query languages accept."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_RELATIVE = re.compile(r"^([+-]?)\s*(\d+)\s*([wdhm])$", re.IGNORECASE)
_UNITS = {"w": timedelta(weeks=1), "d": timedelta(days=1), "h": timedelta(hours=1), "m": timedelta(minutes=1)}
_ABSOLUTE_FORMATS = ("%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M", "%Y-%m-%d", "%Y/%m/%d")


def utcnow() -> datetime:
    """The current time, timezone-aware, truncated to milliseconds as both products store it."""
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


def jira_time(moment: datetime) -> str:
    """Jira's form: 2026-02-11T09:12:00.000+0000."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def confluence_time(moment: datetime) -> str:
    """Confluence's form: 2026-02-11T09:12:00.000Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_offset_time(moment: datetime) -> str:
    """RFC 3339 with a colon in the offset, as the Agile API writes sprint dates."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


def parse_relative(text: str) -> timedelta | None:
    """`-5m`, `+2d`, `1w` → a signed offset; None when `text` is not a relative period."""
    match = _RELATIVE.match(text.strip())
    if not match:
        return None
    sign, amount, unit = match.groups()
    delta = int(amount) * _UNITS[unit.lower()]
    return -delta if sign == "-" else delta


def parse_absolute(text: str) -> tuple[datetime, bool] | None:
    """A query date literal → (instant in UTC, whether it named a whole day); None if unparseable."""
    for fmt in _ABSOLUTE_FORMATS:
        try:
            moment = datetime.strptime(text.strip(), fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
        return moment, "%H" not in fmt
    return None
