"""The CQL subset the sandbox answers: what the daemon's page discovery needs, and a clear 400 otherwise.

Supported fields: type, space (space.key), label, ancestor, parent, id/content, title (= != ~ !~),
text (~ !~), creator, contributor, created and lastmodified (= != > >= < <= with "YYYY-MM-DD[ HH:MM]"
or now("-5m") / startOfDay()); AND/OR/NOT, parentheses, IN/NOT IN; ORDER BY lastmodified, created,
title or id. Date literals are read as wall time in the zone given (the site's or the user's: reports
disagree on which a real site uses, so the sandbox lets you choose); now() and startOfDay() are the server's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from sandbox.confluence.model import Page
from sandbox.confluence.store import ConfluenceStore
from sandbox.directory import User
from sandbox.http.errors import ApiError, confluence_error
from sandbox.query.grammar import Clause, QuerySyntaxError, SortField, SortKey, Value, compile_where, parse
from sandbox.timefmt import parse_absolute, parse_relative, start_of_day

# Fields real CQL knows (developer.atlassian.com/cloud/confluence/cql-fields) that the sandbox does not answer.
_REAL_BUT_UNSUPPORTED = {
    "container", "content.property", "favourite", "favorite", "label.name", "macro", "mention",
    "space.title", "space.type", "watcher", "siteSearch", "space.category",
}
_EQUALITY = ("=", "!=", "in", "not in")
_DATE_OPS = ("=", "!=", ">", ">=", "<", "<=")


@dataclass(frozen=True)
class CompiledCql:
    matches: Callable[[Page], bool]
    sort: SortKey[Page]


def compile_cql(cql: str, store: ConfluenceStore, current_user: User, now: datetime,
                zone: tzinfo = UTC) -> CompiledCql:
    """Parse and compile, or raise Confluence's 400; date literals are read in `zone`."""
    try:
        query = parse(cql)
    except QuerySyntaxError as exc:
        raise _bad(cql, f"{exc} (character {exc.position})") from None
    if query.where is None:
        raise _bad(cql, "a CQL query needs at least one clause")
    compiler = _ClauseCompiler(cql, store, current_user, now, zone)
    matches = compile_where(query.where, compiler.compile)
    keys = [(compiler.order_key(item.field), item.descending) for item in query.order]
    return CompiledCql(matches, SortKey(keys or [(lambda page: int(page.id), False)]))


def _bad(cql: str, detail: str) -> ApiError:
    return confluence_error(400, f"Could not parse cql : {cql} ({detail})")


