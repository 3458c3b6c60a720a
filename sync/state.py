"""Local state in SQLite: a cache of pages, issues and last-synced values, plus the create-intent journal.

Losing this file never causes duplicates: identity lives in Jira labels and in keys written back
into the pages; the next cycle is then a full reconcile that adopts what it finds.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Collection, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, NamedTuple, cast

from sync.models import ActionItem, IssueSnapshot, ItemRecord, Owner, PageMeta, Postmortem

SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (item_key TEXT PRIMARY KEY, page_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (page_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS issues (issue_key TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (item_key TEXT PRIMARY KEY, started_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reminders (issue_key TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""


class IssueLink(NamedTuple):
    """The part of an ItemRecord the report needs."""

    item_key: str
    page_id: str
    issue_key: str | None


@dataclass(frozen=True)
class StateView:
    """A read-only snapshot of the state for the pure planner and report."""

    items: dict[str, ItemRecord] = field(default_factory=dict)
    pages: dict[str, Postmortem] = field(default_factory=dict)
    issues: dict[str, IssueSnapshot] = field(default_factory=dict)
    intents: dict[str, datetime] = field(default_factory=dict)
    meta: dict[str, str] = field(default_factory=dict)


class State:
    """The SQLite store; every write happens inside `transaction()` or is committed at once."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    @classmethod
    def open(cls, path: str | Path) -> State:
        """Open (creating) the store; `:memory:` for tests."""
        if str(path) != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=10000")
        db.executescript(_SCHEMA)
        db.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
        return cls(db)

    def close(self) -> None:
        self._db.close()

    def integrity(self) -> list[str]:
        """SQLite's quick check of the file: ["ok"], or what is wrong with it (or sqlite3.DatabaseError)."""
        return [row[0] for row in self._db.execute("PRAGMA quick_check")]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")

    def view(self, *, with_pages: bool = True) -> StateView:
        """Everything cached; `with_pages=False` leaves the parsed pages out (see `pages`)."""
        rows = self._db.execute
        return StateView(
            items=self.items(),
            pages=self.pages() if with_pages else {},
            issues={k: snapshot_from_json(json.loads(d)) for k, d in rows("SELECT issue_key, doc FROM issues")},
            intents={k: datetime.fromisoformat(t) for k, t in rows("SELECT item_key, started_at FROM intents")},
            meta=self.meta(),
        )

    def pages(self, *, excluding: Collection[str] = ()) -> dict[str, Postmortem]:
        """The cached parsed pages, but those in `excluding` (not even decoded)."""
        rows = self._db.execute("SELECT page_id, doc FROM pages")
        return {k: postmortem_from_json(json.loads(d)) for k, d in rows if k not in excluding}

    def pages_at(self, versions: Mapping[str, int]) -> dict[str, Postmortem]:
        """The cached parses of these pages that are of exactly the version given (no other page is decoded)."""
        found: dict[str, Postmortem] = {}
        ids = list(versions)
        for start in range(0, len(ids), 500):  # within SQLite's limit on parameters
            chunk = ids[start:start + 500]
            rows = self._db.execute("SELECT page_id, json_extract(doc, '$.version'), doc FROM pages"
                                    f" WHERE page_id IN ({', '.join('?' * len(chunk))})", chunk)
            found |= {page_id: postmortem_from_json(json.loads(doc)) for page_id, version, doc in rows
                      if version == versions[page_id]}
        return found

    def pages_of(self, page_ids: Collection[str]) -> dict[str, Postmortem]:
        """The cached parses of these pages (no other page is decoded)."""
        ids, found = list(page_ids), dict[str, Postmortem]()
        for start in range(0, len(ids), 500):  # within SQLite's limit on parameters
            chunk = ids[start:start + 500]
            rows = self._db.execute(f"SELECT page_id, doc FROM pages WHERE page_id IN ({', '.join('?' * len(chunk))})",
                                    chunk)
            found |= {page_id: postmortem_from_json(json.loads(doc)) for page_id, doc in rows}
        return found

    def page_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT page_id FROM pages")}

    def items(self) -> dict[str, ItemRecord]:
        return {k: ItemRecord(**json.loads(d)) for k, d in self._db.execute("SELECT item_key, doc FROM items")}

    def meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT name, value FROM meta"))

    def issue_links(self) -> dict[str, IssueLink]:
        """Item key -> which page and issue, for every tracked item: what the report joins on, decoded cheaply."""
        rows = self._db.execute("SELECT item_key, page_id, json_extract(doc, '$.issue_key') FROM items")
        return {key: IssueLink(key, page_id, issue_key) for key, page_id, issue_key in rows}

    def issue_keys(self) -> dict[str, str | None]:
        """Item key -> issue key of every tracked item, without loading the rest of the state."""
        rows = self._db.execute("SELECT item_key, json_extract(doc, '$.issue_key') FROM items")
        return dict(rows)

    def save_items(self, records: Iterable[ItemRecord]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
            ((r.item_key, r.page_id, json.dumps(asdict(r))) for r in records),
        )

    def save_pages(self, postmortems: Iterable[Postmortem]) -> None:
        self._db.executemany(
            "INSERT OR REPLACE INTO pages VALUES (?, ?)",
            ((pm.page_id, json.dumps(postmortem_to_json(pm))) for pm in postmortems),
        )

    def forget_pages(self, page_ids: Iterable[str]) -> None:
        """Drop deleted pages from the cache (their item records stay: they hold the flagged issues)."""
        self._db.executemany("DELETE FROM pages WHERE page_id = ?", [(p,) for p in page_ids])

    def save_issues(self, snapshots: Iterable[IssueSnapshot], *, forget: Iterable[str] = ()) -> None:
        """Store new or changed snapshots; drop the issues in `forget` (gone from a full search)."""
        self._db.executemany("DELETE FROM issues WHERE issue_key = ?", [(k,) for k in forget])
        self._db.executemany(
            "INSERT OR REPLACE INTO issues VALUES (?, ?)",
            ((s.key, json.dumps(snapshot_to_json(s))) for s in snapshots),
        )

    def set_meta(self, **values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                self._db.execute("DELETE FROM meta WHERE name = ?", (name,))
            else:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))

    def begin_create(self, item_keys: Iterable[str], now: datetime) -> None:
        """Journal that creates for these items are about to be sent (committed before sending).

        A create sent again restarts its item's wait: the search-lag grace runs from the latest send.
        """
        self._db.executemany(
            "INSERT OR REPLACE INTO intents VALUES (?, ?)", [(k, now.isoformat()) for k in item_keys]
        )

    def reminders(self, issue_keys: Collection[str]) -> dict[str, str]:
        """The reminder journal entries (sync.reminders) of these issues: only they are read."""
        keys, found = list(issue_keys), dict[str, str]()
        for start in range(0, len(keys), 500):  # within SQLite's limit on parameters
            chunk = keys[start:start + 500]
            found |= dict(self._db.execute(
                f"SELECT issue_key, doc FROM reminders WHERE issue_key IN ({', '.join('?' * len(chunk))})", chunk))
        return found

    def save_reminder(self, issue_key: str, doc: str) -> None:
        """Journal a reminder step of this issue (committed at once: it is written before the step is sent)."""
        self._db.execute("INSERT OR REPLACE INTO reminders VALUES (?, ?)", (issue_key, doc))

    def intents(self) -> dict[str, datetime]:
        """Item key -> when its create was journalled, for every create whose outcome is still unknown."""
        return {k: datetime.fromisoformat(t) for k, t in self._db.execute("SELECT item_key, started_at FROM intents")}

    def clear_intents(self, item_keys: Iterable[str]) -> None:
        self._db.executemany("DELETE FROM intents WHERE item_key = ?", [(k,) for k in item_keys])


