"""The summary page the metrics render to (escaped storage XHTML), the report's JSON and its terminal table.

The page is a list of sections (`SECTIONS`), each a function of the metrics; the same metrics give the
same text, so an unchanged cycle plans no write (`plan_summary`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict
from datetime import date
from typing import Any

from sync.metrics import Metrics, Tally, TrendMonth
from sync.models import Owner, SummaryPage, WriteSummary
from sync.quality_report import quality_to_json, render_quality_section
from sync.storage_edits import jira_macro_xml
from sync.storage_text import page_link, xml_attr, xml_text

TABLE_ROWS = 200  # rows per table on the summary page; the CLI report has them all


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def _lozenge(title: str, colour: str) -> str:
    return ('<ac:structured-macro ac:name="status" ac:schema-version="1">'
            f'<ac:parameter ac:name="colour">{colour}</ac:parameter>'
            f'<ac:parameter ac:name="title">{xml_text(title)}</ac:parameter></ac:structured-macro>')


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{xml_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tbody><tr>{head}</tr>{body}</tbody></table>"


def _tally_cells(tally: Tally) -> list[str]:
    return [f"{tally.done}/{tally.total}", percent(tally.rate), str(tally.overdue)]


def _owner_cell(label: str, mentions: Mapping[str, Owner]) -> str:
    """A user mention where the owner is a known person (Confluence renders the name), else the text.

    The page's own link text, when it has one, goes along: it names even someone Confluence no longer knows.
    """
    owner = mentions.get(label)
    if owner is None:
        return xml_text(label)
    text = f"<ac:link-body>{xml_text(owner.display)}</ac:link-body>" if owner.display else ""
    for attribute, value in (("ri:account-id", owner.account_id), ("ri:userkey", owner.userkey),
                             ("ri:username", owner.username)):
        if value:
            return f"<ac:link><ri:user {attribute}={xml_attr(value)} />{text}</ac:link>"
    return xml_text(label)


def _status(tally: Tally) -> str:
    if tally.total and tally.done == tally.total:
        return _lozenge("DONE", "Green")
    return _lozenge("OVERDUE", "Red") if tally.overdue else _lozenge("OPEN", "Yellow")


def _intro(m: Metrics) -> str:
    return (f"<p>Completion of postmortem action items as of {m.as_of.isoformat()}, kept up to date by "
            "postmortem-sync. Edit the postmortems, not this page: it is rewritten when the numbers change.</p>")


def _overview(m: Metrics) -> str:
    return "<h2>Overview</h2>" + _table(
        ("Completion", "On time", "Open", "Done", "Overdue", "Median days to close"), [[
            percent(m.completion_rate), percent(m.on_time_rate), str(m.open), str(m.done), str(m.overdue),
            "n/a" if m.median_days_to_close is None else f"{m.median_days_to_close:g}"]])


def _by_postmortem(m: Metrics) -> str:
    archived = " " + _lozenge("ARCHIVED", "Grey")
    rows = [[page_link(p.title, p.url) + (archived if p.archived else ""), xml_text(p.incident_date),
             xml_text(p.severity), *_tally_cells(p.tally), _status(p.tally)] for p in m.postmortems[:TABLE_ROWS]]
    return ("<h2>By postmortem</h2>"
            + _table(("Postmortem", "Incident date", "Severity", "Done", "Rate", "Overdue", "Status"), rows)
            + _more(len(m.postmortems), "postmortems, older ones"))


def _by_owner(m: Metrics) -> str:
    mentions = dict(m.mentions)
    rows = [[_owner_cell(n, mentions), *_tally_cells(t)] for n, t in m.by_owner[:TABLE_ROWS]]
    return "<h2>By owner</h2>" + _table(("Owner", "Done", "Rate", "Overdue"), rows) + _more(len(m.by_owner), "owners")


def _by_team_and_type(m: Metrics) -> str:
    return ("<h2>By team or service</h2>"
            + _table(("Team", "Done", "Rate", "Overdue"), [[xml_text(n), *_tally_cells(t)] for n, t in m.by_team])
            + "<h2>By type</h2>"
            + _table(("Type", "Done", "Rate", "Overdue"), [[xml_text(n), *_tally_cells(t)] for n, t in m.by_type]))


def _by_theme(m: Metrics) -> str:
    if not m.by_theme:
        return ("<h2>By theme</h2><p>No themes yet: label postmortems (a label other than the one that finds "
                "them) or name the service in their page properties.</p>")
    rows = [[xml_text(t.theme), str(t.postmortems), *_tally_cells(t.tally)] for t in m.by_theme[:TABLE_ROWS]]
    return ("<h2>By theme</h2>" + _table(("Theme", "Postmortems", "Done", "Rate", "Overdue"), rows)
            + _more(len(m.by_theme), "themes"))


def _recurring(m: Metrics) -> str:
    if not m.recurring:
        return "<h2>Recurring</h2><p>No theme had two incidents within the recurrence window.</p>"
    rows = []
    for recurrence in m.recurring[:TABLE_ROWS]:
        for n, incident in enumerate(recurrence.incidents):
            before = {True: _lozenge("ALL DONE BEFORE NEXT", "Green"), False: _lozenge("NOT DONE BEFORE NEXT", "Red"),
                      None: ""}[incident.done_before_next]
            rows.append([xml_text(recurrence.theme) if n == 0 else "", xml_text(incident.date),
                         page_link(incident.title, incident.url), f"{incident.done}/{incident.items}", before])
    return ("<h2>Recurring</h2><p>Themes with two or more incidents within the recurrence window, oldest first: "
            "were the earlier postmortem's items all done before the next incident?</p>"
            + _table(("Theme", "Incident", "Postmortem", "Done now", "Before the next incident"), rows)
            + _more(len(m.recurring), "themes"))


def _aging_section(m: Metrics) -> str:
    return "<h2>Aging of open items</h2>" + _table(("Age", "Open items"),
                                                   [[xml_text(label), str(count)] for label, count in m.aging])


def _trend(m: Metrics) -> str:
    """The chart by the postmortem's month, and the table beside it with each month's completion now."""
    chart_rows = [[xml_text(t.month), str(t.items), str(t.done), str(t.done_on_time)] for t in m.trend]
    chart = ('<ac:structured-macro ac:name="chart" ac:schema-version="1">'
             '<ac:parameter ac:name="type">bar</ac:parameter>'
             '<ac:parameter ac:name="title">Action items by month of the postmortem</ac:parameter>'
             '<ac:parameter ac:name="dataOrientation">vertical</ac:parameter>'
             f'<ac:rich-text-body>{_table(("Month", "Items", "Done", "Done on time"), chart_rows)}'
             '</ac:rich-text-body></ac:structured-macro>')
    return ("<h2>Monthly trend</h2><p>Items by the month of their postmortem (incident date, else page creation), "
            "and how many are done now.</p>" + chart + _trend_table(m.trend))


def _trend_table(trend: Sequence[TrendMonth]) -> str:
    return _table(("Month", "Items", "Done", "Done on time", "Completion now"),
                  [[xml_text(t.month), str(t.items), str(t.done), str(t.done_on_time), percent(t.completion)]
                   for t in trend])


def _needs_attention(m: Metrics) -> str:
    if not m.attention:
        return ("<h2>Needs attention</h2>"
                "<p>Nothing: every open item has an owner and a due date, and none is overdue.</p>")
    mentions = dict(m.mentions)
    rows = [[xml_text(a.reason), jira_macro_xml(a.issue_key) if a.issue_key else "", xml_text(a.summary),
             _owner_cell(a.owner, mentions) if a.owner else "", page_link(a.page_title, a.page_url)]
            for a in m.attention[:TABLE_ROWS]]
    return ("<h2>Needs attention</h2>" + _table(("Reason", "Issue", "Action item", "Owner", "Postmortem"), rows)
            + _more(len(m.attention), "items"))


def _foreign_issues(m: Metrics) -> str:
    """The issues pages name outside the managed projects, each a Jira macro (Confluence links it)."""
    if not m.foreign:
        return ""
    rows = [[jira_macro_xml(key), xml_text(summary), xml_text(title)] for key, summary, title in m.foreign[:TABLE_ROWS]]
    return ("<h2>Issues outside the managed projects</h2><p>postmortem-sync does not write to these issues.</p>"
            + _table(("Issue", "Action item", "Postmortem"), rows) + _more(len(m.foreign), "issues"))


# The page's sections in order; a new section is a function (Metrics) -> storage XHTML added here ("" for none).
def _quality(m: Metrics) -> str:
    return render_quality_section(m.quality)


SECTIONS: tuple[Callable[[Metrics], str], ...] = (
    _intro, _overview, _by_postmortem, _by_owner, _by_team_and_type, _by_theme, _recurring, _aging_section, _trend,
    _needs_attention, _quality, _foreign_issues,
)


def render_summary_page(metrics: Metrics, *, scope: str | None = None) -> str:
    """The summary page body (a scoped page says its scope first); every user-supplied string escaped; same
    metrics give the same text."""
    parts = [f"<p>Scope: {xml_text(scope)}.</p>" if scope else "", *(section(metrics) for section in SECTIONS)]
    return "\n".join(part for part in parts if part)


def plan_summary(metrics: Metrics, where: SummaryPage | None, meta: Mapping[str, str]) -> WriteSummary | None:
    """The summary page write, when the page is on and its content changed since it was last written."""
    if where is None:
        return None
    body = render_summary_page(metrics)
    digest = body_digest(body)
    if meta.get("summary_digest") == digest and meta.get("summary_page_id"):
        return None
    return WriteSummary(where, body, digest)


def body_digest(body: str) -> str:
    """What identifies a rendered body: a changed digest means the page must be written."""
    return hashlib.sha256(body.encode()).hexdigest()


def _more(count: int, what: str) -> str:
    """The note under a table cut at TABLE_ROWS rows (10,000 rows help nobody and near Confluence's limits)."""
    if count <= TABLE_ROWS:
        return ""
    return (f"<p>… and {count - TABLE_ROWS} more {xml_text(what)}: <code>postmortem-sync report</code> lists them "
            "all.</p>")


def metrics_to_json(metrics: Metrics) -> dict[str, Any]:
    """The metrics as JSON-able data for `report --json`."""
    def convert(value: Any) -> Any:
        if isinstance(value, date):
            return value.isoformat()
        if isinstance(value, dict):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [convert(v) for v in value]
        return value
    data: dict[str, Any] = convert(asdict(metrics))
    for name in ("by_owner", "by_team", "by_type"):
        data[name] = [{"name": n, **t, "rate": Tally(**t).rate} for n, t in data[name]]
    data["by_theme"] = [{"theme": t["theme"], "postmortems": t["postmortems"], **t["tally"],
                         "rate": Tally(**t["tally"]).rate} for t in data["by_theme"]]
    data["trend"] = [{**t, "completion": TrendMonth(**t).completion} for t in data["trend"]]
    data["mentions"] = [{"name": n, **o} for n, o in data["mentions"]]
    data["quality"] = quality_to_json(metrics.quality)
    return data


def render_report_table(metrics: Metrics) -> str:
    """A terminal rendering of the headline numbers, the per-postmortem table, recurring themes and attention."""
    m = metrics
    lines = [
        (f"as of {m.as_of}: {m.done}/{m.total} done ({percent(m.completion_rate)}), on time {percent(m.on_time_rate)}, "
         f"open {m.open}, overdue {m.overdue}, median days to close "
         f"{'n/a' if m.median_days_to_close is None else f'{m.median_days_to_close:g}'}"),
        "",
    ]
    for p in m.postmortems:
        lines.append(f"  {p.tally.done:>3}/{p.tally.total:<3} {percent(p.tally.rate):>5}  "
                     f"overdue {p.tally.overdue:<3} {p.title[:70]}{' (archived)' if p.archived else ''}")
    for r in m.recurring:
        lines += ["", f"recurring theme {r.theme}:"] + [
            f"  {i.date}  {i.done}/{i.items} done  {i.title[:60]}"
            + {True: "  (all done before the next)", False: "  (not all done before the next)", None: ""}[
                i.done_before_next] for i in r.incidents]
    if m.attention:
        lines += ["", "needs attention:"] + [f"  {a.reason}: {a.summary[:70]} ({a.page_title[:40]})"
                                             for a in m.attention]
    return "\n".join(lines)
