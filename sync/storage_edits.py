"""Surgical write-back edits of a storage-format body: a Jira macro into an item, a tick into a task.

The edits work on the original text, never on a re-serialised tree: the item is found with the same
locator the parser uses (`sync.item_locator`, with the same templates), its elements are matched to their
offsets in the text by a small tag scanner, and only the inserted macro or the task status changes.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from lxml import etree

from sync.item_locator import LocatedItem, PageItems, locate_items, macro_keys
from sync.jira_macro import JiraServer, page_server
from sync.jira_macro import jira_macro_xml as jira_macro_xml  # where report and tests have always found it
from sync.storage_format import TASK_STATUS, collapse_whitespace, parse_well_formed, reference_key
from sync.storage_tables import cell_span
from sync.templates import DEFAULT_TEMPLATES, TemplateSpec


class EditError(Exception):
    """A write-back edit could not be made safely; the caller keeps the page as it was."""


class EditTargetNotFound(EditError):
    """The item to edit is no longer on the page, or no longer has the expected summary."""


class EditConflict(EditError):
    """The item already links a different Jira issue."""


_TAG = re.compile(
    r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|<\?.*?\?>|<!(?:[^>\"']|\"[^\"]*\"|'[^']*')*>"
    r"|<(/?)([A-Za-z_][\w:.-]*)((?:[^>\"']|\"[^\"]*\"|'[^']*')*?)(/?)>",
    re.S,
)


@dataclass
class ElementSpan:
    """Where one element sits in the original text: tag start, content start/end, tag end."""

    name: str
    start: int
    content_start: int
    content_end: int = -1
    end: int = -1
    self_closing: bool = False


def scan_elements(body: str) -> list[ElementSpan]:
    """Every element of a well-formed body with its offsets, in document order; CDATA and comments skipped."""
    spans: list[ElementSpan] = []
    open_spans: list[ElementSpan] = []
    for match in _TAG.finditer(body):
        closing, name, _, empty = match.groups()
        if name is None:
            continue
        if closing:
            while open_spans:
                span = open_spans.pop()
                if span.name == name:
                    span.content_end, span.end = match.start(), match.end()
                    break
            continue
        span = ElementSpan(name, match.start(), match.end())
        spans.append(span)
        if empty:
            span.content_end = span.end = match.end()
            span.self_closing = True
        else:
            open_spans.append(span)
    return spans


def _source_name(element: etree._Element) -> str:
    """The element's tag as written in the body (`ac:task-body`, `td`)."""
    local = etree.QName(element).localname
    return f"{element.prefix}:{local}" if element.prefix else local


class _SpanIndex:
    """Element -> its text span, for one body and its tree; each tag's elements are matched once."""

    def __init__(self, body: str, root: etree._Element) -> None:
        self._body, self._root = body, root
        self._by_name: dict[str, list[ElementSpan]] = {}
        for span in scan_elements(body):
            self._by_name.setdefault(span.name, []).append(span)
        self._by_tag: dict[str, tuple[list[etree._Element], dict[etree._Element, ElementSpan]]] = {}

    def of(self, element: etree._Element) -> ElementSpan:
        """The span of a tree element, matched by its ordinal among elements of the same tag."""
        if element.tag not in self._by_tag:
            same_tag = list(self._root.iter(element.tag))  # kept, so the element proxies stay the same objects
            name = _source_name(element)
            spans = self._by_name.get(name, [])
            if len(spans) != len(same_tag):
                raise EditError(f"cannot locate <{name}> in the page text safely")
            self._by_tag[element.tag] = (same_tag, dict(zip(same_tag, spans, strict=True)))
        return self._by_tag[element.tag][1][element]


@dataclass(frozen=True)
class _Splice:
    """Replace body[start:end] with text."""

    start: int
    end: int
    text: str


def _append_splice(body: str, span: ElementSpan, fragment: str) -> _Splice:
    """Append `fragment` to the element's content."""
    if span.self_closing:
        opening = body[span.start:span.end][:-2].rstrip()
        return _Splice(span.start, span.end, f"{opening}>{fragment}</{span.name}>")
    return _Splice(span.content_end, span.content_end, fragment)


def _content_splice(body: str, span: ElementSpan, text: str) -> _Splice:
    """Replace the element's content with `text`."""
    if span.self_closing:
        opening = body[span.start:span.end][:-2].rstrip()
        return _Splice(span.start, span.end, f"{opening}>{text}</{span.name}>")
    return _Splice(span.content_start, span.content_end, text)


def _spliced(body: str, splices: Sequence[_Splice]) -> str:
    """The body with every splice made; they must not overlap (inserts at one point are fine)."""
    parts, end = [], len(body)
    for splice in sorted(splices, key=lambda s: (s.start, s.end), reverse=True):
        if splice.end > end:
            raise EditError("two edits overlap in the page text")
        parts += [body[splice.end:end], splice.text]
        end = splice.start
    parts.append(body[:end])
    return "".join(reversed(parts))