def _json_default(value: object) -> str:
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def postmortem_to_json(pm: Postmortem) -> dict[str, Any]:
    """Everything of a parsed page the summary needs, as JSON-able data."""
    return cast("dict[str, Any]", json.loads(json.dumps({
        "title": pm.title, "page_id": pm.page_id, "version": pm.version, "url": pm.url, "space": pm.space,
        "problems": list(pm.problems), "meta": asdict(pm.meta), "labels": list(pm.labels),
        "created": pm.created, "author": asdict(pm.author) if pm.author else None,
        "items": [asdict(item) for item in pm.items], "archived": pm.archived,
        "root_cause_text": pm.root_cause_text,
    }, default=_json_default)))


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _owner(doc: dict[str, Any] | None) -> Owner | None:
    return Owner(**doc) if doc else None


def postmortem_from_json(doc: dict[str, Any]) -> Postmortem:
    meta = dict(doc["meta"])
    meta["incident_date"] = _date(meta.get("incident_date"))
    meta["owner"] = _owner(meta.get("owner"))
    items = tuple(
        ActionItem(**{**item, "owner": _owner(item["owner"]), "due": _date(item["due"])}) for item in doc["items"]
    )
    return Postmortem(
        title=doc["title"], items=items, problems=tuple(doc["problems"]), meta=PageMeta(**meta),
        page_id=doc["page_id"], version=doc["version"], url=doc["url"], space=doc["space"],
        labels=tuple(doc.get("labels") or ()), author=_owner(doc.get("author")),
        created=datetime.fromisoformat(doc["created"]) if doc.get("created") else None,
        archived=bool(doc.get("archived")),
        root_cause_text=doc.get("root_cause_text") or "",
    )


def snapshot_to_json(snapshot: IssueSnapshot) -> dict[str, Any]:
    return cast("dict[str, Any]", json.loads(json.dumps(asdict(snapshot), default=_json_default)))


def snapshot_from_json(doc: dict[str, Any]) -> IssueSnapshot:
    times = {name: datetime.fromisoformat(doc[name]) if doc.get(name) else None
             for name in ("created", "updated", "resolved")}
    return IssueSnapshot(**{**doc, **times, "labels": tuple(doc["labels"]), "due": _date(doc.get("due"))})

