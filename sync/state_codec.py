"""How the state file stores parsed pages, issue snapshots and item records: as JSON documents, decoded
with their often repeated values shared (the daemon keeps 10,000 pages' worth in memory)."""

from __future__ import annotations

import functools
import json
import sys
from dataclasses import asdict
from datetime import date, datetime, timedelta, tzinfo
from typing import Any, cast

from sync.models import ActionItem, IssueSnapshot, ItemRecord, Owner, PageMeta, Postmortem

# What a cached parse holds (2: the page's labels, creation and author, archived, the root-cause text): a
# cache of another format is parsed again, by one full reconcile (sync.window).
PAGE_FORMAT = "2"


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


@functools.lru_cache(maxsize=4096)  # dates repeat (due dates): one object each
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
    times = {name: _time(doc[name]) if doc.get(name) else None for name in ("created", "updated", "resolved")}
    shared = {name: sys.intern(doc[name]) for name in _SHARED_SNAPSHOT_FIELDS if doc.get(name) is not None}
    labels = tuple(sys.intern(label) for label in doc["labels"])
    return IssueSnapshot(**{**doc, **times, **shared, "labels": labels, "due": _date(doc.get("due"))})


def record_from_json(doc: dict[str, Any]) -> ItemRecord:
    """An item record as stored, its often repeated values shared (the daemon keeps 5 per page in memory)."""
    return ItemRecord(**{**doc, **{name: sys.intern(doc[name]) for name in _SHARED_RECORD_FIELDS
                                   if doc.get(name) is not None}})


# Values that repeat across issues and records: one string object each instead of one per issue.
_SHARED_SNAPSHOT_FIELDS = ("status", "status_category", "assignee", "assignee_display", "priority", "issue_type",
                           "project")
_SHARED_RECORD_FIELDS = ("page_id", "origin", "assignee", "due", "priority", "type")
_ZONES: dict[timedelta | None, tzinfo | None] = {}


@functools.lru_cache(maxsize=1)  # an issue not touched since created: one object for `created` and `updated`
def _time(value: str) -> datetime:
    """A stored time, with one shared zone object per UTC offset (fromisoformat makes a new one each time)."""
    parsed = datetime.fromisoformat(value)
    return parsed.replace(tzinfo=_ZONES.setdefault(parsed.utcoffset(), parsed.tzinfo))