def _target(page: PageItems, origin: str, expected_summary: str | None) -> LocatedItem:
    """The item at `origin`; if its summary is not `expected_summary`, the one item that has that summary."""
    item = page.at(origin)
    if expected_summary is None:
        if item is None:
            raise EditTargetNotFound(f"no action item at {origin}")
        return item
    wanted = collapse_whitespace(expected_summary)
    if item is not None and item.summary == wanted:
        return item
    matches = [candidate for candidate in page.items if candidate.summary == wanted]
    if len(matches) != 1:
        raise EditTargetNotFound(f"{len(matches)} action items have the summary {wanted!r} (origin {origin})")
    return matches[0]


def _macro_home(item: LocatedItem) -> etree._Element | None:
    """Where a Jira macro goes: a task's body; a row's Jira cell, else its summary cell, else another cell.

    Never a cell that also covers other rows (rowspan), which would link those rows to the same issue.
    """
    if item.is_task:
        return item.parts.body
    row = item.element
    candidates = (item.columns.get("jira"), item.columns["summary"], *item.cells)
    return next((cell for cell in candidates if cell is not None and cell.getparent() is row
                 and cell_span(cell, "rowspan") == 1), None)


def _well_formed_root(body: str) -> etree._Element:
    """The tree of a body that is safe to edit surgically."""
    root = parse_well_formed(body)
    if root is None:
        raise EditError("the page body is not well-formed XML; refusing to edit it")
    return root


def _checked(edited: str) -> str:
    """The edited body, after confirming it is still well-formed."""
    _well_formed_root(edited)
    return edited


def insert_jira_macro(body: str, origin: str, issue_key: str, *, expected_summary: str | None = None,
                      templates: Sequence[TemplateSpec] | None = None) -> str:
    """The body with a Jira macro for `issue_key` added to the item's Jira cell, summary cell or task body."""
    edited, problems = edit_items(body, links=[(origin, issue_key, expected_summary)], templates=templates)
    if problems:
        raise problems[0]
    return edited


def mark_task_complete(body: str, origin: str, *, expected_summary: str | None = None,
                       templates: Sequence[TemplateSpec] | None = None) -> str:
    """The body with the item's task status set to `complete` (a task, or the checkbox in a row)."""
    edited, problems = edit_items(body, completions=[(origin, expected_summary)], templates=templates)
    if problems:
        raise problems[0]
    return edited


def edit_items(body: str, links: Sequence[tuple[str, str, str | None]] = (),
               completions: Sequence[tuple[str, str | None]] = (),
               templates: Sequence[TemplateSpec] | None = None, *, server: JiraServer | None = None,
               projects: Collection[str] = ()) -> tuple[str, list[EditError]]:
    """The body with Jira macros added (origin, issue key, expected summary) and tasks ticked (origin,
    expected summary), all from one parse; plus the edits that could not be made, as errors.

    The macros name `server` (the configured Jira link), else the link the page's macros for issues of
    `projects` agree on, else none. Nothing but the inserted macros and the task statuses changes; the
    result is checked well-formed.
    """
    root = _well_formed_root(body)
    page, spans = locate_items(root, templates or DEFAULT_TEMPLATES), _SpanIndex(body, root)
    server = (server or page_server(root, projects)) if links else None
    splices: list[_Splice] = []
    problems: list[EditError] = []
    for origin, issue_key, summary in links:
        try:
            splice = _link_splice(body, _target(page, origin, summary), origin, issue_key, spans, server)
        except EditError as exc:
            problems.append(exc)
            continue
        splices += [splice] if splice else []
    for origin, summary in completions:
        try:
            splice = _complete_splice(body, _target(page, origin, summary), origin, spans)
        except EditError as exc:
            problems.append(exc)
            continue
        splices += [splice] if splice else []
    return (_checked(_spliced(body, splices)) if splices else body), problems


def _link_splice(body: str, item: LocatedItem, origin: str, issue_key: str, spans: _SpanIndex,
                 server: JiraServer | None = None) -> _Splice | None:
    """The insertion of a Jira macro for `issue_key`; None when the item already links it."""
    reference = reference_key(item.columns.get("jira"))
    existing = tuple(macro_keys(item)) or ((reference,) if reference else ())
    if issue_key in existing:
        return None
    if existing:
        raise EditConflict(f"the item at {origin} already links {existing[0]}")
    home = _macro_home(item)
    if home is None:
        raise EditError(f"every cell of the row at {origin} spans other rows; refusing to link them all")
    separator = " " if item.is_task else ""
    return _append_splice(body, spans.of(home), separator + jira_macro_xml(issue_key, server))


def _complete_splice(body: str, item: LocatedItem, origin: str, spans: _SpanIndex) -> _Splice | None:
    """The tick of the item's task status; None when it is already complete."""
    checkbox = item.task.find(TASK_STATUS) if item.task is not None else None
    if checkbox is None:
        raise EditTargetNotFound(f"the item at {origin} has no task status to complete")
    # lxml-stubs type itertext() as str | bytes; lxml yields str for parsed text on Python 3.
    if collapse_whitespace("".join(checkbox.itertext())) == "complete":  # type: ignore[arg-type]
        return None
    return _content_splice(body, spans.of(checkbox), "complete")
