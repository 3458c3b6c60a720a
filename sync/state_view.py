"""A cycle's read-only snapshot of the state, whose big parts are decoded only when first read.

A quiet cycle of `once` finds nothing new in Confluence or Jira and so never needs the 50,000 item records
or issue snapshots of a large archive: decoding them would be most of its CPU. The snapshot is taken
before the cycle writes anything; reading a part for the first time after a write would see the cycle's
own writes, so that raises instead (a bug, caught by the tests, never a silently wrong plan).
"""

from __future__ import annotations

from collections.abc import Callable, ItemsView, Iterator, KeysView, Mapping, ValuesView
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, NamedTuple, TypeVar

from sync.models import IssueSnapshot, ItemRecord, Postmortem

K = TypeVar("K")
V = TypeVar("V")


class IssueLink(NamedTuple):
    """The part of an ItemRecord the report needs."""

    item_key: str
    page_id: str
    issue_key: str | None


class WrittenSince(RuntimeError):
    """A part of a state snapshot was first read after the state was written: it would not be a snapshot."""


class Decoded(Mapping[K, V], Generic[K, V]):
    """A mapping decoded from the state the first time it is read.

    `load` decodes it; `unchanged` says whether the state is still as it was when the snapshot was taken.
    """

    __slots__ = ("_data", "_load", "_unchanged")

    def __init__(self, load: Callable[[], dict[K, V]], unchanged: Callable[[], bool]) -> None:
        self._load, self._unchanged = load, unchanged
        self._data: dict[K, V] | None = None

    @property
    def loaded(self) -> bool:
        return self._data is not None

    @property
    def data(self) -> dict[K, V]:
        if self._data is None:
            if not self._unchanged():
                raise WrittenSince("a part of the cycle's state snapshot was first read after the cycle wrote")
            self._data = self._load()
        return self._data

    def __getitem__(self, key: K) -> V:
        return self.data[key]

    def __iter__(self) -> Iterator[K]:
        return iter(self.data)

    def __len__(self) -> int:
        return len(self.data)

    def __contains__(self, key: object) -> bool:
        return key in self.data

    def keys(self) -> KeysView[K]:
        return self.data.keys()

    def values(self) -> ValuesView[V]:
        return self.data.values()

    def items(self) -> ItemsView[K, V]:
        return self.data.items()

    def __eq__(self, other: object) -> bool:
        return self.data == (other.data if isinstance(other, Decoded) else other)


@dataclass(frozen=True)
class StateView:
    """A read-only snapshot of the state for the pure planner and report."""

    items: Mapping[str, ItemRecord] = field(default_factory=dict)
    pages: Mapping[str, Postmortem] = field(default_factory=dict)
    issues: Mapping[str, IssueSnapshot] = field(default_factory=dict)
    intents: Mapping[str, datetime] = field(default_factory=dict)
    meta: Mapping[str, str] = field(default_factory=dict)

    def load(self) -> None:
        """Decode every part now, before the cycle writes: for a cycle that reads them all anyway."""
        for part in (self.items, self.issues):
            len(part)
