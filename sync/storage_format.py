"""Confluence storage format: parse a page body into an lxml tree and read what the parser needs from it.

A body is a sequence of XHTML elements with undeclared `ac:`/`ri:` prefixes and HTML named entities.
It is wrapped in a root declaring the namespaces, named entities become numeric references, and a body
that is not well-formed is re-parsed leniently (and reported as `malformed`). lxml never loads DTDs or
touches the network here. The surgical edits for write-back at the end of this module work on the
original text (located with a small tag scanner), never on a re-serialised tree.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date
from html.entities import html5 as _HTML5_ENTITIES
from typing import NamedTuple

from lxml import etree

from sync.models import Owner
from sync.templates import DEFAULT_TEMPLATES, ColumnMatch, TemplateSpec, best_column_match

AC_NS = "http://www.atlassian.com/schema/confluence/4/ac/"
RI_NS = "http://www.atlassian.com/schema/confluence/4/ri/"
AT_NS = "http://www.atlassian.com/schema/confluence/4/at/"
AC, RI = f"{{{AC_NS}}}", f"{{{RI_NS}}}"

TASK_LIST, TASK, TASK_ID = AC + "task-list", AC + "task", AC + "task-id"
TASK_UUID, TASK_STATUS, TASK_BODY = AC + "task-uuid", AC + "task-status", AC + "task-body"
LINK, LINK_BODY, PLAIN_TEXT_LINK_BODY = AC + "link", AC + "link-body", AC + "plain-text-link-body"
MACRO, PARAMETER = AC + "structured-macro", AC + "parameter"
EMOTICON, PLACEHOLDER = AC + "emoticon", AC + "placeholder"
RI_USER, RI_PAGE, RI_ATTACHMENT = RI + "user", RI + "page", RI + "attachment"
# Cloud wraps some editor nodes in `ac:adf-extension`; the fallback repeats the content for old renderers.
ADF_FALLBACK, ADF_ATTRIBUTE = AC + "adf-fallback", AC + "adf-attribute"
HEADINGS = {f"h{level}": level for level in range(1, 7)}

_ROOT_OPEN = f'<root xmlns:ac="{AC_NS}" xmlns:ri="{RI_NS}" xmlns:at="{AT_NS}">'
_XML_ENTITIES = frozenset({"amp", "lt", "gt", "quot", "apos"})
_ENTITY_OR_OPAQUE = re.compile(r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|&([A-Za-z][A-Za-z0-9]*);", re.S)
_STRAY_AMPERSAND = re.compile(
    r"<!\[CDATA\[.*?\]\]>|<!--.*?-->|&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)", re.S)
_XML_ILLEGAL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_LEADING_DECLARATION = re.compile(r"^\ufeff?\s*<\?xml[^>]*\?>")
_WHITESPACE = re.compile(r"\s+")

BLOCK_TAGS = frozenset({
    "p", "div", "br", "hr", "li", "ul", "ol", "dl", "dt", "dd", "table", "thead", "tbody", "tfoot", "tr",
    "td", "th", "blockquote", "pre", "section", "h1", "h2", "h3", "h4", "h5", "h6", TASK_LIST, TASK,
    TASK_BODY, AC + "layout", AC + "layout-section", AC + "layout-cell", AC + "rich-text-body",
    AC + "plain-text-body",
})
# Elements whose content never counts as text (mentions and jira/status macros are decided per element).
SILENT_TAGS = frozenset({"time", EMOTICON, PLACEHOLDER, PARAMETER, TASK_ID, TASK_UUID, TASK_STATUS,
                         ADF_FALLBACK, ADF_ATTRIBUTE})
SILENT_MACROS = frozenset({"jira", "status"})
_MAX_SPAN = 1000


@dataclass(frozen=True)
class ParsedBody:
    """A parsed page body: the wrapper root and whether lenient recovery was needed."""

    root: etree._Element
    malformed: bool


_parsers = threading.local()


def _parser(recover: bool) -> etree.XMLParser:
    """A per-thread parser that never resolves external entities or touches the network."""
    attribute = "lenient" if recover else "strict"
    parser = getattr(_parsers, attribute, None)
    if parser is None:
        parser = etree.XMLParser(recover=recover, resolve_entities=False, no_network=True, load_dtd=False,
                                 huge_tree=True, remove_blank_text=False)
        setattr(_parsers, attribute, parser)
    return parser


def _numeric_entity(match: re.Match[str]) -> str:
    """A named HTML entity as numeric character references; CDATA, comments and XML's own five untouched."""
    name = match.group(1)
    if name is None or name in _XML_ENTITIES:
        return match.group(0)
    replacement = _HTML5_ENTITIES.get(name + ";")
    if replacement is None:
        return match.group(0)
    return "".join(f"&#{ord(char)};" for char in replacement)


