"""The starting world: space PM with a "Postmortems" page and one child page per seed file; Jira's sprints.

A seed file is ``<title>…</title>`` on its first line followed by the storage body, which is stored
byte for byte. ``users.json`` beside the pages (accountId, username, userkey, displayName,
emailAddress, active; optionally timeZone, jiraKey and products) replaces the built-in user directory.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
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


@dataclass(frozen=True)
class SeedPage:
    title: str
    body: str
    source: Path


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
        pages.append(SeedPage(title, body, path))
    return pages


def seed_confluence(store: ConfluenceStore, pages: list[SeedPage], author: User, now: datetime) -> None:
    """Space PM, its "Postmortems" page (the homepage) and the postmortems under it, an hour apart."""
    space = store.add_space(SPACE_KEY, SPACE_NAME)
    start = now - timedelta(hours=len(pages) + 1)
    parent = store.create_page(SPACE_KEY, PARENT_TITLE, PARENT_BODY, author, when=start)
    space.homepage_id = parent.id
    for offset, seed in enumerate(pages, start=1):
        title = _unique_title(store, seed.title)
        when = start + timedelta(hours=offset)
        page = store.create_page(SPACE_KEY, title, seed.body, author, parent_id=parent.id, when=when)
        store.add_labels(page.id, [("global", POSTMORTEM_LABEL)])


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
