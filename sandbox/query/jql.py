"""The JQL subset the sandbox answers; anything else gets Jira's 400 naming what is not supported.

Fields: project, labels, key/issuekey/id, status, statusCategory, issuetype, priority, assignee,
reporter, parent ("Epic Link" on Data Center), sprint, resolution, summary/text (~), and the dates
created, updated, resolutiondate (resolved) and duedate (due). Operators = != IN/NOT IN, date
comparisons with "yyyy-MM-dd[ HH:mm]", "yyyy/MM/dd[ HH:mm]", relative periods (-5m, "-2d") or
now()/startOfDay(), an unquoted number as epoch milliseconds, IS [NOT] EMPTY, AND/OR/NOT and
parentheses; ORDER BY any of those fields. As in Jira, `!=` and NOT IN never match an empty field, and
a date literal is wall time in the searching account's time zone (startOfDay() is its midnight).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, time, tzinfo

from sandbox.directory import User, UserDirectory
from sandbox.http.errors import ApiError, jira_error
from sandbox.jira.catalog import ISSUE_TYPES, OPS, PRIORITIES, STATUS_CATEGORIES, STATUSES, Catalogued, Sprint
from sandbox.jira.store import Issue
from sandbox.query.grammar import Clause, QuerySyntaxError, SortField, SortKey, Value, compile_where, parse
from sandbox.timefmt import parse_absolute, parse_relative, start_of_day

_REAL_BUT_UNSUPPORTED = {
    "affectedversion", "attachments", "category", "comment", "component", "creator", "description",
    "environment", "epic name", "filter", "fixversion", "issue.property", "issuelink", "labels[]",
    "lastviewed", "level", "originalestimate", "project.property", "remaining estimate", "statuscategorychangedate",
    "timespent", "votes", "voter", "watchers", "watcher", "worklogauthor", "worklogcomment", "worklogdate",
}
_DATE_FORMATS = (
    "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', or a period format e.g. '-5d', '4w 2d'"
)


@dataclass(frozen=True)
class JqlContext:
    directory: UserDirectory
    current_user: User
    now: datetime
    is_cloud: bool
    sprints: dict[int, Sprint]
    issue_exists: Callable[[str], bool]
    zone: tzinfo = UTC  # the searching account's profile zone: date literals are read in it


@dataclass(frozen=True)
class CompiledJql:
    matches: Callable[[Issue], bool]
    sort: SortKey[Issue]
    bounded: bool


def jql_error(detail: str) -> ApiError:
    return jira_error(400, f"Error in the JQL Query: {detail}")


def compile_jql(jql: str, context: JqlContext) -> CompiledJql:
    """Parse and compile, or raise Jira's 400."""
    try:
        query = parse(jql)
    except QuerySyntaxError as exc:
        raise jql_error(f"{exc}. (line 1, character {exc.position})") from None
    compiler = _ClauseCompiler(context)
    matches = compile_where(query.where, compiler.compile)
    keys = [(compiler.order_key(item.field), item.descending) for item in query.order]
    return CompiledJql(matches, SortKey(keys or [(lambda issue: int(issue.id), True)]), query.where is not None)


