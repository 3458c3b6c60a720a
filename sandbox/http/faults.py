"""Injected failures: the next `count` matching API requests get an error, a delay, or a reset connection.

`match` is "METHOD /route/{template}" or "METHOD /exact/path", a bare path prefix ("/rest/api/3"),
or omitted for every API request. Rules are used in the order they were added.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import asdict, dataclass, field
from typing import Any


class FaultSpecError(ValueError):
    """The fault description is not usable."""


@dataclass
class Fault:
    id: int
    match: str | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    count: int = 1
    delay_ms: int = 0
    reset: bool = False

    def applies_to(self, method: str, path: str, template: str | None) -> bool:
        if self.match is None:
            return True
        if " " in self.match:
            wanted_method, wanted_path = self.match.split(" ", 1)
            return wanted_method.upper() == method and wanted_path in (path, template)
        return path.startswith(self.match)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def parse_fault(data: object, fault_id: int) -> Fault:
    """A fault from its JSON description; raises FaultSpecError naming the bad part."""
    if not isinstance(data, dict):
        raise FaultSpecError("a fault is a JSON object")
    unknown = set(data) - {"match", "status", "headers", "count", "delay_ms", "reset"}
    if unknown:
        raise FaultSpecError(f"unknown keys: {sorted(unknown)}")
    status, count, delay = data.get("status"), data.get("count", 1), data.get("delay_ms", 0)
    if status is not None and (not isinstance(status, int) or not 400 <= status <= 599):
        raise FaultSpecError("status must be an HTTP error status (400-599)")
    if not isinstance(count, int) or count < 1 or not isinstance(delay, int) or delay < 0:
        raise FaultSpecError("count must be >= 1 and delay_ms >= 0")
    headers = data.get("headers") or {}
    if not isinstance(headers, dict):
        raise FaultSpecError("headers must be an object")
    if status is None and not data.get("reset") and not delay:
        raise FaultSpecError("give a status, reset: true, or a delay_ms")
    match = data.get("match")
    clean_headers = {str(k): str(v) for k, v in headers.items()}
    return Fault(fault_id, match, status, clean_headers, count, delay, bool(data.get("reset")))


class FaultBook:
    """Pending faults, consumed one request at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._ids = itertools.count(1)

    def add(self, data: object) -> Fault:
        fault = parse_fault(data, 0)
        with self._lock:
            fault.id = next(self._ids)
            self._faults.append(fault)
        return fault

    def take(self, method: str, path: str, template: str | None) -> Fault | None:
        """The first pending fault for this request, using up one of its `count`."""
        with self._lock:
            for fault in self._faults:
                if fault.applies_to(method, path, template):
                    fault.count -= 1
                    if fault.count == 0:
                        self._faults.remove(fault)
                    return fault
        return None

    def pending(self) -> list[dict[str, Any]]:
        with self._lock:
            return [fault.to_json() for fault in self._faults]

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()
