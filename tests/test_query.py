"""The CQL and JQL the daemon sends (`sync.query`): exact queries, and hostile values that stay values."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest

from sync.query import cql_quote, is_issue_key, jql_quote, keys_jql, labels_jql, managed_jql, postmortem_cql
from sync.settings import ConfluenceSettings

# A JQL/CQL string literal as both products lex it: no bare quote, backslash or line break inside.
LITERAL = re.compile(r'"(?:[^"\\\r\n]|\\.)*"')
MINUTES = 17  # an incremental window: the last 17 minutes by the server's clock
HOSTILE = [
    '" OR project = SECRET OR summary ~ "',
    '\\" or key = "X-1',
    "back\\slash",
    "trailing backslash\\",
    '\\"',
    "line\nbreak\r\nand\ttab",
    "and", "OR", "not", "EMPTY", "null", "order by key desc", "in", "is",
    "'single' quotes",
    "(unbalanced",
    "é ✓ 中文 \u200b\u202e",
    "",
]


def read_literal(text: str) -> str:
    """The value of one string literal, unescaped as Jira and Confluence do (\\n, \\r, \\t; \\x is x)."""
    assert LITERAL.fullmatch(text), f"not one string literal: {text!r}"
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m[1], m[1]), text[1:-1], flags=re.S)


def skeleton(query: str) -> tuple[str, list[str]]:
    """The query with every literal replaced by <>, and the literals' values in order."""
    return LITERAL.sub("<>", query), [read_literal(m[0]) for m in LITERAL.finditer(query)]


def confluence(**fields: object) -> ConfluenceSettings:
    return ConfluenceSettings(url="https://confluence.corp.example", summary_page={"enabled": False}, **fields)


# --- literals --------------------------------------------------------------------------------------


def test_query_literals_are_escaped() -> None:
    assert jql_quote('say "hi"\\now\nnext') == '"say \\"hi\\"\\\\now\\nnext"'
    assert cql_quote("PM") == '"PM"'
    assert cql_quote('a"b') == '"a\\"b"'


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("quote", [jql_quote, cql_quote])
def test_a_hostile_value_is_one_literal_holding_exactly_that_value(quote, value: str) -> None:
    literal = quote(value)
    assert read_literal(literal) == value
    assert "\n" not in literal and "\r" not in literal


@pytest.mark.parametrize("word", ["and", "OR", "not", "EMPTY", "null", "order", "in", "is"])
def test_reserved_words_are_quoted_like_any_value(word: str) -> None:
    assert jql_quote(word) == f'"{word}"' and cql_quote(word) == f'"{word}"'


# --- managed issues (JQL) --------------------------------------------------------------------------


def test_managed_jql_selects_the_project_and_our_label_in_key_order() -> None:
    assert managed_jql("OPS", None) == 'project = "OPS" and labels = "pmsync" order by key asc'


def test_managed_jql_window_is_a_relative_date_no_time_zone_can_shift() -> None:
    # A date literal would be read in the searching account's zone; "-17m" is minutes back from Jira's now.
    assert managed_jql("OPS", MINUTES) == (
        'project = "OPS" and labels = "pmsync" and updated >= "-17m" order by key asc'
    )
    with pytest.raises(ValueError):
        managed_jql("OPS", -1)


@pytest.mark.parametrize("project", HOSTILE)
def test_managed_jql_keeps_a_hostile_project_a_value(project: str) -> None:
    shape, values = skeleton(managed_jql(project, MINUTES))
    assert shape == "project = <> and labels = <> and updated >= <> order by key asc"
    assert values == [project, "pmsync", "-17m"]


# --- issues by identity label, with no date bound (JQL) --------------------------------------------