def _escape_stray_ampersand(match: re.Match[str]) -> str:
    """`&amp;` for an ampersand that starts no XML entity or character reference."""
    return match.group(0) if match.group(0) != "&" else "&amp;"


def wrap_body(body: str) -> str:
    """The body inside a namespace-declaring root, with HTML named entities made numeric."""
    body = _LEADING_DECLARATION.sub("", body, count=1).lstrip("\ufeff")
    if "&" in body:
        body = _ENTITY_OR_OPAQUE.sub(_numeric_entity, body)
    return f"{_ROOT_OPEN}{body}</root>"


def _parse_strict(wrapped: str) -> etree._Element | None:
    """The tree of a well-formed wrapped body, or None."""
    try:
        return etree.fromstring(wrapped.encode("utf-8"), _parser(recover=False))
    except (etree.XMLSyntaxError, ValueError, UnicodeError):
        return None


def _parse_lenient(wrapped: str) -> etree._Element:
    """Best-effort tree of a broken body; stray `&` are escaped first (recovery drops later entities)."""
    repaired = _STRAY_AMPERSAND.sub(_escape_stray_ampersand, _XML_ILLEGAL_CHARS.sub("", wrapped))
    try:
        root = etree.fromstring(repaired.encode("utf-8", "replace"), _parser(recover=True))
    except (etree.XMLSyntaxError, ValueError):
        root = None
    return root if root is not None else etree.Element("root")


def parse_storage(body: str) -> ParsedBody:
    """Parse a storage-format body; never raises, reports `malformed` when recovery was needed."""
    wrapped = wrap_body(body)
    root = _parse_strict(wrapped)
    if root is not None:
        return ParsedBody(root, malformed=False)
    return ParsedBody(_parse_lenient(wrapped), malformed=True)


def collapse_whitespace(text: str) -> str:
    """All whitespace runs (U+00A0 included) as one space, trimmed."""
    return _WHITESPACE.sub(" ", text).strip()


def macro_name(element: etree._Element) -> str | None:
    """The `ac:name` of a structured macro."""
    return element.get(AC + "name")


def macro_parameter(macro: etree._Element, name: str) -> str | None:
    """The text of the macro's own `ac:parameter` with that name, or None."""
    for child in macro:
        if child.tag == PARAMETER and child.get(AC + "name") == name:
            return collapse_whitespace("".join(child.itertext()))
    return None


def is_mention(element: etree._Element) -> bool:
    """True for an `ac:link` to a user."""
    return element.tag == LINK and element.find(RI_USER) is not None


def _is_silent(element: etree._Element) -> bool:
    """True when an element contributes no text (mention, time, jira/status macro, emoticon, ...)."""
    tag = element.tag
    if tag in SILENT_TAGS:
        return True
    if tag == LINK:
        return is_mention(element)
    return tag == MACRO and macro_name(element) in SILENT_MACROS


def _bodiless_link_text(link: etree._Element) -> str:
    """What Confluence shows for a link without a link body: the page title or file name."""
    if link.find(PLAIN_TEXT_LINK_BODY) is not None or link.find(LINK_BODY) is not None:
        return ""
    target = link.find(RI_PAGE)
    if target is not None:
        return target.get(RI + "content-title", "")
    target = link.find(RI_ATTACHMENT)
    return target.get(RI + "filename", "") if target is not None else ""


