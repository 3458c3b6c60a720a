"""The "Postmortem quality" section of the summary page (escaped storage XHTML) and its `report --json` shape."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sync.quality import Finding, PageQuality
from sync.storage_text import page_link, xml_text

QUALITY_ROWS = 200  # postmortems listed on the summary page; `report --json` has them all


def _findings_list(findings: Sequence[Finding]) -> str:
    items = "".join(f"<li><code>{xml_text(f.code)}</code> {xml_text(f.sentence)}</li>" for f in findings)
    return f"<ul>{items}</ul>"


def render_quality_section(quality: Sequence[PageQuality] | None) -> str:
    """The section: each postmortem with findings (title link, incident date, codes and sentences); "" when off."""
    if quality is None:
        return ""
    head = ("<h2>Postmortem quality</h2><p>Action items should be specific, measurable, owned and dated, a few "
            "rather than many, and a root cause goes past human error. These postmortems miss some of that "
            "(rules: <code>postmortem-sync</code> docs/quality.md).</p>")
    if not quality:
        return head + "<p>No findings: every postmortem meets the quality rules.</p>"
    rows = "".join(f"<tr><td>{page_link(q.title, q.url)}</td><td>{xml_text(q.incident_date)}</td>"
                   f"<td>{_findings_list(q.findings)}</td></tr>" for q in quality[:QUALITY_ROWS])
    table = f"<table><tbody><tr><th>Postmortem</th><th>Incident date</th><th>Findings</th></tr>{rows}</tbody></table>"
    more = (f"<p>… and {len(quality) - QUALITY_ROWS} more postmortems: <code>postmortem-sync report --json</code> "
            "lists them all.</p>") if len(quality) > QUALITY_ROWS else ""
    return head + table + more


def quality_to_json(quality: Sequence[PageQuality] | None) -> list[dict[str, Any]] | None:
    """The findings per postmortem for `report --json` (None when the checks are off)."""
    if quality is None:
        return None
    return [{"title": q.title, "url": q.url, "page_id": q.page_id,
             "incident_date": q.incident_date.isoformat() if q.incident_date else None,
             "findings": [{"code": f.code, "sentence": f.sentence, "items": list(f.items)} for f in q.findings]}
            for q in quality]