class _ClauseCompiler:
    def __init__(self, cql: str, store: ConfluenceStore, current_user: User, now: datetime, zone: tzinfo) -> None:
        self.cql, self.store, self.current_user, self.now, self.zone = cql, store, current_user, now, zone

    def compile(self, clause: Clause) -> Callable[[Page], bool]:
        field = clause.field.lower()
        simple = self._simple_fields().get(field)
        if simple is not None:
            return self._membership(clause, simple)
        if field in ("title", "text"):
            return self._text(clause, field)
        if field in ("created", "lastmodified"):
            return self._date(clause, field)
        if field in {f.lower() for f in _REAL_BUT_UNSUPPORTED}:
            raise _bad(self.cql, f"the sandbox does not support the field '{clause.field}'")
        raise confluence_error(400, f"No field exists with the name: '{clause.field}'")

    def _simple_fields(self) -> dict[str, Callable[[Page], set[str]]]:
        """Fields compared by equality; each gives the set of normalised values a page has."""
        return {
            "type": lambda page: {"page"},
            "space": lambda page: {page.space_key.lower()},
            "space.key": lambda page: {page.space_key.lower()},
            "label": lambda page: {label.name for label in page.labels},
            "ancestor": lambda page: {a.id for a in self.store.ancestors(page)},
            "parent": lambda page: {page.parent_id} if page.parent_id else set(),
            "id": lambda page: {page.id},
            "content": lambda page: {page.id},
            "creator": lambda page: _user_ids(page.created_by),
            "contributor": lambda page: set().union(*(_user_ids(v.by) for v in page.versions)),
        }

    def _membership(self, clause: Clause, values_of: Callable[[Page], set[str]]) -> Callable[[Page], bool]:
        if clause.op not in _EQUALITY:
            raise _bad(self.cql, f"operator '{clause.op}' is not supported for '{clause.field}'")
        wanted = {self._literal(value) for value in clause.values}
        if clause.op in ("=", "in"):
            return lambda page: bool(values_of(page) & wanted)
        return lambda page: not values_of(page) & wanted

    def _literal(self, value: Value) -> str:
        if value.function == "currentuser":
            return self.current_user.account_id.lower()
        if value.function is not None:
            raise _bad(self.cql, f"the sandbox does not support the function '{value.text}()' here")
        return value.text.lower()

    def _text(self, clause: Clause, field: str) -> Callable[[Page], bool]:
        allowed = ("~", "!~") if field == "text" else ("=", "!=", "~", "!~", "in", "not in")
        if clause.op not in allowed:
            raise _bad(self.cql, f"operator '{clause.op}' is not supported for '{clause.field}'")
        source = (lambda page: page.title) if field == "title" else (lambda page: f"{page.title} {page.body}")
        wanted = [value.text for value in clause.values]
        if clause.op in ("~", "!~"):
            terms = [term.strip("*").lower() for term in wanted[0].split() if term.strip("*")]

            def contains(page: Page) -> bool:
                return all(term in source(page).lower() for term in terms)

            return contains if clause.op == "~" else (lambda page: not contains(page))
        folded = {text.casefold() for text in wanted}
        if clause.op in ("=", "in"):
            return lambda page: page.title.casefold() in folded
        return lambda page: page.title.casefold() not in folded

    def _date(self, clause: Clause, field: str) -> Callable[[Page], bool]:
        if clause.op not in _DATE_OPS:
            raise _bad(self.cql, f"operator '{clause.op}' is not supported for '{clause.field}'")
        instant, precision = self._instant(clause.values[0])
        stamp = (lambda page: page.created) if field == "created" else (lambda page: page.last_modified)
        return _compare(clause.op, stamp, instant, precision)

    def _instant(self, value: Value) -> tuple[datetime, timedelta | None]:
        """The moment a date value names, and the precision `=` compares at (None: exact)."""
        if value.function == "now":
            offset = parse_relative(value.args[0]) if value.args else timedelta(0)
            if offset is None:
                raise _bad(self.cql, f"invalid period '{value.args[0]}' in now()")
            return self.now + offset, None
        if value.function == "startofday":
            return start_of_day(self.now, self.zone), None
        if value.function is not None:
            raise _bad(self.cql, f"the sandbox does not support the function '{value.text}()'")
        parsed = parse_absolute(value.text, self.zone)
        if parsed is None:
            raise _bad(self.cql, f"'{value.text}' is not a date: use \"yyyy-MM-dd\" or \"yyyy-MM-dd HH:mm\"")
        moment, whole_day = parsed
        return moment, timedelta(days=1) if whole_day else timedelta(minutes=1)

    def order_key(self, field: str) -> SortField[Page]:
        keys: dict[str, SortField[Page]] = {
            "lastmodified": lambda page: page.last_modified,
            "created": lambda page: page.created,
            "title": lambda page: page.title.casefold(),
            "id": lambda page: int(page.id),
        }
        if field.lower() not in keys:
            raise _bad(self.cql, f"the sandbox cannot order by '{field}'")
        return keys[field.lower()]


def _user_ids(user: User) -> set[str]:
    return {user.account_id.lower(), user.username.lower(), user.userkey.lower()}


def _compare(op: str, stamp: Callable[[Page], datetime], instant: datetime,
             precision: timedelta | None) -> Callable[[Page], bool]:
    """Comparisons on full timestamps; `=`/`!=` match anything inside the literal's minute or day."""
    upper = instant + precision if precision else None
    if op in ("=", "!="):
        def inside(p: Page) -> bool:
            return instant <= stamp(p) < upper if upper else stamp(p) == instant

        return inside if op == "=" else (lambda p: not inside(p))
    return {
        ">": lambda p: stamp(p) > instant,
        ">=": lambda p: stamp(p) >= instant,
        "<": lambda p: stamp(p) < instant,
        "<=": lambda p: stamp(p) <= instant,
    }[op]
