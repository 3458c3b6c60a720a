"""Themes of postmortems and their recurrence (pure).

A theme is one of the page's Confluence labels (other than those that select postmortems and our own)
or a service named in its page-properties table. A theme recurs when two of its incidents fall within
`themes.recurrence_days` of each other: the summary lists its postmortems in order and whether the
earlier one's items were all done before the next incident happened.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date
from itertools import pairwise
from typing import Protocol, TypeVar

from sync.models import Postmortem

_PARENTHESES = re.compile(r"\([^)]*\)")
_SEPARATORS = re.compile(r"[,;/]| and ")
OUR_LABEL_PREFIX = "pmsync"


class ThemedItem(Protocol):
    """What themes need of an item (sync.metrics.TrackedItem has it)."""

    @property
    def themes(self) -> tuple[str, ...]: ...
    @property
    def page_id(self) -> str | None: ...
    @property
    def page_title(self) -> str: ...
    @property
    def page_url(self) -> str | None: ...
    @property
    def page_date(self) -> date | None: ...
    @property
    def done(self) -> bool: ...
    @property
    def resolved(self) -> date | None: ...


Item = TypeVar("Item", bound=ThemedItem)


@dataclass(frozen=True)
class Incident:
    """One postmortem of a recurring theme; `done_before_next`: its items were all done before the next incident."""

    title: str
    url: str | None
    date: date
    items: int
    done: int
    done_before_next: bool | None  # None: the last incident of the theme


@dataclass(frozen=True)
class Recurrence:
    """A theme with incidents within the recurrence window of each other, oldest first."""

    theme: str
    incidents: tuple[Incident, ...]


def page_themes(pm: Postmortem, selecting: Collection[str]) -> tuple[str, ...]:
    """The page's themes, lower case and sorted: its labels but the selecting ones and ours, and its services."""
    skip = {label.lower() for label in selecting}
    labels = {label.lower() for label in pm.labels if label.lower() not in skip
              and not label.lower().startswith(OUR_LABEL_PREFIX)}
    return tuple(sorted(labels | set(services(pm.meta.service))))


def services(text: str | None) -> list[str]:
    """The services a page-properties cell names: "orders-api, orders-db (PostgreSQL 15)" -> orders-api, orders-db."""
    if not text:
        return []
    names = (" ".join(part.split()).strip(" .").lower() for part in _SEPARATORS.split(_PARENTHESES.sub("", text)))
    return [name for name in names if name]


def theme_rows(rows: Sequence[Item]) -> list[tuple[str, int, list[Item]]]:
    """Each theme, how many postmortems have it, and their items; by theme name."""
    groups: dict[str, list[Item]] = defaultdict(list)
    for row in rows:
        for theme in row.themes:
            groups[theme].append(row)
    return [(theme, len({_page(r) for r in group}), group) for theme, group in sorted(groups.items())]


def _page(row: ThemedItem) -> tuple[str, str]:
    return (row.page_id or "", row.page_title)


def recurrences(rows: Sequence[ThemedItem], days: int) -> tuple[Recurrence, ...]:
    """Every theme with two or more incidents within `days` of each other (pages without a date left out)."""
    found = []
    for theme, _, group in theme_rows(rows):
        pages: dict[tuple[str, str], list[ThemedItem]] = defaultdict(list)
        for row in group:
            if row.page_date is not None:
                pages[_page(row)].append(row)
        ordered = sorted(pages.items(), key=lambda kv: (_date(kv[1]), kv[0]))
        dates = [_date(items) for _, items in ordered]
        if not any((later - earlier).days <= days for earlier, later in pairwise(dates)):
            continue
        incidents = [_incident(items, dates[n], dates[n + 1] if n + 1 < len(dates) else None)
                     for n, (_, items) in enumerate(ordered)]
        found.append(Recurrence(theme, tuple(incidents)))
    return tuple(found)


def _date(items: Sequence[ThemedItem]) -> date:
    return min(row.page_date or date.max for row in items)


def _incident(items: Sequence[ThemedItem], day: date, next_date: date | None) -> Incident:
    """One postmortem of a theme; done before the next incident: resolved (Jira's date) on or before that day."""
    before = None if next_date is None else all(
        r.done and r.resolved is not None and r.resolved <= next_date for r in items)
    url = min((r.page_url for r in items if r.page_url), default=None)
    return Incident(items[0].page_title, url, day, len(items), sum(r.done for r in items), before)
