"""What the adapters learn about a site and keep between runs: its deployment, and whether Confluence
Cloud's v1 content routes are gone for our credential.

A `once` run every few minutes would otherwise ask serverInfo each time. The facts live in the state's
meta table (any `MetaStore`), one row per REST base URL, so a changed URL is a new site and is asked
anew; a failure that says the site is not what we remember (`contradicts_deployment`) forgets it.
Losing them costs one request, never correctness.
"""

from __future__ import annotations

import json
import threading
from typing import Protocol

from sync.ports import AtlassianError, AuthFailed

_PREFIX = "site "


class MetaStore(Protocol):
    """Where facts are kept: `sync.state.State` is one."""

    def meta(self) -> dict[str, str]: ...

    def set_meta(self, **values: str | None) -> None: ...


class SiteMemory:
    """Facts per REST base URL (`deployment`, `confluence_v1`); without a store, they last this process."""

    def __init__(self, store: MetaStore | None = None) -> None:
        self._store = store
        self._local: dict[str, dict[str, str]] = {}
        self._lock = threading.Lock()

    def recall(self, url: str) -> dict[str, str]:
        """What is known about the site at url (empty when nothing is)."""
        with self._lock:
            return dict(self._read(url))

    def remember(self, url: str, **facts: str) -> None:
        """Add facts about the site at url, keeping the others."""
        with self._lock:
            merged = {**self._read(url), **facts}
            self._local[url] = merged
            if self._store is not None:
                self._store.set_meta(**{_PREFIX + url: json.dumps(merged, sort_keys=True)})

    def forget(self, url: str) -> None:
        """Drop every fact about the site at url: the next run asks again."""
        with self._lock:
            self._local.pop(url, None)
            if self._store is not None:
                self._store.set_meta(**{_PREFIX + url: None})

    def _read(self, url: str) -> dict[str, str]:
        if url in self._local or self._store is None:
            return self._local.get(url, {})
        try:
            facts = json.loads(self._store.meta().get(_PREFIX + url, "{}"))
        except ValueError:
            facts = {}
        self._local[url] = facts if isinstance(facts, dict) else {}
        return self._local[url]


def contradicts_deployment(error: AtlassianError, operation: str) -> bool:
    """Whether a Jira failure says the remembered deployment may be wrong: the credentials refused (the
    auth scheme follows the deployment), or a deployment's own search route missing or retired."""
    if isinstance(error, AuthFailed):
        return True
    return error.status in (404, 410) and operation.endswith(("/search", "/search/jql"))
