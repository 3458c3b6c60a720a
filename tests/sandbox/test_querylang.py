"""The shared CQL/JQL grammar and CQL semantics, without HTTP."""

from __future__ import annotations

from datetime import timedelta

import pytest

from sandbox.confluence.store import ConfluenceStore
from sandbox.directory import API_USER
from sandbox.http.errors import ApiError
from sandbox.query.cql import compile_cql
from sandbox.query.grammar import And, Clause, Not, Or, QuerySyntaxError, parse
from sandbox.timefmt import utcnow


def test_grammar_precedence_lists_functions_and_order():
    query = parse('a = 1 OR NOT (b in ("x y", z) AND c >= now("-5m")) ORDER BY lastmodified DESC, title')
    assert isinstance(query.where, Or)
    negated = query.where.parts[1]
    assert isinstance(negated, Not) and isinstance(negated.part, And)
    in_clause, date_clause = negated.part.parts
    assert in_clause == Clause("b", "in", in_clause.values, in_clause.position)
    assert [v.text for v in in_clause.values] == ["x y", "z"] and in_clause.values[0].quoted
    assert date_clause.values[0].function == "now" and date_clause.values[0].args == ("-5m",)
    assert [(o.field, o.descending) for o in query.order] == [("lastmodified", True), ("title", False)]


def test_escapes_symbols_and_keywords():
    query = parse(r'summary ~ "say \"hi\"" && labels not in (a) || status is not EMPTY')
    assert isinstance(query.where, Or)
    assert query.where.parts[0].parts[0].values[0].text == 'say "hi"'
    assert query.where.parts[0].parts[1].op == "not in"
    assert query.where.parts[1].op == "is not" and query.where.parts[1].values[0].is_empty_keyword


@pytest.mark.parametrize("text, position", [("a = ", 5), ("(a = 1", 7), ("a 1", 3), ("a = 1 b = 2", 7), ('a = "x', 5)])
def test_syntax_errors_point_at_the_character(text, position):
    with pytest.raises(QuerySyntaxError) as error:
        parse(text)
    assert error.value.position == position


@pytest.fixture
def pages():
    store = ConfluenceStore()
    store.add_space("PM", "Postmortems")
    start = utcnow() - timedelta(days=2)
    root = store.create_page("PM", "Postmortems", "<p/>", API_USER, when=start)
    first = store.create_page("PM", "DB failover", "<p>orders-db</p>", API_USER, parent_id=root.id,
                              when=start + timedelta(hours=1))
    second = store.create_page("PM", "TLS expiry", "<p>cert</p>", API_USER, parent_id=first.id,
                               when=start + timedelta(days=1, hours=23))
    store.add_labels(first.id, [("global", "postmortem")])
    store.add_labels(second.id, [("global", "postmortem"), ("global", "tls")])
    return store, root, first, second


def _titles(store, cql):
    compiled = compile_cql(cql, store, API_USER, utcnow())
    return [p.title for p in compiled.sort.sort([p for p in store.pages.values() if compiled.matches(p)])]


@pytest.mark.parametrize("cql, expected", [
    ("label = postmortem", ["DB failover", "TLS expiry"]),
    ("label = postmortem AND label != tls", ["DB failover"]),
    ("ancestor = {root}", ["DB failover", "TLS expiry"]),
    ("parent = {root}", ["DB failover"]),
    ("id in ({root}, {second}) ORDER BY title DESC", ["TLS expiry", "Postmortems"]),
    ('title ~ "fail*"', ["DB failover"]),
    ('text ~ "orders-db"', ["DB failover"]),
    ('lastmodified >= now("-2h") ORDER BY lastmodified', ["TLS expiry"]),
    ("created < now('-1d') ORDER BY created DESC", ["DB failover", "Postmortems"]),
    ("type = page AND space.key = pm AND creator = currentUser()", ["Postmortems", "DB failover", "TLS expiry"]),
])
def test_cql_fields(pages, cql, expected):
    store, root, _first, second = pages
    assert _titles(store, cql.format(root=root.id, second=second.id)) == expected


def test_cql_dates_match_the_minute_or_day_given(pages):
    store, _root, first, second = pages
    minute = first.created.strftime("%Y-%m-%d %H:%M")
    day = second.created.strftime("%Y/%m/%d")
    assert _titles(store, f'created = "{minute}"') == ["DB failover"]
    assert "TLS expiry" in _titles(store, f'created = "{day}"')


@pytest.mark.parametrize("cql, fragment", [
    ("", "needs at least one clause"), ("label ~ x", "operator '~' is not supported"),
    ('lastmodified > "last week"', "is not a date"), ("space = PM ORDER BY colour", "cannot order by"),
    ("title = x AND startOfMonth() = 1", "Could not parse cql"),
])
def test_cql_errors(pages, cql, fragment):
    with pytest.raises(ApiError) as error:
        _titles(pages[0], cql)
    assert error.value.reply.status == 400 and fragment in error.value.reply.body.decode()