def text_of(element: etree._Element | None, *, skip_task_lists: bool = False) -> str:
    """Plain text per the extraction rules: blocks are whitespace, silent elements contribute nothing."""
    if element is None:
        return ""
    parts: list[str] = []
    walker = etree.iterwalk(element, events=("start", "end", "comment", "pi"))
    for event, node in walker:
        if event in ("comment", "pi"):
            parts.append(node.tail or "")
            continue
        tag = node.tag
        if event == "start":
            if node is not element and (_is_silent(node) or (skip_task_lists and tag == TASK_LIST)):
                walker.skip_subtree()
                continue
            if tag in BLOCK_TAGS:
                parts.append(" ")
            if tag == LINK:
                parts.append(_bodiless_link_text(node))
            parts.append(node.text or "")
        else:
            if tag in BLOCK_TAGS:
                parts.append(" ")
            if node is not element:
                parts.append(node.tail or "")
    return collapse_whitespace("".join(parts))


def iter_own(element: etree._Element, tag: str, *, skip_task_lists: bool = False) -> Iterator[etree._Element]:
    """Descendants with `tag` in document order, optionally not entering nested task lists."""
    if not skip_task_lists:
        yield from element.iter(tag)
        return
    walker = etree.iterwalk(element, events=("start",))
    for _, node in walker:
        if node is not element and node.tag == TASK_LIST:
            walker.skip_subtree()
        elif node.tag == tag:
            yield node


def read_mention(user: etree._Element) -> Owner | None:
    """The person an `ri:user` names (account id, userkey or username) with its link text as display."""
    account_id = user.get(RI + "account-id") or None
    userkey = user.get(RI + "userkey") or None
    username = user.get(RI + "username") or None
    if not (account_id or userkey or username):
        return None
    link = user.getparent()
    display = None
    if link is not None and link.tag == LINK:
        body = link.find(PLAIN_TEXT_LINK_BODY)
        body = body if body is not None else link.find(LINK_BODY)
        if body is not None:
            display = collapse_whitespace("".join(body.itertext())) or None
    return Owner(account_id=account_id, userkey=userkey, username=username, display=display)


def first_mention(element: etree._Element | None, *, skip_task_lists: bool = False) -> Owner | None:
    """The first user mention inside the element, or None."""
    if element is None:
        return None
    for user in iter_own(element, RI_USER, skip_task_lists=skip_task_lists):
        owner = read_mention(user)
        if owner is not None:
            return owner
    return None


def parse_iso_date(value: str | None) -> date | None:
    """The date of a `YYYY-MM-DD...` string, or None."""
    try:
        return date.fromisoformat(value.strip()[:10]) if value else None
    except ValueError:
        return None


def first_time(element: etree._Element | None, *, skip_task_lists: bool = False) -> date | None:
    """The first valid `<time datetime>` date inside the element, or None."""
    if element is None:
        return None
    for time in iter_own(element, "time", skip_task_lists=skip_task_lists):
        found = parse_iso_date(time.get("datetime"))
        if found is not None:
            return found
    return None


def macros_named(element: etree._Element, name: str, *,
                 skip_task_lists: bool = False) -> Iterator[etree._Element]:
    """Structured macros with that `ac:name` inside the element, in document order."""
    return (m for m in iter_own(element, MACRO, skip_task_lists=skip_task_lists) if macro_name(m) == name)


def jira_macro_keys(element: etree._Element | None, *, skip_task_lists: bool = False) -> list[str]:
    """Issue keys of Jira macros inside the element; macros with a JQL query instead of a key are skipped."""
    if element is None:
        return []
    keys = (macro_parameter(m, "key") for m in macros_named(element, "jira", skip_task_lists=skip_task_lists))
    return [key for key in keys if key]


def status_title(element: etree._Element | None) -> str | None:
    """The title of the first status macro (lozenge) inside the element, or None."""
    if element is None:
        return None
    return next((macro_parameter(m, "title") for m in macros_named(element, "status")), None)


def lozenge_or_text(cell: etree._Element | None) -> str:
    """A cell's status-macro title when it holds a lozenge, else its text."""
    title = status_title(cell)
    return title if title else text_of(cell)


_BROWSE_LINK = re.compile(r"/browse/([A-Z][A-Z0-9_]+-[0-9]+)")
_PLAIN_KEY = re.compile(r"(?<![A-Za-z0-9_-])([A-Z][A-Z0-9]+-[0-9]+)(?![A-Za-z0-9_-])")


