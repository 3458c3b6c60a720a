"""The state file on disk: opened and checked, set aside when it cannot be trusted.

The state is a cache (identity lives in Jira labels and in the keys written back into pages), so a
file that cannot be trusted is never fatal: a corrupt file (garbage, truncated) is moved aside with
a warning and the state is rebuilt.
A location where no state can be written (a read-only folder, a path under a file) is a
configuration error that names `sync.state_path`.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

import structlog

from sync.settings import ConfigError
from sync.state import State

log = structlog.get_logger(__name__)

# SQLite's result codes for a file that is not a sound database (as opposed to one it cannot open or write).
_CORRUPT = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_FIX = "point sync.state_path (PMSYNC_SYNC__STATE_PATH) at a file in a folder this user can write"


class _Corrupt(Exception):
    """The file is not a sound SQLite database of ours."""


def open_state(path: str | Path) -> State:
    """The state at `path`, rebuilt when the file is corrupt; ConfigError when no state can be written there."""
    if str(path) == ":memory:":
        return State.open(path)
    return _open_sound(Path(path))


def _open_sound(path: Path) -> State:
    """The state at `path`, after moving a corrupt file aside; ConfigError where it cannot be written."""
    try:
        return _open_checked(path)
    except _Corrupt as exc:
        _set_aside(path, "corrupt", error=str(exc))
    try:
        return _open_checked(path)
    except _Corrupt as exc:  # a fresh file that is corrupt at once: the storage is at fault, not the file
        raise _unusable(path, str(exc)) from None


def _open_checked(path: Path) -> State:
    """Open the file, check its integrity and that it can be written; _Corrupt or ConfigError if not."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _unusable(path, f"cannot create the folder {path.parent}: {exc.strerror or exc}") from None
    state = None
    try:
        state = State.open(path)
        problems = state.integrity()
        if problems != ["ok"]:
            raise _Corrupt("; ".join(problems[:3]))
        with state.transaction():  # proves the file and its folder (journal files) can be written
            state.set_meta(opened_at=datetime.now(timezone.utc).isoformat())
        return state
    except sqlite3.DatabaseError as exc:
        if state is not None:
            state.close()
        if str(getattr(exc, "sqlite_errorname", "")).startswith(_CORRUPT):
            raise _Corrupt(str(exc)) from None
        raise _unusable(path, str(exc)) from None
    except _Corrupt:
        state.close()
        raise


def _unusable(path: Path, reason: str) -> ConfigError:
    return ConfigError([f"sync.state_path: no state can be written at {path} ({reason}); {_FIX}"])


def _set_aside(path: Path, reason: str, **detail: str) -> None:
    """Move the file (and SQLite's side files) to `<name>.<reason>-<time>` beside it, with a warning."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    try:
        for suffix in ("", "-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise _unusable(path, f"cannot move the {reason} state aside: {exc.strerror or exc}") from None
    log.warning("state_set_aside", reason=reason, path=str(path), moved_to=str(target), **detail)
