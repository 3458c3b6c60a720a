"""Measure one parse in a forked child: CPU time, resident-memory growth and whether it raised.

CPU time, not wall time: what the parse costs is the parser's, whereas the wall clock also counts
whatever else the machine runs (a shared CI runner; the test suite's other workers).
"""

from __future__ import annotations

import os
import pickle
import time
from dataclasses import dataclass

from sync.parser import parse_page

PAGE = os.sysconf("SC_PAGE_SIZE")


@dataclass(frozen=True)
class ParseCost:
    """What one `parse_page` call cost, and what it reported."""

    size: int  # bytes of UTF-8
    seconds: float  # CPU time of the parse
    growth_mb: float  # the child's peak resident set above the parent's at fork time
    error: str | None
    problems: tuple[str, ...]


def _resident_kb() -> int:
    """This process's current resident set in KiB."""
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * PAGE // 1024


def measure_parse(body: str) -> ParseCost:
    """Parse `body` in a forked child so its peak memory is its own (ru_maxrss of that child)."""
    read_end, write_end = os.pipe()
    base = _resident_kb()
    pid = os.fork()
    if pid == 0:  # the child: parse, report, exit without running the parent's cleanup
        os.close(read_end)
        try:
            start = time.process_time()
            page = parse_page(body)
            outcome = (time.process_time() - start, None, tuple(page.problems[:8]))
        except BaseException as exc:  # noqa: BLE001 - the property under test is "never raises": report anything
            outcome = (0.0, f"{type(exc).__name__}: {exc}", ())
        with os.fdopen(write_end, "wb") as out:
            pickle.dump(outcome, out)
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as incoming:
        data = incoming.read()
    _, _, usage = os.wait4(pid, 0)
    seconds, error, problems = pickle.loads(data) if data else (0.0, "child died", ())
    return ParseCost(len(body.encode("utf-8", "surrogatepass")), seconds,
                     max(0, usage.ru_maxrss - base) / 1024, error, problems)
