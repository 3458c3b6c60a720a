"""The grammar CQL and JQL share: clauses joined by AND/OR/NOT with parentheses, then ORDER BY.

`parse()` turns a query into a small tree; `compile_where()` turns that tree into one predicate,
asking the language module (cql.py, jql.py) to compile each `field op value` clause. Unsupported
fields and values are therefore rejected before any record is looked at, as the real servers do.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeAlias, TypeVar

T = TypeVar("T")
Predicate = Callable[[T], bool]


class Comparable(Protocol):
    """What a sort key returns: anything `sorted` can order."""

    def __lt__(self, other: Any, /) -> bool: ...


# A sort key for records of type T; None means the record has no value and sorts last.
SortField = Callable[[T], Comparable | None]

_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
      | (?P<op>!=|!~|>=|<=|=|~|>|<)
      | (?P<logic>&&|\|\||&|\||!)
      | (?P<punct>[(),])
      | (?P<word>[^\s"'(),=!~<>&|]+)
    )""",
    re.VERBOSE,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r"}
KEYWORDS = {"and", "or", "not", "in", "is", "empty", "null", "order", "by", "asc", "desc"}


class QuerySyntaxError(ValueError):
    """The query does not parse; `position` is the 1-based character where it went wrong."""

    def __init__(self, message: str, position: int) -> None:
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Value:
    """A literal, a list item or a function call such as now("-5m")."""

    text: str
    quoted: bool = False
    function: str | None = None
    args: tuple[str, ...] = ()

    @property
    def is_empty_keyword(self) -> bool:
        return not self.quoted and self.function is None and self.text.lower() in ("empty", "null")


@dataclass(frozen=True)
class Clause:
    field: str
    op: str  # = != ~ !~ > >= < <= in "not in" is "is not"
    values: tuple[Value, ...]
    position: int


@dataclass(frozen=True)
class And:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    part: Node


Node: TypeAlias = Clause | And | Or | Not


@dataclass(frozen=True)
class OrderBy:
    field: str
    descending: bool


@dataclass(frozen=True)
class Query:
    where: Node | None
    order: tuple[OrderBy, ...]


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "word" and self.text.lower() in words


def tokenize(query: str) -> list[_Token]:
    """Split into strings, operators, logic symbols, punctuation and words."""
    tokens: list[_Token] = []
    index = 0
    while index < len(query):
        if query[index:].strip() == "":
            break
        match = _TOKEN.match(query, index)
        kind = match.lastgroup if match else None  # every alternative is a named group
        if match is None or kind is None:
            rest = query[index:].lstrip()
            position = len(query) - len(rest) + 1
            if rest[0] in "\"'":
                message = f"Unexpected character {rest[0]!r}: the quoted string is not terminated"
                raise QuerySyntaxError(message, position)
            raise QuerySyntaxError(f"Unexpected character {rest[0]!r}", position)
        text = match.group(kind)
        tokens.append(_Token(kind, text, match.start(kind) + 1))
        index = match.end()
    return tokens


