"""Jira's two text forms: v2 wiki strings and v3 Atlassian Document Format (ADF), converted both ways.

The conversion is deliberately plain (paragraphs and text); Jira's own converter keeps more
markup, but the daemon only needs text to survive a round trip between API versions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


def is_adf_doc(value: Any) -> bool:
    """True for a top-level ADF document: {"type": "doc", "version": 1, "content": [...]}."""
    return (
        isinstance(value, dict)
        and value.get("type") == "doc"
        and value.get("version") == 1
        and isinstance(value.get("content"), list)
    )


def wiki_to_adf(text: str) -> dict[str, Any]:
    """Blank-line separated paragraphs become ADF paragraphs; single newlines become hard breaks."""
    content = []
    for block in (b for b in text.replace("\r\n", "\n").split("\n\n") if b.strip()):
        inline: list[dict[str, Any]] = []
        for index, line in enumerate(block.split("\n")):
            if index:
                inline.append({"type": "hardBreak"})
            if line:
                inline.append({"type": "text", "text": line})
        content.append({"type": "paragraph", "content": inline})
    return {"type": "doc", "version": 1, "content": content}


def adf_to_wiki(doc: dict[str, Any]) -> str:
    """Block nodes become paragraphs separated by blank lines; inline text is concatenated."""
    return "\n\n".join(block for block in (_block_text(node) for node in doc.get("content", [])) if block)


def _block_text(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "text":
        return str(node.get("text", ""))
    if kind == "hardBreak":
        return "\n"
    if kind in ("mention", "emoji", "status", "date", "inlineCard"):
        attrs = node.get("attrs", {})
        return str(attrs.get("text") or attrs.get("shortName") or attrs.get("url") or attrs.get("timestamp") or "")
    children = node.get("content", [])
    separator = "\n" if kind in ("bulletList", "orderedList", "listItem", "table", "tableRow") else ""
    return separator.join(_block_text(child) for child in children)


@dataclass(frozen=True)
class RichText:
    """A description or comment as it was sent, readable in either API version."""

    wiki: str | None = None
    adf: dict[str, Any] | None = None

    def as_wiki(self) -> str:
        return self.wiki if self.wiki is not None else adf_to_wiki(self.adf or {})

    def as_adf(self) -> dict[str, Any]:
        return self.adf if self.adf is not None else wiki_to_adf(self.wiki or "")

    def for_version(self, api_version: str) -> str | dict[str, Any]:
        """v3 answers ADF, v2 a wiki string."""
        return self.as_adf() if api_version == "3" else self.as_wiki()
