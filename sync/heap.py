"""The process's C heap: glibc keeps what was freed in its arenas (one per thread that allocated) until asked."""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util


def trim_heap() -> None:
    """Give the C heap's free memory back to the system (glibc's malloc_trim; nothing elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):  # not glibc
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
