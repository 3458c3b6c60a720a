"""Text written into Confluence storage format: escaped, and without the characters XML forbids (one would
make the whole page ill-formed and Confluence refuse it)."""

from __future__ import annotations

from xml.sax.saxutils import escape

from sync.storage_format import strip_forbidden


def xml_text(value: object) -> str:
    """XML-escaped text (None: empty)."""
    return escape(strip_forbidden("" if value is None else str(value)))


def xml_attr(value: str) -> str:
    """A double-quoted XML attribute value, every special character escaped."""
    return '"' + escape(strip_forbidden(value), {'"': "&quot;"}) + '"'


def page_link(title: str, url: str | None) -> str:
    """A link to a page (its URL as Confluence gave it), else its title."""
    if not url:
        return xml_text(title)
    return f"<a href={xml_attr(url)}>{xml_text(title)}</a>"