class _ClauseCompiler:
    def __init__(self, context: JqlContext) -> None:
        self.context = context

    def compile(self, clause: Clause) -> Callable[[Issue], bool]:
        field = _canonical(clause.field)
        if field in _SET_FIELDS:
            return self._membership(clause, field)
        if field in _DATE_FIELDS:
            return self._date(clause, field)
        if field in ("summary", "text"):
            return self._text(clause)
        if field in _REAL_BUT_UNSUPPORTED or field.startswith("cf["):
            raise jql_error(f"the sandbox does not support the field '{clause.field}'.")
        raise jira_error(400, f"Field '{clause.field}' does not exist or you do not have permission to view it.")

    def _membership(self, clause: Clause, field: str) -> Callable[[Issue], bool]:
        values_of = _SET_FIELDS[field]
        if clause.op in ("is", "is not"):
            # "Unresolved" is how JQL names an empty resolution, so it does not count as a value here.
            return _emptiness(clause, lambda issue: values_of(issue, self.context) - {"unresolved"})
        if clause.op not in ("=", "!=", "in", "not in"):
            raise jira_error(400, f"The operator '{clause.op}' is not supported by the '{clause.field}' field.")
        wanted: set[str] = set()
        for value in clause.values:
            wanted |= self._resolve(field, clause.field, value)
        if clause.op in ("=", "in"):
            return lambda issue: bool(values_of(issue, self.context) & wanted)
        return lambda issue: bool(values_of(issue, self.context)) and not values_of(issue, self.context) & wanted

    def _resolve(self, field: str, written_field: str, value: Value) -> set[str]:
        """The normalised values a literal stands for; unknown names get Jira's 'does not exist'."""
        if value.function == "currentuser" and field in ("assignee", "reporter"):
            return {self.context.current_user.account_id.lower()}
        if value.function in ("opensprints", "futuresprints", "closedsprints") and field == "sprint":
            # openSprints() covers active and future sprints, as in Jira
            states = {"opensprints": ("active", "future"), "futuresprints": ("future",), "closedsprints": ("closed",)}
            return {str(s.id) for s in self.context.sprints.values() if s.state in states[value.function]}
        if value.function is not None:
            raise jql_error(f"the sandbox does not support the function '{value.text}()' for '{written_field}'.")
        if field == "key" and not self.context.issue_exists(value.text):
            raise jira_error(400, f"An issue with key '{value.text}' does not exist for field '{written_field}'.")
        resolved = _LOOKUPS[field](value.text, self.context) if field in _LOOKUPS else {value.text.lower()}
        if not resolved:
            raise jira_error(400, f"The value '{value.text}' does not exist for the field '{written_field}'.")
        return resolved

    def _date(self, clause: Clause, field: str) -> Callable[[Issue], bool]:
        stamp = _DATE_FIELDS[field]
        if clause.op in ("is", "is not"):
            return _emptiness(clause, lambda issue: {"x"} if stamp(issue) else set())
        if clause.op not in ("=", "!=", ">", ">=", "<", "<="):
            raise jira_error(400, f"The operator '{clause.op}' is not supported by the '{clause.field}' field.")
        return _compare(clause.op, stamp, self._instant(clause.values[0], clause.field))

    def _instant(self, value: Value, written_field: str) -> datetime:
        if value.function == "now":
            return self.context.now
        if value.function == "startofday":
            return start_of_day(self.context.now, self.context.zone)
        if value.function is None and not value.quoted and value.text.isdigit():
            return datetime.fromtimestamp(int(value.text) / 1000, UTC)  # Jira reads a bare number as epoch ms
        if value.function is None:
            offset = parse_relative(value.text)
            if offset is not None:
                return self.context.now + offset
            parsed = parse_absolute(value.text, self.context.zone)
            if parsed is not None:
                return parsed[0]
        invalid = f"Date value '{value.text}' for field '{written_field}' is invalid."
        raise jira_error(400, f"{invalid} Valid formats include: {_DATE_FORMATS}.")

    def _text(self, clause: Clause) -> Callable[[Issue], bool]:
        if clause.op not in ("~", "!~"):
            raise jira_error(400, f"The operator '{clause.op}' is not supported by the '{clause.field}' field.")
        terms = [t.strip("*").lower() for t in clause.values[0].text.split() if t.strip("*")]

        def found(issue: Issue) -> bool:
            return all(t in issue.summary.lower() for t in terms)

        return found if clause.op == "~" else (lambda issue: not found(issue))

    def order_key(self, field: str) -> SortField[Issue]:
        name = _canonical(field)
        if name in _DATE_FIELDS:
            return _DATE_FIELDS[name]
        orders: dict[str, SortField[Issue]] = {
            "key": lambda i: int(i.id), "id": lambda i: int(i.id),
            "priority": lambda i: -int(i.priority.id), "status": lambda i: i.status.name,
            "summary": lambda i: i.summary.lower(), "issuetype": lambda i: i.issuetype.name,
            "assignee": lambda i: i.assignee.display_name if i.assignee else None,
            "project": lambda i: i.project.key,
        }
        if name not in orders:
            raise jql_error(f"the sandbox cannot order by '{field}'.")
        return orders[name]


def _canonical(field: str) -> str:
    name = field.lower()
    return {"issuekey": "key", "type": "issuetype", "resolved": "resolutiondate", "due": "duedate",
            "epic link": "parent", "cf[10101]": "parent"}.get(name, name)


def _emptiness(clause: Clause, values_of: Callable[[Issue], set[str]]) -> Callable[[Issue], bool]:
    if not clause.values[0].is_empty_keyword:
        raise jql_error(f"Expecting 'EMPTY' after '{clause.op.upper()}' for '{clause.field}'.")
    if clause.op == "is":
        return lambda issue: not values_of(issue)
    return lambda issue: bool(values_of(issue))


