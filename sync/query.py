"""Every CQL and JQL query the daemon sends, built in one place; every literal in them is quoted here.

Pure: strings in, a query string out. A value from configuration or from a page never becomes query
syntax: it goes through `jql_quote` / `cql_quote`, so `" OR project = X`, a backslash, a newline or a
reserved word (`and`, `empty`, `order`) stays a value. The one exception is `confluence.cql`, raw CQL
the operator writes on purpose; it is wrapped in parentheses so that our clauses still bind to all of it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from sync.identity import MANAGED_LABEL

if TYPE_CHECKING:
    from sync.settings import ConfluenceSettings

# CQL's lastmodified and JQL's updated compare at minute precision (hence sync.overlap_minutes).
_WATERMARK_FORMAT = "%Y-%m-%d %H:%M"
# Jira's issue key: the project key (Jira's default project key pattern; upper case, as Jira issues
# keys) and a positive number. A key read from a page must match before it is used anywhere.
_ISSUE_KEY = re.compile(r"[A-Z][A-Z0-9_]+-[1-9][0-9]*")
_LITERAL_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def jql_quote(value: str) -> str:
    """A JQL string literal holding value exactly (quotes, backslashes and newlines escaped)."""
    return '"' + "".join(_LITERAL_ESCAPES.get(char, char) for char in value) + '"'


def cql_quote(value: str) -> str:
    """A CQL string literal holding value exactly (quotes, backslashes and newlines escaped)."""
    return jql_quote(value)  # CQL shares JQL's literal syntax


def postmortem_cql(conf: ConfluenceSettings, since: datetime | None) -> str:
    """The CQL that selects postmortem pages, modified since `since` when given."""
    if conf.cql:
        clauses = [f"({conf.cql})"]
    else:
        clauses = ["type = page"]
        if conf.spaces:
            clauses.append(f"space in ({', '.join(cql_quote(s) for s in conf.spaces)})")
        if conf.labels:
            clauses.append(f"label in ({', '.join(cql_quote(label) for label in conf.labels)})")
        if conf.parent_pages:
            clauses.append(f"ancestor in ({', '.join(str(int(p)) for p in conf.parent_pages)})")
    if since is not None:
        clauses.append(f"lastmodified >= {cql_quote(since.strftime(_WATERMARK_FORMAT))}")
    return " and ".join(clauses) + " order by lastmodified asc"


def managed_jql(project: str, since: datetime | None) -> str:
    """The JQL for the issues we manage, updated since `since` when given."""
    jql = f"project = {jql_quote(project)} and labels = {jql_quote(MANAGED_LABEL)}"
    if since is not None:
        jql += f" and updated >= {jql_quote(since.strftime(_WATERMARK_FORMAT))}"
    return jql + " order by key asc"


def is_issue_key(value: object) -> bool:
    """Whether value is an issue key by Jira's syntax (`OPS-12`), and nothing else."""
    return isinstance(value, str) and _ISSUE_KEY.fullmatch(value) is not None


def keys_jql(keys: Sequence[str]) -> str:
    """The JQL for the issues with these keys, each key a quoted literal; ValueError for no key or a blank one.

    Callers pass only keys that pass `is_issue_key` (the cycle drops the others before any query);
    each is quoted all the same, so a key that slipped through still stays one value.
    """
    if isinstance(keys, str):
        raise ValueError("keys_jql takes a sequence of keys, not one string")
    if not keys:
        raise ValueError("keys_jql needs at least one key (Jira rejects `key in ()`)")
    if any(not isinstance(key, str) or not key.strip() for key in keys):
        raise ValueError("keys_jql got a blank issue key")
    return f"key in ({', '.join(jql_quote(key) for key in keys)})"
