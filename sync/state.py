"""Local state in SQLite: a cache of pages, issues and last-synced values, plus the create-intent journal.

Losing this file never causes duplicates: identity lives in Jira labels and in keys written back
into the pages; the next cycle is then a full reconcile that adopts what it finds.
"""

from __future__ import annotations

import gc
import itertools
import json
import pickle
import sqlite3
from collections.abc import Callable, Collection, Hashable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

from sync.models import IssueSnapshot, ItemRecord, Postmortem
from sync.state_codec import (
    postmortem_from_json,
    postmortem_to_json,
    record_from_json,
    snapshot_from_json,
    snapshot_to_json,
)
from sync.state_view import Decoded, IssueLink, StateView

T = TypeVar("T")
SCHEMA_VERSION = 1
_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (item_key TEXT PRIMARY KEY, page_id TEXT NOT NULL, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pages (page_id TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS issues (issue_key TEXT PRIMARY KEY, doc TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS intents (item_key TEXT PRIMARY KEY, started_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS reminders (issue_key TEXT PRIMARY KEY, doc TEXT NOT NULL);
"""


@dataclass
class _Decoded:
    """What `State.keep_decoded` keeps between cycles: all but the parsed pages (read by id when needed)."""

    items: dict[str, ItemRecord]
    issues: dict[str, IssueSnapshot]
    intents: dict[str, datetime]
    meta: dict[str, str]


class State:
    """The SQLite store; every write happens inside `transaction()` or is committed at once.

    With `keep_decoded()` (the daemon) it also keeps everything decoded in memory: reads are served from
    there and every write goes to both, so a cycle decodes only what changed. A rolled-back transaction
    drops the decoded copy; the next read loads it again from SQLite, which is the truth.
    """

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection
        self._keep = False
        self._decoded: _Decoded | None = None
        self._derived: dict[str, tuple[int, Hashable, Any]] = {}
        self.loads = 0  # how often the decoded copy was loaded from SQLite (tests: a quiet cycle loads nothing)

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
            self.reload()  # the decoded copy holds the writes just undone
            raise
        self._db.execute("COMMIT")

    def keep_decoded(self) -> None:
        """From now on keep the state decoded in memory between reads (loaded at the first read)."""
        self._keep = True

    @property
    def keeps_decoded(self) -> bool:
        return self._keep

    def reload(self) -> None:
        """Drop the decoded copy: the next read loads it from SQLite, as a restarted process would."""
        self._decoded = None
        self._derived.clear()

    @property
    def generation(self) -> int:
        """Counts the writes of items, pages and issues (what `derived` values and a settled conclusion depend on):
        kept in the file and moved on in the same transaction as each such write, whichever process writes."""
        row = self._db.execute("SELECT value FROM meta WHERE name = 'generation'").fetchone()
        return int(row[0]) if row else 0

    def _memory(self) -> _Decoded | None:
        """The decoded copy when it is kept, loaded now if need be; None when reads go to SQLite."""
        if self._keep and self._decoded is None:
            self.loads += 1
            with _decoding():
                self._decoded = _Decoded(self._items(), self._issues(), self._intents(), self._meta())
        return self._decoded

    def derived(self, name: str, key: Hashable, compute: Callable[[], T]) -> T:
        """compute(), or (state kept decoded) its value from the last call with this name and key when no item,
        page or issue was written since."""
        if self._memory() is None:
            return compute()
        generation, known, kept = self._derived.get(name, (-1, None, None))
        if generation == self.generation and known == key:
            return cast("T", pickle.loads(kept))
        value = compute()
        # Kept pickled (5 MB at 10,000 pages, unpickled in 0.04 s): its objects, made while every page was decoded,
        # would pin the memory that held the pages (their strings scattered over it), and what they take again.
        self._derived[name] = (self.generation, key, pickle.dumps(value))
        return value

    @contextmanager
    def _content_write(self) -> Iterator[None]:
        """A write of items, pages or issues with the generation moved on: both or neither, in one commit."""
        self._derived.clear()
        self._db.execute("SAVEPOINT content_write")  # within a transaction, or one of its own
        try:
            self._db.execute("INSERT INTO meta VALUES ('generation', '1') ON CONFLICT(name) DO UPDATE"
                             " SET value = CAST(value AS INTEGER) + 1")
            yield
        except BaseException:
            self._db.execute("ROLLBACK TO content_write")
            self._db.execute("RELEASE content_write")
            raise
        self._db.execute("RELEASE content_write")
        if self._decoded is not None:
            self._decoded.meta["generation"] = str(self.generation)

    def view(self, *, with_pages: bool = True) -> StateView:
        """Everything cached; `with_pages=False` leaves the parsed pages out (see `pages`)."""
        pages = self._pages() if with_pages else {}
        memory = self._memory()
        if memory is not None:  # copies: the caller's snapshot stays as it was while the cycle writes
            return StateView(dict(memory.items), pages, dict(memory.issues), dict(memory.intents), dict(memory.meta))
        at = self.generation
        unchanged = lambda: self.generation == at  # noqa: E731
        # Items and issues are decoded when first read: a quiet cycle of `once` reads neither.
        return StateView(Decoded(_decoded(self._items), unchanged), pages, Decoded(_decoded(self._issues), unchanged),
                         self._intents(), self._meta())

    def _issues(self) -> dict[str, IssueSnapshot]:
        snapshots = (snapshot_from_json(json.loads(doc)) for (doc,) in self._db.execute("SELECT doc FROM issues"))
        return {s.key: s for s in snapshots}  # keyed by the snapshot's own string: one copy each

    def pages(self, *, excluding: Collection[str] = ()) -> dict[str, Postmortem]:
        """The cached parsed pages, but those in `excluding` (not even decoded)."""
        return self._pages(excluding)

    def _pages(self, excluding: Collection[str] = ()) -> dict[str, Postmortem]:
        rows = self._db.execute("SELECT page_id, doc FROM pages")
        with _decoding():
            return {k: postmortem_from_json(json.loads(d)) for k, d in rows if k not in excluding}

    def pages_at(self, versions: Mapping[str, int]) -> dict[str, Postmortem]:
        """The cached parses of these pages that are of exactly the version given (no other page is decoded)."""
        rows = self._rows_of("SELECT page_id, json_extract(doc, '$.version'), doc FROM pages WHERE page_id IN ({})",
                             versions)
        return {page_id: postmortem_from_json(json.loads(doc)) for page_id, version, doc in rows
                if version == versions[page_id]}

    def pages_of(self, page_ids: Collection[str]) -> dict[str, Postmortem]:
        """The cached parses of these pages (no other page is decoded)."""
        rows = self._rows_of("SELECT page_id, doc FROM pages WHERE page_id IN ({})", page_ids)
        return {page_id: postmortem_from_json(json.loads(doc)) for page_id, doc in rows}

    def _rows_of(self, select: str, keys: Collection[str]) -> Iterator[Any]:
        """The rows `select` finds for these keys (its `IN ({})`), in chunks within SQLite's limit on parameters."""
        keys = list(keys)
        for start in range(0, len(keys), 500):
            chunk = keys[start:start + 500]
            yield from self._db.execute(select.format(", ".join("?" * len(chunk))), chunk)

    def page_ids(self) -> set[str]:
        return {row[0] for row in self._db.execute("SELECT page_id FROM pages")}

    def items(self) -> dict[str, ItemRecord]:
        memory = self._memory()
        return dict(memory.items) if memory is not None else self._items()

    def _items(self) -> dict[str, ItemRecord]:
        records = (record_from_json(json.loads(doc)) for (doc,) in self._db.execute("SELECT doc FROM items"))
        return {r.item_key: r for r in records}  # keyed by the record's own string: one copy each

    def meta(self) -> dict[str, str]:
        memory = self._memory()
        return dict(memory.meta) if memory is not None else self._meta()

    def _meta(self) -> dict[str, str]:
        return dict(self._db.execute("SELECT name, value FROM meta"))

    def issue_links(self) -> dict[str, IssueLink]:
        """Item key -> which page and issue, for every tracked item: what the report joins on, decoded cheaply."""
        memory = self._memory()
        if memory is not None:
            return {key: IssueLink(key, r.page_id, r.issue_key) for key, r in memory.items.items()}
        rows = self._db.execute("SELECT item_key, page_id, json_extract(doc, '$.issue_key') FROM items")
        return {key: IssueLink(key, page_id, issue_key) for key, page_id, issue_key in rows}

    def issue_keys(self) -> dict[str, str | None]:
        """Item key -> issue key of every tracked item, without loading the rest of the state."""
        memory = self._memory()
        if memory is not None:
            return {key: r.issue_key for key, r in memory.items.items()}
        rows = self._db.execute("SELECT item_key, json_extract(doc, '$.issue_key') FROM items")
        return dict(rows)

    def save_items(self, records: Iterable[ItemRecord]) -> None:
        records = list(records)
        if not records:
            return
        with self._content_write():
            self._db.executemany("INSERT OR REPLACE INTO items VALUES (?, ?, ?)",
                                 ((r.item_key, r.page_id, json.dumps(asdict(r))) for r in records))
        if self._decoded is not None:
            self._decoded.items.update((r.item_key, r) for r in records)

    def save_pages(self, postmortems: Iterable[Postmortem]) -> None:
        # Streamed: a backfill saves 10,000 pages, whose documents need not be in memory at once.
        first, rest = _first(postmortems)
        if first is None:
            return
        documents = ((pm.page_id, json.dumps(postmortem_to_json(pm))) for pm in itertools.chain([first], rest))
        with self._content_write():
            self._db.executemany("INSERT OR REPLACE INTO pages VALUES (?, ?)", documents)

    def forget_pages(self, page_ids: Iterable[str]) -> None:
        """Drop deleted pages from the cache (their item records stay: they hold the flagged issues)."""
        page_ids = list(page_ids)
        if page_ids:
            with self._content_write():
                self._db.executemany("DELETE FROM pages WHERE page_id = ?", [(p,) for p in page_ids])

    def save_issues(self, snapshots: Iterable[IssueSnapshot], *, forget: Iterable[str] = ()) -> None:
        """Store new or changed snapshots; drop the issues in `forget` (gone from a full search)."""
        forget, kept = list(forget), self._decoded.issues if self._decoded else None
        first, rest = _first(snapshots)  # streamed, as pages are
        if first is None and not forget:
            return

        def documents() -> Iterator[tuple[str, str]]:
            for snapshot in itertools.chain([first] if first else [], rest):
                doc = snapshot_to_json(snapshot)
                if kept is not None:  # decoded from what SQLite holds, so that both are the same
                    kept[snapshot.key] = snapshot_from_json(doc)
                yield snapshot.key, json.dumps(doc)

        if kept is not None:
            for key in forget:
                kept.pop(key, None)
        with self._content_write():
            self._db.executemany("DELETE FROM issues WHERE issue_key = ?", [(k,) for k in forget])
            self._db.executemany("INSERT OR REPLACE INTO issues VALUES (?, ?)", documents())

    def set_meta(self, **values: str | None) -> None:
        for name, value in values.items():
            if value is None:
                self._db.execute("DELETE FROM meta WHERE name = ?", (name,))
            else:
                self._db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (name, value))
            if self._decoded is not None and value is None:
                self._decoded.meta.pop(name, None)
            elif self._decoded is not None and value is not None:
                self._decoded.meta[name] = value

    def begin_create(self, item_keys: Iterable[str], now: datetime) -> None:
        """Journal that creates for these items are about to be sent (committed before sending).

        A create sent again restarts its item's wait: the search-lag grace runs from the latest send.
        """
        item_keys = list(item_keys)
        self._db.executemany(
            "INSERT OR REPLACE INTO intents VALUES (?, ?)", [(k, now.isoformat()) for k in item_keys]
        )
        if self._decoded is not None:  # as it reads back (an ISO string keeps no more than that)
            self._decoded.intents.update((k, datetime.fromisoformat(now.isoformat())) for k in item_keys)

    def reminders(self, issue_keys: Collection[str]) -> dict[str, str]:
        """The reminder journal entries (sync.reminders) of these issues: only they are read."""
        return dict(self._rows_of("SELECT issue_key, doc FROM reminders WHERE issue_key IN ({})", issue_keys))

    def unsent_reminders(self, *, since: datetime) -> bool:
        """Whether a reminder step sent after `since` has an unknown outcome (journalled, never marked sent)."""
        rows = self._db.execute("SELECT json_extract(doc, '$.at') FROM reminders WHERE json_extract(doc, '$.sent') = 0")
        return any(datetime.fromisoformat(at) > since for (at,) in rows)

    def save_reminder(self, issue_key: str, doc: str) -> None:
        """Journal a reminder step of this issue (committed at once: it is written before the step is sent)."""
        self._db.execute("INSERT OR REPLACE INTO reminders VALUES (?, ?)", (issue_key, doc))

    def intents(self) -> dict[str, datetime]:
        """Item key -> when its create was journalled, for every create whose outcome is still unknown."""
        memory = self._memory()
        return dict(memory.intents) if memory is not None else self._intents()

    def _intents(self) -> dict[str, datetime]:
        return {k: datetime.fromisoformat(t) for k, t in self._db.execute("SELECT item_key, started_at FROM intents")}

    def clear_intents(self, item_keys: Iterable[str]) -> None:
        item_keys = list(item_keys)
        self._db.executemany("DELETE FROM intents WHERE item_key = ?", [(k,) for k in item_keys])
        if self._decoded is not None:
            for key in item_keys:
                self._decoded.intents.pop(key, None)


def _first(values: Iterable[T]) -> tuple[T | None, Iterator[T]]:
    """The first of these values (None if there is none) and an iterator over the rest."""
    rest = iter(values)
    return next(rest, None), rest


def _decoded(load: Callable[[], T]) -> Callable[[], T]:
    """load, run without cyclic collection (see _decoding)."""
    def run() -> T:
        with _decoding():
            return load()
    return run


@contextmanager
def _decoding() -> Iterator[None]:
    """No cyclic collection while rows are decoded (they make no cycles; it would walk them again and again)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
