"""Confluence storage format: parse a page body into an lxml tree and read what the parser needs from it.

A body is a sequence of XHTML elements with undeclared `ac:`/`ri:` prefixes and HTML named entities.
It is wrapped in a root declaring the namespaces, named entities become numeric references, and a body
that is not well-formed is re-parsed leniently (and reported as `malformed`). lxml never loads DTDs or
touches the network here. Tables are laid out in `sync.storage_tables`, action items are found in
`sync.item_locator`, and the surgical write-back edits live in `sync.storage_edits`.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from html.entities import html5 as _HTML5_ENTITIES
from typing import NamedTuple

from lxml import etree

from sync.models import Owner

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
# An unclosed CDATA section or comment runs to the end of the body: matching it there (`|\Z`) keeps the scan
# linear, where a plain `.*?-->` rescans the rest of the body from every unclosed opener (quadratic).
_OPAQUE = r"<!\[CDATA\[.*?(?:\]\]>|\Z)|<!--.*?(?:-->|\Z)"
_ENTITY_OR_OPAQUE = re.compile(_OPAQUE + r"|&([A-Za-z][A-Za-z0-9]*);", re.S)
_STRAY_AMPERSAND = re.compile(_OPAQUE + r"|&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9A-Fa-f]+);)", re.S)
# Characters XML 1.0 forbids, raw or as character references (`&#1;`, `&#x1F;`): libxml2 rejects the raw ones,
# accepts none of the references, and Confluence refuses a page that holds either.
XML_FORBIDDEN_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_FORBIDDEN_REFERENCE = re.compile(
    r"&#(?:0*(?:[0-8]|1[124-9]|2[0-9]|3[01])|[xX]0*(?:[0-8]|[bBcCeEfF]|1[0-9A-Fa-f])"
    r"|0*(?:5529[6-9]|55[3-9][0-9]{2}|56[0-9]{3}|57[0-2][0-9]{2}|573[0-3][0-9]|5734[0-3]|65534|65535)"
    r"|[xX]0*(?:[dD][89a-fA-F][0-9a-fA-F]{2}|[fF]{3}[eEfF]));")
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


def strip_forbidden(text: str) -> str:
    """The text without characters XML 1.0 forbids (raw control characters, lone surrogates, U+FFFE/U+FFFF)."""
    return XML_FORBIDDEN_CHARS.sub("", text)


def wrap_body(body: str, *, strip: bool = True) -> str:
    """The body inside a namespace-declaring root, with HTML named entities made numeric.

    With `strip`, characters XML forbids are dropped, raw or as character references, so no text read from a
    page carries one; without, the body is judged exactly as Confluence would store it.
    """
    body = _LEADING_DECLARATION.sub("", body, count=1).lstrip("\ufeff")
    if strip:
        body = strip_forbidden(body)
        if "&#" in body:
            body = _FORBIDDEN_REFERENCE.sub("", body)
    if "&" in body:
        body = _ENTITY_OR_OPAQUE.sub(_numeric_entity, body)
    return f"{_ROOT_OPEN}{body}</root>"


def parse_well_formed(body: str) -> etree._Element | None:
    """The tree of a body that is well-formed as written (forbidden characters included), or None."""
    return _parse_strict(wrap_body(body, strip=False))


def is_well_formed(body: str) -> bool:
    """True when Confluence would accept the body as storage format: well-formed, no character XML forbids."""
    return parse_well_formed(body) is not None


def _parse_strict(wrapped: str) -> etree._Element | None:
    """The tree of a well-formed wrapped body, or None."""
    try:
        return etree.fromstring(wrapped.encode("utf-8"), _parser(recover=False))
    except (etree.XMLSyntaxError, ValueError, UnicodeError):
        return None


def _parse_lenient(wrapped: str) -> etree._Element:
    """Best-effort tree of a broken body; stray `&` are escaped first (recovery drops later entities)."""
    repaired = _STRAY_AMPERSAND.sub(_escape_stray_ampersand, wrapped)
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
            return collapse_whitespace("".join(child.itertext()))  # type: ignore[arg-type]  # lxml-stubs: str | bytes; lxml yields str
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
    if not len(element) and element.tag != LINK:  # a leaf (most cells and headings): no walk needed
        return collapse_whitespace(element.text or "")
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
    return _iter_outside_task_lists(element, tag) if skip_task_lists else element.iter(tag)


def _iter_outside_task_lists(element: etree._Element, tag: str) -> Iterator[etree._Element]:
    """Descendants with `tag` in document order, not entering task lists below the element."""
    walker = etree.iterwalk(element, events=("start",))
    for _, node in walker:
        if node is not element and node.tag == TASK_LIST:
            walker.skip_subtree()
        elif node.tag == tag:
            yield node


def read_mention(user: etree._Element) -> Owner | None:
    """The person an `ri:user` names (account id, userkey or username) with its link text as display."""
    # Interned: the same few people are named on thousands of pages (one string each, not one per mention).
    account_id = sys.intern(user.get(RI + "account-id") or "") or None
    userkey = sys.intern(user.get(RI + "userkey") or "") or None
    username = sys.intern(user.get(RI + "username") or "") or None
    if not (account_id or userkey or username):
        return None
    link = user.getparent()
    display = None
    if link is not None and link.tag == LINK:
        body = link.find(PLAIN_TEXT_LINK_BODY)
        body = body if body is not None else link.find(LINK_BODY)
        if body is not None:
            display = sys.intern(collapse_whitespace("".join(body.itertext()))) or None  # type: ignore[arg-type]  # lxml-stubs: str | bytes; lxml yields str
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
        return collapse_whitespace("".join(child.itertext())) if child is not None else None  # type: ignore[arg-type]  # lxml-stubs: str | bytes; lxml yields str

    return TaskParts(task_id=own_text(TASK_ID) or "", uuid=own_text(TASK_UUID) or None,
                     status=own_text(TASK_STATUS), body=task.find(TASK_BODY))