def _compare(op: str, moment: Callable[[Issue], datetime | None], instant: datetime) -> Callable[[Issue], bool]:
    checks: dict[str, Callable[[datetime], bool]] = {
        "=": lambda m: m == instant, "!=": lambda m: m != instant,
        ">": lambda m: m > instant, ">=": lambda m: m >= instant,
        "<": lambda m: m < instant, "<=": lambda m: m <= instant,
    }
    check = checks[op]

    def matches(issue: Issue) -> bool:
        value = moment(issue)
        return value is not None and check(value)

    return matches


def _key_values(issue: Issue) -> set[str]:
    """Its id, key and the keys it had before a move (Jira's JQL still finds a moved issue by those)."""
    return {issue.id, issue.key.lower(), *(key.lower() for key in issue.former_keys)}


def _user_values(user: User | None) -> set[str]:
    if user is None:
        return set()
    return {user.account_id.lower(), user.username.lower(), user.jira_key.lower(), user.email.lower()}


def _lookup_user(text: str, context: JqlContext) -> set[str]:
    by_email = next((u for u in context.directory.all() if u.email.lower() == text.lower()), None)
    user = (context.directory.by_account_id(text) or context.directory.by_jira_key(text)
            or context.directory.by_username(text) or by_email)
    return {user.account_id.lower()} if user else set()


_Lookup = Callable[[str, JqlContext], set[str]]


def _lookup_named(items: Iterable[Catalogued], attribute: str = "name") -> _Lookup:
    def lookup(text: str, context: JqlContext) -> set[str]:
        return {str(i.id) for i in items if text.lower() in (str(i.id).lower(), str(getattr(i, attribute)).lower())}
    return lookup


def _lookup_category(text: str, context: JqlContext) -> set[str]:
    needle = text.lower()
    return {c.key for c in STATUS_CATEGORIES if needle in (c.key, c.name.lower(), str(c.id))}


def _lookup_project(text: str, context: JqlContext) -> set[str]:
    return {OPS.key.lower()} if text.lower() in (OPS.key.lower(), OPS.name.lower(), OPS.id) else set()


def _lookup_resolution(text: str, context: JqlContext) -> set[str]:
    return {text.lower()} if text.lower() in ("done", "unresolved") else set()


def _lookup_sprint(text: str, context: JqlContext) -> set[str]:
    return {str(s.id) for s in context.sprints.values() if text.lower() in (str(s.id), s.name.lower())}


_SET_FIELDS: dict[str, Callable[[Issue, JqlContext], set[str]]] = {
    "project": lambda i, c: {i.project.key.lower()},
    "labels": lambda i, c: {label.lower() for label in i.labels},  # stored verbatim, compared case-folded
    "key": lambda i, c: _key_values(i),
    "id": lambda i, c: _key_values(i),
    "status": lambda i, c: {i.status.id},
    "statuscategory": lambda i, c: {i.status.category.key},
    "issuetype": lambda i, c: {i.issuetype.id},
    "priority": lambda i, c: {i.priority.id},
    "assignee": lambda i, c: _user_values(i.assignee),
    "reporter": lambda i, c: _user_values(i.reporter),
    "parent": lambda i, c: {i.parent_key.lower()} if i.parent_key else set(),
    "sprint": lambda i, c: {str(s) for s in i.sprint_ids},
    "resolution": lambda i, c: {"done"} if i.resolutiondate else {"unresolved"},
}
_LOOKUPS: dict[str, _Lookup] = {
    "project": _lookup_project,
    "status": _lookup_named(STATUSES),
    "statuscategory": _lookup_category,
    "issuetype": _lookup_named(ISSUE_TYPES),
    "priority": _lookup_named(PRIORITIES),
    "assignee": _lookup_user,
    "reporter": _lookup_user,
    "resolution": _lookup_resolution,
    "sprint": _lookup_sprint,
}
_DATE_FIELDS: dict[str, Callable[[Issue], datetime | None]] = {
    "created": lambda i: i.created,
    "updated": lambda i: i.updated,
    "resolutiondate": lambda i: i.resolutiondate,
    "duedate": lambda i: datetime.combine(i.duedate, time(), UTC) if i.duedate else None,
}
