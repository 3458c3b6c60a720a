"""Every CQL and JQL query the daemon sends, built in one place; every literal in them is quoted here.

Pure: strings in, a query string out. A value from configuration or from a page never becomes query
syntax: it goes through `jql_quote` / `cql_quote`, so `" OR project = X`, a backslash, a newline or a
reserved word (`and`, `empty`, `order`) stays a value. The one exception is `confluence.cql`, raw CQL
the operator writes on purpose; it is wrapped in parentheses so that our clauses still bind to all of it.

Incremental windows are relative to the server's own "now" (`updated >= "-17m"`, `lastmodified >=
now("-17m")`), never a date literal: Jira reads a literal in the searching account's time zone, and
Confluence in the site's or the user's (docs/atlassian-behaviours.md, "Time"), so a literal only means
what we meant when that zone is known and our clock agrees with the server's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from sync.identity import MANAGED_LABEL

if TYPE_CHECKING:
    from sync.settings import ConfluenceSettings

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


def postmortem_cql(conf: ConfluenceSettings, minutes: int | None) -> str:
    """The CQL that selects postmortem pages, modified in the last `minutes` (by Confluence's clock) when given."""
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
    if minutes is not None:
        clauses.append(f"lastmodified >= now({cql_quote(_minutes_ago(minutes))})")
    return " and ".join(clauses) + " order by lastmodified asc"


def pages_by_id_cql(conf: ConfluenceSettings, page_ids: Sequence[str]) -> str:
    """The CQL for these pages (ids as Confluence gives them: numbers), still within the postmortem selection."""
    selection = postmortem_cql(conf, None).removesuffix(" order by lastmodified asc")
    return f"{selection} and id in ({', '.join(str(int(page_id)) for page_id in page_ids)})"


def managed_jql(project: str, minutes: int | None) -> str:
    """The JQL for the issues we manage, updated in the last `minutes` (by Jira's clock) when given."""
    jql = f"project = {jql_quote(project)} and labels = {jql_quote(MANAGED_LABEL)}"
    if minutes is not None:
        jql += f" and updated >= {jql_quote(_minutes_ago(minutes))}"
    return jql + " order by key asc"


def is_issue_key(value: object) -> bool:
    """Whether value is an issue key by Jira's syntax (`OPS-12`), and nothing else."""
    return isinstance(value, str) and _ISSUE_KEY.fullmatch(value) is not None


def labels_jql(project: str, labels: Sequence[str]) -> str:
    """The JQL for the project's issues carrying any of these labels, at any time (no date bound)."""
    if isinstance(labels, str) or not labels:
        raise ValueError("labels_jql needs a sequence of at least one label")
    quoted = ", ".join(jql_quote(label) for label in labels)
    return f"project = {jql_quote(project)} and labels in ({quoted}) order by key asc"


def _minutes_ago(minutes: int) -> str:
    """A relative date both query languages read against the server's clock: `-17m`."""
    if minutes < 0:
        raise ValueError("a window reaches back a positive number of minutes")
    return f"-{int(minutes)}m"


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
