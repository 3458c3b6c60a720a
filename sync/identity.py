"""The no-duplicates contract: a deterministic key per action item, carried on its Jira issue as labels."""

from __future__ import annotations

import hashlib
import re
import sys
import unicodedata
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sync.models import ActionItem, ItemRecord

if TYPE_CHECKING:
    from sync.state_view import IssueLink

MANAGED_LABEL = "pmsync"
REMOVED_LABEL = "pmsync-removed"
_ITEM_LABEL = re.compile(r"^pmsync-([0-9a-f]{12})$")
_TYPE_PREFIX = "pmsync-type-"
_EPIC_LABEL = re.compile(r"^pmsync-epic-(\d+)$")
_EPIC_PREFIX = "pmsync-epic-"
_ITEM_LABEL_LENGTH = len("pmsync-") + 12


def normalise(text: str) -> str:
    """Casefolded words without punctuation: what stays the same when someone fixes a typo's spacing."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join(re.findall(r"\w+", folded))


def item_basis(item: ActionItem) -> str:
    """What identifies an item on its page when first seen: its task, else its words."""
    if item.task_uuid:
        return f"uuid:{item.task_uuid}"
    if item.origin.startswith("task:"):
        return item.origin
    return f"text:{normalise(item.summary)}"


def item_key(page_id: str, item: ActionItem, *, salt: str = "") -> str:
    """A 12-hex key, stable across cycles and machines, for one item of one page."""
    digest = hashlib.sha256(f"{page_id}\x1f{item_basis(item)}\x1f{salt}".encode()).hexdigest()
    return digest[:12]


def page_item_keys(page_id: str, items: Iterable[ActionItem],
                   tracked: Mapping[tuple[str, str], str]) -> list[str]:
    """The key of each item of one page, in order.

    An item that carries a tracked Jira key keeps that item's key (its words may have changed);
    two items with the same identity are told apart by their position.
    """
    keys: list[str] = []
    for item in items:
        key = tracked.get((page_id, item.jira_key)) if item.jira_key else None
        key = key or item_key(page_id, item)
        if key in keys:
            key = item_key(page_id, item, salt=item.origin)
        keys.append(key)
    return keys


def tracked_by_issue(records: Iterable[ItemRecord | IssueLink]) -> dict[tuple[str, str], str]:
    """(page id, issue key) -> item key of every tracked item (records as in sync.state.ItemRecord)."""
    return {(r.page_id, r.issue_key): r.item_key for r in records if r.issue_key}


def item_label(key: str) -> str:
    return f"pmsync-{key}"


def page_label(page_id: str) -> str:
    return sys.intern(f"pmsync-page-{page_id}")  # one string per page: a plan labels every item of it


def epic_label(page_id: str) -> str:
    """The label of the one epic a postmortem's issues sit under (when epics are on)."""
    return f"pmsync-epic-{page_id}"


def epic_page_from_labels(labels: Iterable[str]) -> str | None:
    for label in labels:  # the prefix test first: this runs for every issue of every cycle
        if label.startswith(_EPIC_PREFIX) and (m := _EPIC_LABEL.match(label)):
            return m.group(1)
    return None


def type_label(item_type: str | None) -> str | None:
    """A Jira label that carries the item's type (Jira has no field for it)."""
    if not item_type:
        return None
    slug = re.sub(r"[^\w-]+", "-", normalise(item_type)).strip("-")
    return sys.intern(f"{_TYPE_PREFIX}{slug}"[:255]) if slug else None  # a few types: one string each


def item_key_from_labels(labels: Iterable[str]) -> str | None:
    for label in labels:  # the length test first (most labels fail it): this runs for every issue of every cycle
        if len(label) == _ITEM_LABEL_LENGTH and (m := _ITEM_LABEL.match(label)):
            return m.group(1)
    return None


def type_from_labels(labels: Iterable[str]) -> str | None:
    return next((label[len(_TYPE_PREFIX):] for label in labels if label.startswith(_TYPE_PREFIX)), None)
