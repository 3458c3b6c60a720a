"""Request counts per route template, e.g. {"PUT /wiki/rest/api/content/{id}": 3}."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any


class Stats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def count(self, route_name: str) -> None:
        with self._lock:
            self._counts[route_name] += 1

    def snapshot(self) -> dict[str, Any]:
        """{"total": n, "by_route": {...}}, routes sorted by name."""
        with self._lock:
            return {"total": sum(self._counts.values()), "by_route": dict(sorted(self._counts.items()))}

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