def reference_key(cell: etree._Element | None) -> str | None:
    """A Jira key referenced by a `/browse/KEY` link target or written as a plain key in the cell."""
    if cell is None:
        return None
    for link in cell.iter("a", RI + "url"):
        match = _BROWSE_LINK.search(link.get("href") or link.get(RI + "value") or "")
        if match:
            return match.group(1)
    match = _PLAIN_KEY.search(text_of(cell))
    return match.group(1) if match else None


# --- tables -----------------------------------------------------------------------------------------


def table_rows(table: etree._Element) -> list[etree._Element]:
    """The table's own `<tr>` rows in document order (header row included, nested tables' rows not)."""
    rows = []
    walker = etree.iterwalk(table, events=("start",))
    for _, node in walker:
        if node is table:
            continue
        if node.tag == "table":
            walker.skip_subtree()
        elif node.tag == "tr":
            rows.append(node)
    return rows


def row_cells(row: etree._Element) -> list[etree._Element]:
    """The row's own `<td>`/`<th>` cells."""
    return [cell for cell in row if cell.tag in ("td", "th")]


def _span(cell: etree._Element, attribute: str) -> int:
    """A cell's colspan/rowspan, clamped to a sane range."""
    try:
        return min(max(int(cell.get(attribute, "1")), 1), _MAX_SPAN)
    except ValueError:
        return 1


@dataclass(frozen=True)
class TableGrid:
    """A table as rows of column slots; a spanning cell fills every slot it covers."""

    rows: tuple[etree._Element, ...]
    slots: tuple[tuple[etree._Element | None, ...], ...]


def table_grid(table: etree._Element) -> TableGrid:
    """Lay out the table's cells on a grid, honouring colspan and rowspan."""
    rows = table_rows(table)
    carried: dict[int, tuple[etree._Element, int]] = {}
    slots = []
    for row in rows:
        line: dict[int, etree._Element] = {}
        for column, (cell, rows_left) in list(carried.items()):
            line[column] = cell
            carried[column] = (cell, rows_left - 1)
            if rows_left == 1:
                del carried[column]
        column = 0
        for cell in row_cells(row):
            while column in line:
                column += 1
            width, height = _span(cell, "colspan"), _span(cell, "rowspan")
            for covered in range(column, column + width):
                line[covered] = cell
                if height > 1:
                    carried[covered] = (cell, height - 1)
            column += width
        slots.append(tuple(line.get(index) for index in range(max(line, default=-1) + 1)))
    return TableGrid(tuple(rows), tuple(slots))


def _is_bold(cell: etree._Element) -> bool:
    """True when all of the cell's text is inside `<strong>`/`<b>`."""
    text = text_of(cell)
    bold = collapse_whitespace(" ".join(text_of(b) for b in cell.iter("strong", "b")))
    return bool(text) and text == bold


def is_header_row(row: etree._Element) -> bool:
    """A `thead` row, or a row whose cells are all `th` or bold `td` (empty cells allowed)."""
    parent = row.getparent()
    if parent is not None and parent.tag == "thead":
        return True
    cells = row_cells(row)
    headed = [cell.tag == "th" or _is_bold(cell) for cell in cells]
    return any(headed) and all(h or not text_of(c) for h, c in zip(headed, cells))


def is_group_label(row: etree._Element, width: int) -> bool:
    """A row made of one cell spanning every column (e.g. "Short term")."""
    cells = row_cells(row)
    return width > 1 and len(cells) == 1 and _span(cells[0], "colspan") >= width


def item_table(table: etree._Element,
               templates: Sequence[TemplateSpec]) -> tuple[TableGrid, ColumnMatch] | None:
    """The grid and column mapping of an action-item table (header row with a summary column)."""
    grid = table_grid(table)
    if not grid.rows or not is_header_row(grid.rows[0]):
        return None
    match = best_column_match(templates, [text_of(cell) for cell in grid.slots[0]])
    return (grid, match) if match is not None else None


class TaskParts(NamedTuple):
    """The parts of one `ac:task`."""

    task_id: str
    uuid: str | None
    status: str | None
    body: etree._Element | None


NO_TASK = TaskParts("", None, None, None)


def task_parts(task: etree._Element | None) -> TaskParts:
    """A task's id, uuid, status and body element (all empty for None)."""
    if task is None:
        return NO_TASK

    def own_text(tag: str) -> str | None:
        child = task.find(tag)
        return collapse_whitespace("".join(child.itertext())) if child is not None else None

    return TaskParts(task_id=own_text(TASK_ID) or "", uuid=own_text(TASK_UUID) or None,
                     status=own_text(TASK_STATUS), body=task.find(TASK_BODY))