def test_labels_jql_has_no_date_bound() -> None:
    assert labels_jql("OPS", ["pmsync-0123456789ab", "pmsync-epic-42"]) == (
        'project = "OPS" and labels in ("pmsync-0123456789ab", "pmsync-epic-42") order by key asc'
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_labels_jql_keeps_hostile_values_values(value: str) -> None:
    shape, values = skeleton(labels_jql(value, [value, "pmsync"]))
    assert shape == "project = <> and labels in (<>, <>) order by key asc"
    assert values == [value, value, "pmsync"]


@pytest.mark.parametrize("labels", [[], (), "pmsync"])
def test_labels_jql_refuses_what_is_no_list_of_labels(labels) -> None:
    with pytest.raises(ValueError):
        labels_jql("OPS", labels)


# --- issues by key (JQL) ---------------------------------------------------------------------------


def test_keys_jql_quotes_each_key() -> None:
    assert keys_jql(["OPS-1", "OPS-22"]) == 'key in ("OPS-1", "OPS-22")'
    assert keys_jql(("PLAT-377",)) == 'key in ("PLAT-377")'


def test_keys_jql_keeps_a_hostile_key_from_a_page_one_value() -> None:
    # A Jira macro's `key` parameter is free text on the page.
    keys = ['OPS-1") or project = "SECRET', "OPS-2, OPS-3", "ops-4 order by key", "OPS-5\\"]
    shape, values = skeleton(keys_jql(keys))
    assert shape == "key in (<>, <>, <>, <>)"
    assert values == keys


PAGE_KEYS = ['OPS-1") or project = "SECRET', "OPS-2, OPS-3", "ops-4 order by key", "OPS-5\\",
             "OPS-1) OR project is not EMPTY OR key in (OPS-1, SEC-1", "OPS-1\n", " OPS-1", "OPS-0", "O-1",
             "1OPS-1", "OPS-01", "OPS-", "-1", "OPS_1", "OPS-1-2", "ＯＰＳ-1", "OPS-١"]


@pytest.mark.parametrize("key", HOSTILE + PAGE_KEYS)
def test_a_hostile_key_from_a_page_is_no_issue_key(key: str) -> None:
    # The cycle drops such keys before any query (tests/test_scope.py); keys_jql would still quote them.
    assert not is_issue_key(key)
    shape, values = skeleton(keys_jql(["OPS-1", key] if key.strip() else ["OPS-1"]))
    assert shape == ("key in (<>, <>)" if key.strip() else "key in (<>)") and values[0] == "OPS-1"
    # ... and through every other builder, as a project, a space or a label.
    assert skeleton(managed_jql(key, MINUTES)) == ("project = <> and labels = <> and updated >= <> order by key asc",
                                                 [key, "pmsync", f"-{MINUTES}m"])
    conf = SimpleNamespace(cql=None, spaces=(key,), labels=(key,), parent_pages=())
    assert skeleton(postmortem_cql(conf, None))[1] == [key, key]  # type: ignore[arg-type]


@pytest.mark.parametrize("key", ["OPS-1", "PLAT-377", "A1-9", "MY_PROJ-12", "AB-1000000"])
def test_jira_keys_are_issue_keys(key: str) -> None:
    assert is_issue_key(key)


@pytest.mark.parametrize("keys", [[], (), "OPS-1", ["OPS-1", ""], ["  "]])
def test_keys_jql_refuses_what_is_no_list_of_keys(keys) -> None:
    with pytest.raises(ValueError):
        keys_jql(keys)


# --- postmortem pages (CQL) ------------------------------------------------------------------------


def test_postmortem_cql_by_default_label_in_last_modified_order() -> None:
    assert postmortem_cql(confluence(), None) == 'type = page and label in ("postmortem") order by lastmodified asc'


def test_postmortem_cql_with_spaces_labels_parents_and_a_window() -> None:
    conf = confluence(spaces=["PM", "OPS"], labels=["postmortem", "pir"], parent_pages=["123", "456"])
    assert postmortem_cql(conf, MINUTES) == (
        'type = page and space in ("PM", "OPS") and label in ("postmortem", "pir") and ancestor in (123, 456)'
        ' and lastmodified >= now("-17m") order by lastmodified asc'
    )


def test_raw_cql_replaces_the_selection_and_is_parenthesised() -> None:
    conf = confluence(spaces=["IGNORED"], cql="space = PM or label = pir")
    assert postmortem_cql(conf, None) == "(space = PM or label = pir) order by lastmodified asc"
    assert postmortem_cql(conf, 60) == (
        '(space = PM or label = pir) and lastmodified >= now("-60m") order by lastmodified asc'
    )


@pytest.mark.parametrize("value", HOSTILE)
def test_postmortem_cql_keeps_hostile_spaces_and_labels_values(value: str) -> None:
    # A stand-in, not ConfluenceSettings: the query must be safe even for values the settings would refuse.
    conf = SimpleNamespace(cql=None, spaces=(value, "PM"), labels=(value,), parent_pages=())
    shape, values = skeleton(postmortem_cql(conf, MINUTES))  # type: ignore[arg-type]
    assert shape == ("type = page and space in (<>, <>) and label in (<>) and lastmodified >= now(<>)"
                     " order by lastmodified asc")
    assert values == [value, "PM", value, "-17m"]


def test_parent_pages_must_be_numeric_ids() -> None:
    conf = SimpleNamespace(cql=None, spaces=(), labels=(), parent_pages=("1) or (type = blogpost",))
    with pytest.raises(ValueError):
        postmortem_cql(conf, None)  # type: ignore[arg-type]
