"""The state file on disk: opened for one site and scope, set aside when it cannot be trusted.

The state is a cache (identity lives in Jira labels and in the keys written back into pages), so a
file that cannot be trusted is never fatal:
- a corrupt file (garbage, truncated) is moved aside with a warning and the state is rebuilt;
- a state recorded for another site (other Jira or Confluence URLs) is moved aside with a warning
  and rebuilt: its pages, issues and watermarks describe that site, and trusting them would flag
  or edit unrelated issues and skip pages by a watermark that never applied here;
- a changed scope (the spaces, labels, parent pages or CQL that select postmortems, the Jira
  project, the templates) keeps the cache but drops the page watermark, so the next cycle is a full
  reconcile that reads everything the new scope selects.
A location where no state can be written (a read-only folder, a path under a file) is a
configuration error that names `sync.state_path`.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import structlog

from sync.settings import ConfigError, Settings
from sync.state import State

log = structlog.get_logger(__name__)

# SQLite's result codes for a file that is not a sound database (as opposed to one it cannot open or write).
_CORRUPT = ("SQLITE_NOTADB", "SQLITE_CORRUPT")
_FIX = "point sync.state_path (PMSYNC_SYNC__STATE_PATH) at a file in a folder this user can write"


class _Corrupt(Exception):
    """The file is not a sound SQLite database of ours."""


def site_of(settings: Settings) -> str:
    """Which Atlassian site a state describes: the Jira and Confluence base URLs, normalised."""
    return f"jira={_url(str(settings.jira.url))} confluence={_url(str(settings.confluence.url))}"


def _url(url: str) -> str:
    parts = urlsplit(url.strip())
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}{parts.path.rstrip('/')}"


def scope_of(settings: Settings) -> str:
    """A fingerprint of what a cycle selects and how it reads it: pages (spaces, labels, parents, CQL),
    the Jira project and the templates."""
    selection = {
        "confluence": settings.confluence.model_dump(mode="json", include={"spaces", "labels", "parent_pages", "cql"}),
        "project": settings.jira.project,
        "templates": settings.model_dump(mode="json", include={"templates"})["templates"],
    }
    return hashlib.sha256(json.dumps(selection, sort_keys=True).encode()).hexdigest()[:16]


def open_state(path: str | Path, *, site: str, scope: str) -> State:
    """The state for this site and scope: rebuilt when corrupt or of another site; full reconcile when the scope
    changed. ConfigError when no state can be written at `path`."""
    if str(path) == ":memory:":
        state = State.open(path)
    else:
        state = _open_sound(Path(path))
        recorded = state.meta().get("site")
        if recorded is not None and recorded != site:
            state.close()
            _set_aside(Path(path), "other-site", recorded_site=recorded, site=site)
            state = _open_sound(Path(path))
    _check_scope(state, scope)
    state.set_meta(site=site)
    return state


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
    try:
        state = State.open(path)
    except sqlite3.DatabaseError as exc:
        raise _classified(path, exc) from None
    try:
        problems = state.integrity()
        if problems != ["ok"]:
            raise _Corrupt("; ".join(problems[:3]))
        with state.transaction():  # proves the file and its folder (journal files) can be written
            state.set_meta(opened_at=datetime.now(UTC).isoformat())
    except _Corrupt:
        state.close()
        raise
    except sqlite3.DatabaseError as exc:
        state.close()
        raise _classified(path, exc) from None
    return state


def _classified(path: Path, exc: sqlite3.DatabaseError) -> Exception:
    """_Corrupt for a file that is not a sound database, else the configuration error of an unusable location."""
    if str(getattr(exc, "sqlite_errorname", "")).startswith(_CORRUPT):
        return _Corrupt(str(exc))
    return _unusable(path, str(exc))


def _unusable(path: Path, reason: str) -> ConfigError:
    return ConfigError([f"sync.state_path: no state can be written at {path} ({reason}); {_FIX}"])


def _set_aside(path: Path, reason: str, **detail: str) -> None:
    """Move the file (and SQLite's side files) to `<name>.<reason>-<time>` beside it, with a warning."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = path.with_name(f"{path.name}.{reason}-{stamp}")
    try:
        for suffix in ("", "-wal", "-shm"):
            side = path.with_name(path.name + suffix)
            if side.exists():
                side.rename(target.with_name(target.name + suffix))
    except OSError as exc:
        raise _unusable(path, f"cannot move the {reason} state aside: {exc.strerror or exc}") from None
    log.warning("state_set_aside", reason=reason, path=str(path), moved_to=str(target), **detail)


def _check_scope(state: State, scope: str) -> None:
    """Record the scope; when it changed, drop the page watermark so that the next cycle reads everything."""
    meta = state.meta()
    if meta.get("scope") == scope:
        return
    if "pages_seen_at" in meta or "confluence_since" in meta:
        log.warning("scope_changed", previous=meta.get("scope"), scope=scope, next_cycle="full reconcile")
    # Without a page watermark (`sync.window.plan_window`), the next cycle is a full reconcile.
    state.set_meta(scope=scope, pages_seen_at=None, confluence_since=None)