# --- surgical edits for write-back ----------------------------------------------------------------


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
            self._by_tag[element.tag] = (same_tag, dict(zip(same_tag, spans)))
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


def jira_macro_xml(issue_key: str) -> str:
    """A Jira issue macro for the key, escaped."""
    key = (issue_key.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
           .replace('"', "&quot;"))
    return ('<ac:structured-macro ac:name="jira" ac:schema-version="1">'
            f'<ac:parameter ac:name="key">{key}</ac:parameter></ac:structured-macro>')


@dataclass(frozen=True)
class EditTarget:
    """One item on the page as the editor sees it: summary, existing keys and where a macro goes."""

    summary: str
    macro_keys: tuple[str, ...]
    reference_key: str | None
    insert_into: etree._Element | None
    separator: str
    checkbox: etree._Element | None


def _slot(slots: tuple[etree._Element | None, ...], column: int | None) -> etree._Element | None:
    """The cell in a column of a grid row, or None."""
    return slots[column] if column is not None and column < len(slots) else None


def _row_target(grid: TableGrid, match: ColumnMatch, row_index: int) -> EditTarget | None:
    """The edit target of one data row, or None for a group-label or empty row.

    The macro goes into the Jira cell, else the summary cell, but never into a cell that also covers other
    rows (rowspan), which would link those rows to the same issue.
    """
    slots = grid.slots[row_index]
    if is_group_label(grid.rows[row_index], len(grid.slots[0])):
        return None
    summary_cell = _slot(slots, match.columns["summary"])
    summary = text_of(summary_cell)
    if summary_cell is None or not summary:
        return None
    jira_cell = _slot(slots, match.columns.get("jira"))
    cells = list(dict.fromkeys(cell for cell in slots if cell is not None))
    own_cells = [cell for cell in (jira_cell, summary_cell, *cells) if cell is not None
                 and cell.getparent() is grid.rows[row_index] and _span(cell, "rowspan") == 1]
    return EditTarget(
        summary=summary,
        macro_keys=tuple(key for cell in cells for key in jira_macro_keys(cell)),
        reference_key=reference_key(jira_cell),
        insert_into=own_cells[0] if own_cells else None,
        separator="",
        checkbox=next((task.find(TASK_STATUS) for task in summary_cell.iter(TASK)), None),
    )


def _task_target(task: etree._Element) -> EditTarget | None:
    """The edit target of one task, or None when it has no body text."""
    task_body = task_parts(task).body
    summary = text_of(task_body, skip_task_lists=True)
    if task_body is None or not summary:
        return None
    return EditTarget(summary, tuple(jira_macro_keys(task_body, skip_task_lists=True)), None, task_body, " ",
                      task.find(TASK_STATUS))


class _Targets:
    """The page's edit targets, looked up by origin; tables and tasks are read once per body."""

    def __init__(self, root: etree._Element, templates: Sequence[TemplateSpec]) -> None:
        self._root, self._templates = root, templates
        self._tables: list[etree._Element] | None = None
        self._item_tables: dict[int, tuple | None] = {}
        self._tasks: dict[str, etree._Element] | None = None
        self._all: list[EditTarget] | None = None

    def at(self, origin: str) -> EditTarget | None:
        """The item at an origin (`row:<table>:<row>` or `task:<id>`), or None."""
        kind, _, rest = origin.partition(":")
        if kind == "task":
            if self._tasks is None:
                self._tasks = {}
                for task in self._root.iter(TASK):
                    self._tasks.setdefault(task_parts(task).task_id, task)
            task = self._tasks.get(rest)
            return _task_target(task) if task is not None else None
        table_text, _, row_text = rest.partition(":")
        if kind != "row" or not (table_text.isdigit() and row_text.isdigit()):
            return None
        if self._tables is None:
            self._tables = list(self._root.iter("table"))
        table_index, row_index = int(table_text), int(row_text)
        if table_index not in self._item_tables:
            self._item_tables[table_index] = (item_table(self._tables[table_index], self._templates)
                                              if table_index < len(self._tables) else None)
        found = self._item_tables[table_index]
        if found is None or not 1 <= row_index < len(found[0].rows):
            return None
        return _row_target(*found, row_index)

    def find(self, origin: str, expected_summary: str | None) -> EditTarget:
        """The item at `origin`; if its summary is not `expected_summary`, the one item that has that summary."""
        target = self.at(origin)
        if expected_summary is None:
            if target is None:
                raise EditTargetNotFound(f"no action item at {origin}")
            return target
        wanted = collapse_whitespace(expected_summary)
        if target is not None and target.summary == wanted:
            return target
        if self._all is None:
            self._all = _all_targets(self._root, self._templates)
        matches = [t for t in self._all if t.summary == wanted]
        if len(matches) != 1:
            raise EditTargetNotFound(f"{len(matches)} action items have the summary {wanted!r} (origin {origin})")
        return matches[0]


