"""Jira's JSON and ours, both ways (pure): issue documents -> `IssueSnapshot`, `IssueFields` -> REST v2 fields.

We write through REST v2 on both deployments, where descriptions and comments are wiki markup (v3
wants ADF documents); text from a page goes in a {noformat} block so that it renders verbatim.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sync.atlassian.transport import parse_time
from sync.models import CommentPart, CreateResult, IssueFields, IssueSnapshot, Link, Owner
from sync.ports import AtlassianError
from sync.storage_format import strip_forbidden

MAX_SUMMARY_LENGTH = 255
STATUS_CATEGORIES = ("new", "indeterminate", "done")

_NOFORMAT = re.compile(r"\{(?=noformat)", re.IGNORECASE)


def wiki_text(text: str) -> str:
    """Plain text as Jira wiki markup that renders verbatim: a {noformat} block, inner tags neutralised.

    Characters XML forbids are dropped: Jira stores and exports issues as XML too.
    """
    text = strip_forbidden(text)
    if not text.strip():
        return ""
    return "{noformat}\n" + _NOFORMAT.sub("{ ", text) + "\n{noformat}"


# Characters that start wiki markup anywhere in a line: links [..|..], macros {..}, tables |, effects
# *bold* _em_ -strike- +ins+ ^sup^ ~sub~ ??cite??, mentions [~..], icons (!) and lists/headings # at a start.
_WIKI_SPECIAL = re.compile(r"([\\\[\]{}|*_\-+^~?!#])")
_URL_UNSAFE = {" ": "%20", "|": "%7C", "[": "%5B", "]": "%5D", "{": "%7B", "}": "%7D"}


def wiki_escape(text: str) -> str:
    """Plain text as inline wiki markup that renders as written: each special character backslash-escaped.

    Line breaks become spaces (a line starting with `h1.` or `bq.` would be markup); XML-forbidden characters go.
    """
    return _WIKI_SPECIAL.sub(r"\\\1", re.sub(r"[\r\n]+", " ", strip_forbidden(text)))


def wiki_url(url: str) -> str:
    """A URL that cannot end a wiki link early (the characters of link markup percent-encoded)."""
    return "".join(_URL_UNSAFE.get(char, char) for char in strip_forbidden(url).strip())


def mention(person: Owner, *, cloud: bool) -> str:
    """A user mention as wiki markup: Cloud `[~accountid:...]`, Data Center `[~username]`; else the name as text."""
    if cloud and person.account_id:
        return f"[~accountid:{person.account_id}]"
    if not cloud and person.username:
        return f"[~{person.username}]"
    return wiki_escape(person.display or person.username or person.account_id or person.userkey or "someone")


def comment_markup(parts: tuple[CommentPart, ...] | list[CommentPart], *, cloud: bool) -> str:
    """A comment given as parts (sync.models.CommentPart) as REST v2 wiki markup."""
    out = []
    for part in parts:
        if isinstance(part, Owner):
            out.append(mention(part, cloud=cloud))
        elif isinstance(part, Link):
            out.append(f"[{wiki_escape(part.text)}|{wiki_url(part.url)}]")
        else:
            out.append(wiki_escape(part))
    return "".join(out)


def summary_text(text: str) -> str:
    """A valid Jira summary: one line, at most 255 characters."""
    line = " ".join(strip_forbidden(text).split())
    return line if len(line) <= MAX_SUMMARY_LENGTH else line[: MAX_SUMMARY_LENGTH - 1] + "…"


def parse_date(value: str | None) -> date | None:
    """A date from `YYYY-MM-DD`, or None."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def issue_from_json(raw: dict[str, Any], *, cloud: bool) -> IssueSnapshot:
    """An IssueSnapshot from a Jira issue document (v2 or v3; only non-ADF fields are read)."""
    fields = raw.get("fields") or {}
    status = fields.get("status") or {}
    category = (status.get("statusCategory") or {}).get("key")
    assignee = fields.get("assignee") or {}
    return IssueSnapshot(
        key=raw["key"],
        summary=fields.get("summary") or "",
        status=status.get("name") or "",
        status_category=category if category in STATUS_CATEGORIES else "indeterminate",
        labels=tuple(fields.get("labels") or ()),
        assignee=assignee.get("accountId" if cloud else "name"),
        assignee_display=assignee.get("displayName"),
        due=parse_date(fields.get("duedate")),
        priority=(fields.get("priority") or {}).get("name"),
        issue_type=(fields.get("issuetype") or {}).get("name"),
        project=(fields.get("project") or {}).get("key"),
        created=parse_time(fields.get("created")),
        updated=parse_time(fields.get("updated")),
        resolved=parse_time(fields.get("resolutiondate")),
        id=str(raw["id"]) if raw.get("id") is not None else None,
    )


def create_fields(item: IssueFields, *, project: str, assignee: dict[str, Any] | None, cloud: bool) -> dict[str, Any]:
    """The `fields` of one create: item.project or else project; assignee already resolved for the deployment."""
    fields: dict[str, Any] = {
        "project": {"key": item.project or project},
        "issuetype": {"name": item.issue_type},
        "summary": summary_text(item.summary),
    }
    if item.description.strip():
        fields["description"] = wiki_text(item.description)
    if item.labels:
        fields["labels"] = list(item.labels)
    if item.due:
        fields["duedate"] = item.due.isoformat()
    if item.priority:
        fields["priority"] = {"name": item.priority}
    if item.components:
        fields["components"] = [{"name": name} for name in item.components]
    if assignee:
        fields["assignee"] = assignee
    if item.parent_key and cloud:
        fields["parent"] = {"key": item.parent_key}  # Data Center: the agile epic API, after creating
    return fields


def field_change(name: str, value: Any) -> dict[str, Any]:
    """The `fields` entries of one change named like IssueFields; an assignee is the resolved Jira object or None."""
    if name == "summary":
        return {"summary": summary_text(value)}
    if name == "description":
        return {"description": wiki_text(value or "")}
    if name == "due":
        return {"duedate": value.isoformat() if value else None}
    if name == "priority":
        return {"priority": {"name": value} if value else None}
    if name == "components":
        return {"components": [{"name": component} for component in value]}
    if name == "assignee":
        return {"assignee": value}
    raise ValueError(f"unknown issue change {name!r}")


def bulk_results(document: Any, count: int) -> list[CreateResult]:
    """One CreateResult per element of a bulk request, errors placed by `failedElementNumber`."""
    if not isinstance(document, dict) or ("issues" not in document and "errors" not in document):
        raise AtlassianError("bulk create rejected without per-issue errors", status=400)
    failures = {
        int(error["failedElementNumber"]): _element_error(error)
        for error in document.get("errors") or ()
        if error.get("failedElementNumber") is not None
    }
    created = iter(document.get("issues") or ())
    results = []
    for index in range(count):
        if index in failures:
            results.append(CreateResult(key=None, error=failures[index]))
            continue
        issue = next(created, None)
        results.append(CreateResult(key=issue["key"]) if issue else CreateResult(key=None, error="no issue returned"))
    return results


def _element_error(error: dict[str, Any]) -> str:
    details = error.get("elementErrors") or {}
    messages = list(details.get("errorMessages") or [])
    messages += [f"{field}: {text}" for field, text in (details.get("errors") or {}).items()]
    return "; ".join(messages) or f"rejected (HTTP {error.get('status', '?')})"
