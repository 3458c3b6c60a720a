"""The root-cause text of a postmortem page: its "Root cause" / "Contributing factors" sections (pure reading).

A section runs from its heading to the next heading of the same or a higher level. Page-properties rows
whose key names a root cause count too. The text feeds the `human-error-root-cause` rule (sync.quality).
"""

from __future__ import annotations

import re

from lxml import etree

from sync.quality_panel import is_panel
from sync.storage_format import HEADINGS, MACRO, collapse_whitespace, macro_name, text_of
from sync.storage_tables import row_cells

MAX_CHARS = 20_000  # what a page's root-cause text may take in the parsed page (and the cache)

_NUMBERING = re.compile(r"^(?:\d+(?:\.\d+)*|[ivx]+)[.):]?\s+", re.I)
_ROOT_CAUSE_HEADING = re.compile(
    r"(?:the\s+)?(?:root[\s-]+causes?|contributing\s+factors?|causes?|why\s+(?:did\s+)?(?:it|this)\s+happen(?:ed)?)\b",
    re.I)


_KEYWORDS = ("cause", "factor", "why")


def _mentions_a_cause(element: etree._Element) -> bool:
    """Whether the element's raw text (libxml2's text serialisation, fast) has a word a root-cause heading needs."""
    raw = etree.tostring(element, method="text", encoding=str, with_tail=False).lower()
    return any(word in raw for word in _KEYWORDS)


def _names_root_cause(element: etree._Element) -> bool:
    """Whether a heading or key cell opens a root-cause section (the cheap look at its raw text first)."""
    return _mentions_a_cause(element) and is_root_cause_heading(text_of(element))


def is_root_cause_heading(text: str) -> bool:
    """Whether a heading (or page-properties key) opens a root-cause section: "Root cause(s)", "Contributing
    factors", "Causes", "Why did it happen", with or without numbering and trailing punctuation."""
    return _ROOT_CAUSE_HEADING.match(_NUMBERING.sub("", collapse_whitespace(text))) is not None


def _has_heading(element: etree._Element) -> bool:
    return next(element.iter(*HEADINGS), None) is not None


def read_root_cause(root: etree._Element) -> str:
    """The text of the page-properties rows naming a root cause, then of every root-cause section in document
    order; at most MAX_CHARS."""
    if not _mentions_a_cause(root):  # one pass in libxml2: most pages of the parse budget end here
        return ""
    parts = [row for macro in root.iter(MACRO) if macro_name(macro) == "details" for row in _details_rows(macro)]
    if not any(_names_root_cause(heading) for heading in root.iter(*HEADINGS)):
        return " ".join(part for part in parts if part)[:MAX_CHARS]  # most pages: no walk needed
    level: int | None = None  # the level of the root-cause heading whose section we are in
    walker = etree.iterwalk(root, events=("start",))
    for _, element in walker:
        if element is root:
            continue
        if is_panel(element):  # our own panel is never page text
            walker.skip_subtree()
        elif element.tag in HEADINGS:
            if level is None or HEADINGS[element.tag] <= level:
                level = HEADINGS[element.tag] if _names_root_cause(element) else None
            walker.skip_subtree()
        elif element.tag == MACRO and macro_name(element) == "details":  # read above
            walker.skip_subtree()
        elif not _has_heading(element):  # taken whole, or passed over whole: only containers of headings are entered
            if level is not None:
                parts.append(text_of(element))
            walker.skip_subtree()
    return " ".join(part for part in parts if part)[:MAX_CHARS]


def _details_rows(macro: etree._Element) -> list[str]:
    """The values of page-properties rows whose key names a root cause."""
    found = []
    for row in macro.iter("tr"):
        cells = row_cells(row)
        if len(cells) >= 2 and _names_root_cause(cells[0]):
            found.append(text_of(cells[1]))
    return found