def _in_fallback(element: etree._Element) -> bool:
    """True inside an `ac:adf-fallback` copy of content."""
    return next(element.iterancestors(ADF_FALLBACK), None) is not None


def _all_targets(root: etree._Element, templates: Sequence[TemplateSpec]) -> list[EditTarget]:
    """Every row of every action-item table, and every task outside those tables (as the parser sees them)."""
    targets, item_tables = [], set()
    for table in root.iter("table"):
        found = None if _in_fallback(table) else item_table(table, templates)
        if found is not None:
            item_tables.add(table)
            rows = (_row_target(*found, index) for index in range(1, len(found[0].rows)))
            targets += [target for target in rows if target is not None]
    for task in root.iter(TASK):
        if _in_fallback(task) or any(table in item_tables for table in task.iterancestors("table")):
            continue
        target = _task_target(task)
        if target is not None:
            targets.append(target)
    return targets


def find_edit_target(root: etree._Element, origin: str, expected_summary: str | None,
                     templates: Sequence[TemplateSpec]) -> EditTarget:
    """The item at `origin`; if its summary is not `expected_summary`, the one item that has that summary."""
    return _Targets(root, templates).find(origin, expected_summary)


def _well_formed_root(body: str) -> etree._Element:
    """The tree of a body that is safe to edit surgically."""
    root = _parse_strict(wrap_body(body))
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
               templates: Sequence[TemplateSpec] | None = None) -> tuple[str, list[EditError]]:
    """The body with Jira macros added (origin, issue key, expected summary) and tasks ticked (origin,
    expected summary), all from one parse; plus the edits that could not be made, as errors.

    Nothing but the inserted macros and the task statuses changes; the result is checked well-formed.
    """
    root = _well_formed_root(body)
    targets, spans = _Targets(root, templates or DEFAULT_TEMPLATES), _SpanIndex(body, root)
    splices: list[_Splice] = []
    problems: list[EditError] = []
    for origin, issue_key, summary in links:
        try:
            splice = _link_splice(body, targets.find(origin, summary), origin, issue_key, spans)
        except EditError as exc:
            problems.append(exc)
            continue
        splices += [splice] if splice else []
    for origin, summary in completions:
        try:
            splice = _complete_splice(body, targets.find(origin, summary), origin, spans)
        except EditError as exc:
            problems.append(exc)
            continue
        splices += [splice] if splice else []
    return (_checked(_spliced(body, splices)) if splices else body), problems


def _link_splice(body: str, target: EditTarget, origin: str, issue_key: str, spans: _SpanIndex) -> _Splice | None:
    existing = target.macro_keys or ((target.reference_key,) if target.reference_key else ())
    if issue_key in existing:
        return None
    if existing:
        raise EditConflict(f"the item at {origin} already links {existing[0]}")
    if target.insert_into is None:
        raise EditError(f"every cell of the row at {origin} spans other rows; refusing to link them all")
    return _append_splice(body, spans.of(target.insert_into), target.separator + jira_macro_xml(issue_key))


def _complete_splice(body: str, target: EditTarget, origin: str, spans: _SpanIndex) -> _Splice | None:
    if target.checkbox is None:
        raise EditTargetNotFound(f"the item at {origin} has no task status to complete")
    if collapse_whitespace("".join(target.checkbox.itertext())) == "complete":
        return None
    return _content_splice(body, spans.of(target.checkbox), "complete")
