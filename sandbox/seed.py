"""The starting world: space PM with a "Postmortems" page and one child page per seed file; Jira's sprints.

A seed file is ``<title>…</title>`` on its first line followed by the storage body, which is stored
byte for byte. An optional seed line may follow the title line (it is not part of the body):

    <!-- seed: labels=payments,tls; created=incident+2d -->

``labels``: more page labels beside ``postmortem`` (themes on the summary page), comma-separated.
``created``: when the page was created: ``incident+2d`` (or ``+12h``; ``incident-1d``) counts from the
incident date, which is ``incident=YYYY-MM-DD`` on the same line, else the first ``<time datetime>`` of
the body; or a date ``2026-01-29`` (09:00 UTC that day), optionally ``+Nd``/``+Nh``. Without it the
pages are created an hour apart, just before the sandbox starts. ``users.json`` beside the pages
(accountId, username, userkey, displayName, emailAddress, active; optionally timeZone, jiraKey and
products) replaces the built-in user directory.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sandbox.confluence.store import ConfluenceStore
from sandbox.directory import User
from sandbox.jira.catalog import SCRUM_BOARD, Sprint
from sandbox.jira.store import JiraStore

SPACE_KEY = "PM"
SPACE_NAME = "Postmortems"
PARENT_TITLE = "Postmortems"
POSTMORTEM_LABEL = "postmortem"
PARENT_BODY = (
    "<p>Postmortems of the operations team, one child page per incident.</p>"
    '<ac:structured-macro ac:name="children" ac:schema-version="2" />'
)

_TITLE_LINE = re.compile(r"\A\s*<title>(.*?)</title>[ \t]*\r?\n?", re.DOTALL)
_FIRST_HEADING = re.compile(r"<h[1-6][^>]*>(.*?)</h[1-6]>", re.DOTALL | re.IGNORECASE)
_TAG = re.compile(r"<[^>]+>")
_SEED_LINE = re.compile(r"\A[ \t]*<!--\s*seed:(.*?)-->[ \t]*\r?\n?", re.DOTALL)
_FIRST_TIME = re.compile(r'<time\s+datetime="(\d{4}-\d{2}-\d{2})')
_CREATED = re.compile(r"^(?:(?P<incident>incident)|(?P<day>\d{4}-\d{2}-\d{2}))"
                      r"(?:(?P<sign>[+-])(?P<n>\d+)(?P<unit>[dh]))?$")
SEED_HOUR = 9  # a page created on a given day is created at 09:00 UTC


class SeedError(ValueError):
    """A seed line that cannot be read: the file and what is wrong."""


@dataclass(frozen=True)
class SeedPage:
    title: str
    body: str
    source: Path
    labels: tuple[str, ...] = ()  # more labels beside POSTMORTEM_LABEL
    created: datetime | None = None  # None: an hour after the page before


def split_seed_line(body: str, source: Path) -> tuple[tuple[str, ...], datetime | None, str]:
    """(labels, created, the body without the seed line) of a body that may start with a seed line."""
    match = _SEED_LINE.match(body)
    if match is None:
        return (), None, body
    rest = body[match.end():]
    fields: dict[str, str] = {}
    for part in match.group(1).split(";"):
        if part.strip():
            name, equals, value = part.partition("=")
            if not equals or name.strip() not in ("labels", "created", "incident"):
                raise SeedError(f"{source.name}: unknown seed field {part.strip()!r} (labels, created, incident)")
            fields[name.strip()] = value.strip()
    labels = tuple(label.strip().lower() for label in fields.get("labels", "").split(",") if label.strip())
    created = _created(fields.get("created"), fields.get("incident"), rest, source)
    return labels, created, rest


def _created(text: str | None, incident: str | None, body: str, source: Path) -> datetime | None:
    """The creation time a seed line asks for (see the module docstring)."""
    if not text:
        return None
    match = _CREATED.match(text)
    if match is None:
        raise SeedError(f"{source.name}: created={text!r} is not incident+Nd, YYYY-MM-DD or YYYY-MM-DD+Nd")
    day_text = match["day"] or incident or next(iter(_FIRST_TIME.findall(body)), None)
    if day_text is None:
        raise SeedError(f"{source.name}: created=incident… but no incident= and no <time datetime> in the body")
    day = date.fromisoformat(day_text)
    moment = datetime(day.year, day.month, day.day, SEED_HOUR, tzinfo=UTC)
    if match["n"]:
        step = timedelta(days=int(match["n"])) if match["unit"] == "d" else timedelta(hours=int(match["n"]))
        moment = moment + step if match["sign"] == "+" else moment - step
    return moment


def split_title(text: str, fallback: str) -> tuple[str, str]:
    """(title, body): the leading <title> line, else the first heading's text, else `fallback`."""
    match = _TITLE_LINE.match(text)
    if match:
        return _plain(match.group(1)), text[match.end():]
    heading = _FIRST_HEADING.search(text)
    return (_plain(heading.group(1)) if heading else fallback) or fallback, text


def _plain(markup: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", markup)).split())


def read_seed_pages(seed_dir: Path) -> list[SeedPage]:
    """Every *.xml in the folder, in file-name order."""
    pages = []
    for path in sorted(seed_dir.glob("*.xml")):
        title, body = split_title(path.read_bytes().decode("utf-8"), path.stem)
        labels, created, body = split_seed_line(body, path)
        pages.append(SeedPage(title, body, path, labels, created))
    return pages


def seed_confluence(store: ConfluenceStore, pages: list[SeedPage], author: User, now: datetime) -> None:
    """Space PM, its "Postmortems" page (the homepage) and the postmortems under it, an hour apart."""
    space = store.add_space(SPACE_KEY, SPACE_NAME)
    start = now - timedelta(hours=len(pages) + 1)
    parent = store.create_page(SPACE_KEY, PARENT_TITLE, PARENT_BODY, author, when=start)
    space.homepage_id = parent.id
    for offset, seed in enumerate(pages, start=1):
        title = _unique_title(store, seed.title)
        when = seed.created if seed.created is not None and seed.created < now else start + timedelta(hours=offset)
        page = store.create_page(SPACE_KEY, title, seed.body, author, parent_id=parent.id, when=when)
        store.add_labels(page.id, [("global", label) for label in (POSTMORTEM_LABEL, *seed.labels)])


def _unique_title(store: ConfluenceStore, title: str) -> str:
    candidate, number = title, 2
    while store.find_by_title(SPACE_KEY, candidate) is not None:
        candidate, number = f"{title} ({number})", number + 1
    return candidate


def seed_jira(store: JiraStore, now: datetime) -> None:
    """The Scrum board's active sprint and the next one; no issues."""
    week = timedelta(days=7)
    goal = "Close postmortem follow-ups"
    store.add_sprint(Sprint(1, "OPS Sprint 1", "active", SCRUM_BOARD.id, now - week, now + week, goal))
    store.add_sprint(Sprint(2, "OPS Sprint 2", "future", SCRUM_BOARD.id, None, None))