def unquote(text: str) -> str:
    """Strip the quotes of a string token and resolve backslash escapes."""
    body, out, index = text[1:-1], [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            index += 1
            char = _ESCAPES.get(body[index], body[index])
        out.append(char)
        index += 1
    return "".join(out)


def parse(query: str) -> Query:
    """Parse a full query (possibly empty, possibly only ORDER BY)."""
    return _Parser(tokenize(query), len(query)).query()


class _Parser:
    def __init__(self, tokens: list[_Token], length: int) -> None:
        self.tokens, self.index, self.length = tokens, 0, length

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.peek()
        if token is None:
            raise QuerySyntaxError("Unexpected end of the query", self.length + 1)
        self.index += 1
        return token

    def at(self, *texts: str) -> bool:
        """Whether the next token is one of these texts (False at the end)."""
        token = self.peek()
        return token is not None and token.text in texts

    def at_keyword(self, *words: str) -> bool:
        """Whether the next token is one of these keywords, in any case (False at the end)."""
        token = self.peek()
        return token is not None and token.is_keyword(*words)

    def fail(self, expected: str) -> QuerySyntaxError:
        token = self.peek()
        if token is None:
            return QuerySyntaxError(f"Expecting {expected} before the end of the query", self.length + 1)
        return QuerySyntaxError(f"Expecting {expected} but got '{token.text}'", token.position)

    def query(self) -> Query:
        where = None
        if self.peek() is not None and not self.at_keyword("order"):
            where = self.or_expr()
        order = self.order_by()
        if self.peek() is not None:
            raise self.fail("either 'OR' or 'AND'")
        return Query(where, order)

    def or_expr(self) -> Node:
        parts = [self.and_expr()]
        while self.at_keyword("or") or self.at("|", "||"):
            self.take()
            parts.append(self.and_expr())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_expr(self) -> Node:
        parts = [self.unary()]
        while self.at_keyword("and") or self.at("&", "&&"):
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node:
        token = self.peek()
        if token is None:
            raise self.fail("a field name")
        if token.is_keyword("not") or token.text == "!":
            self.take()
            return Not(self.unary())
        if token.text == "(":
            self.take()
            inner = self.or_expr()
            if self.peek() is None or self.take().text != ")":
                raise QuerySyntaxError("Expecting ')' before the end of the query", self.length + 1)
            return inner
        return self.clause()

    def clause(self) -> Clause:
        field = self.take()
        if field.kind not in ("word", "string") or field.text.lower() in KEYWORDS:
            self.index -= 1
            raise self.fail("a field name")
        name = unquote(field.text) if field.kind == "string" else field.text
        op = self.operator()
        values = self.value_list() if op in ("in", "not in") else (self.value(),)
        return Clause(name, op, values, field.position)

    def operator(self) -> str:
        token = self.peek()
        if token is not None and token.kind == "op":
            return self.take().text
        if token is not None and token.is_keyword("in"):
            self.take()
            return "in"
        if token is not None and token.is_keyword("not"):
            self.take()
            if self.at_keyword("in"):
                self.take()
                return "not in"
            raise self.fail("'IN' after 'NOT'")
        if token is not None and token.is_keyword("is"):
            self.take()
            if self.at_keyword("not"):
                self.take()
                return "is not"
            return "is"
        raise self.fail("operator")

    def value_list(self) -> tuple[Value, ...]:
        if not self.at("("):
            return (self.value(),)  # a function such as openSprints() may stand for a list
        self.take()
        values = [self.value()]
        while self.at(","):
            self.take()
            values.append(self.value())
        if self.peek() is None or self.take().text != ")":
            raise QuerySyntaxError("Expecting ')' to close the list", self.length + 1)
        return tuple(values)

    def value(self) -> Value:
        token = self.take()
        if token.kind == "string":
            return Value(unquote(token.text), quoted=True)
        if token.kind != "word" or token.text.lower() in KEYWORDS - {"empty", "null"}:
            self.index -= 1
            raise self.fail("a value")
        if self.at("("):
            return Value(token.text, function=token.text.lower(), args=self.function_args())
        return Value(token.text)

    def function_args(self) -> tuple[str, ...]:
        self.take()
        args: list[str] = []
        while self.peek() is not None and not self.at(")"):
            token = self.take()
            if token.text != ",":
                args.append(unquote(token.text) if token.kind == "string" else token.text)
        if self.peek() is None:
            raise QuerySyntaxError("Expecting ')' to close the function call", self.length + 1)
        self.take()
        return tuple(args)

    def order_by(self) -> tuple[OrderBy, ...]:
        if not self.at_keyword("order"):
            return ()
        self.take()
        if not self.at_keyword("by"):
            raise self.fail("'BY' after 'ORDER'")
        self.take()
        items = [self.order_item()]
        while self.at(","):
            self.take()
            items.append(self.order_item())
        return tuple(items)

    def order_item(self) -> OrderBy:
        token = self.take()
        if token.kind not in ("word", "string"):
            self.index -= 1
            raise self.fail("a field name")
        field = unquote(token.text) if token.kind == "string" else token.text
        descending = False
        if self.at_keyword("asc", "desc"):
            descending = self.take().text.lower() == "desc"
        return OrderBy(field, descending)


def compile_where(node: Node | None, compile_clause: Callable[[Clause], Predicate[T]]) -> Predicate[T]:
    """One predicate for the whole WHERE tree; a missing tree matches everything."""
    if node is None:
        return lambda record: True
    if isinstance(node, Clause):
        return compile_clause(node)
    if isinstance(node, Not):
        inner = compile_where(node.part, compile_clause)
        return lambda record: not inner(record)
    parts = [compile_where(part, compile_clause) for part in node.parts]
    if isinstance(node, And):
        return lambda record: all(part(record) for part in parts)
    return lambda record: any(part(record) for part in parts)


class SortKey(Generic[T]):
    """Sort records by several (key function, descending) pairs; None sorts last as Jira does."""

    def __init__(self, keys: list[tuple[SortField[T], bool]]) -> None:
        self.keys = keys

    def sort(self, records: list[T]) -> list[T]:
        ordered = list(records)
        for key, descending in reversed(self.keys):
            keyed = [(key(record), record) for record in ordered]
            present = [(value, record) for value, record in keyed if value is not None]
            present.sort(key=lambda pair: pair[0], reverse=descending)  # stable: ties keep the order later keys gave
            ordered = [record for _, record in present] + [record for value, record in keyed if value is None]
        return ordered
