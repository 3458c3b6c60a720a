"""The opt-in quality panel: an info macro at the top of a postmortem page listing its findings (pure edits).

Like the key write-back, the edit is surgical: our panel is found by its title parameter (`PANEL_TITLE`), its
exact text in the body is replaced or removed, a new one goes in front of everything else, and not one other
character of the page changes. Panels are compared by their text, so a panel Confluence re-serialised (with
macro ids, say) is not rewritten. The panel holds no heading, table or task list: it never adds an item.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from xml.sax.saxutils import escape

from lxml import etree

from sync.quality import Finding
from sync.storage_edits import EditError, scan_elements
from sync.storage_format import MACRO, macro_name, macro_parameter, parse_well_formed, strip_forbidden, text_of

PANEL_TITLE = "Postmortem quality (postmortem-sync)"
_MACRO_TAG = "ac:structured-macro"


def is_panel(element: etree._Element) -> bool:
    """Whether the element is our panel: an info macro titled PANEL_TITLE."""
    return element.tag == MACRO and macro_name(element) == "info" and macro_parameter(element, "title") == PANEL_TITLE


def panel_xml(findings: Sequence[Finding]) -> str:
    """The panel listing the findings, every string escaped."""
    rows = "".join(f"<li><code>{escape(f.code)}</code> {escape(strip_forbidden(f.sentence))}</li>" for f in findings)
    return ('<ac:structured-macro ac:name="info" ac:schema-version="1">'
            f'<ac:parameter ac:name="title">{PANEL_TITLE}</ac:parameter><ac:rich-text-body>'
            "<p>postmortem-sync checked this postmortem against the quality rules and found:</p>"
            f"<ul>{rows}</ul><p>This panel is kept up to date and goes away when the findings do; "
            "edit the postmortem, not the panel.</p></ac:rich-text-body></ac:structured-macro>")


def panel_digest(findings: Sequence[Finding]) -> str:
    """What identifies the panel for these findings ("" for none): the digest of its text."""
    return _digest(text_of(_panel_element(panel_xml(findings)))) if findings else ""


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _panel_element(xml: str) -> etree._Element:
    root = parse_well_formed(xml)
    assert root is not None  # panel_xml escapes everything: always well-formed
    return root[0]


def _panels(body: str) -> tuple[list[tuple[int, int]], str]:
    """The spans of our panels in the body (outermost, in order) and the digest of the first one's text.

    EditError when the body is not well-formed (it is then never edited).
    """
    if PANEL_TITLE not in body:
        return [], ""
    root = parse_well_formed(body)
    if root is None:
        raise EditError("the page body is not well-formed XML; refusing to edit it")
    macros = list(root.iter(MACRO))
    spans = [span for span in scan_elements(body) if span.name == _MACRO_TAG]
    if len(spans) != len(macros):
        raise EditError("cannot locate the macros in the page text safely")
    ours = [(macro, span) for macro, span in zip(macros, spans, strict=True) if is_panel(macro)]
    outer = [(m, s) for m, s in ours if not any(t.start < s.start and s.end <= t.end for _, t in ours)]
    return [(s.start, s.end) for _, s in outer], (_digest(text_of(outer[0][0])) if outer else "")


def current_digest(body: str) -> str:
    """The digest of the panel the body holds now ("" for none); EditError for a body that is not well-formed."""
    return _panels(body)[1]


def with_panel(body: str, findings: Sequence[Finding]) -> str:
    """The body with our panel showing these findings (none: without a panel); the body itself when it already does.

    The panel replaces ours where it is, or goes at the very top; nothing else in the body changes.
    """
    spans, digest = _panels(body)
    wanted = panel_digest(findings)
    if digest == wanted and len(spans) == (1 if findings else 0):
        return body
    insert_at = spans[0][0] if spans else 0
    parts, end = [], 0
    for start, stop in spans:  # cut every panel of ours out (two: a copy pasted by hand)
        parts.append(body[end:start])
        end = stop
    parts.append(body[end:])
    without = "".join(parts)
    edited = without[:insert_at] + (panel_xml(findings) if findings else "") + without[insert_at:]
    if parse_well_formed(edited) is None:  # cannot happen for a well-formed body; never send a broken one
        raise EditError("the edited page body would not be well-formed")
    return edited
