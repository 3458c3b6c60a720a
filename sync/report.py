"""Completion metrics (pure) and the summary page they render to, in escaped storage XHTML."""

from __future__ import annotations

import hashlib
import statistics
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from sync.identity import page_item_keys, tracked_by_issue
from sync.models import IssueSnapshot, ItemRecord, Owner, Postmortem, SummaryPage, WriteSummary
from sync.quality import PageQuality
from sync.quality_report import quality_to_json, render_quality_section
from sync.query import is_issue_key
from sync.state import IssueLink
from sync.storage_edits import jira_macro_xml
from sync.storage_format import strip_forbidden

TABLE_ROWS = 200  # rows per table on the summary page; the CLI report has them all
AGING_BUCKETS = ((0, 30, "0-30 days"), (31, 60, "31-60 days"), (61, 90, "61-90 days"), (91, 10**6, "over 90 days"))


@dataclass(frozen=True)
class TrackedItem:
    """One action item joined with its page and its Jira issue (if any)."""

    page_title: str
    page_url: str | None
    incident_date: date | None
    severity: str | None
    team: str | None
    summary: str
    owner: str | None
    due: date | None
    type: str | None
    issue_key: str | None
    done: bool
    created: date | None
    resolved: date | None
    owner_mention: Owner | None = None  # rendered as a Confluence user mention, which shows the name


@dataclass(frozen=True)
class Tally:
    total: int = 0
    done: int = 0
    overdue: int = 0

    @property
    def rate(self) -> float | None:
        return self.done / self.total if self.total else None


@dataclass(frozen=True)
class PostmortemRow:
    title: str
    url: str | None
    incident_date: date | None
    severity: str | None
    tally: Tally


@dataclass(frozen=True)
class Metrics:
    as_of: date
    total: int
    done: int
    open: int
    overdue: int
    completion_rate: float | None
    on_time_rate: float | None
    median_days_to_close: float | None
    postmortems: tuple[PostmortemRow, ...]
    by_owner: tuple[tuple[str, Tally], ...]
    by_team: tuple[tuple[str, Tally], ...]
    by_type: tuple[tuple[str, Tally], ...]
    aging: tuple[tuple[str, int], ...]
    trend: tuple[tuple[str, int, int], ...]  # (YYYY-MM, created, resolved)
    attention: tuple[tuple[str, str, str], ...] = field(default=())  # (reason, summary, page title)
    mentions: tuple[tuple[str, Owner], ...] = field(default=())  # owner label -> the person's mention
    foreign: tuple[tuple[str, str, str], ...] = field(default=())  # (issue key, summary, page title): not our projects
    quality: tuple[PageQuality, ...] | None = None  # postmortems with quality findings (sync.quality); None: off


def tracked_items(pages: Iterable[Postmortem], records: Mapping[str, ItemRecord | IssueLink],
                  issues: Mapping[str, IssueSnapshot]) -> list[TrackedItem]:
    """Join every item of every known page with its record and issue."""
    rows = []
    tracked = tracked_by_issue(records.values())
    names = {s.assignee: s.assignee_display for s in issues.values() if s.assignee and s.assignee_display}
    for pm in pages:
        for item, key in zip(pm.items, page_item_keys(pm.page_id or "", pm.items, tracked), strict=True):
            record = records.get(key)
            issue_key = item.jira_key or (record.issue_key if record else None)
            issue = issues.get(issue_key) if issue_key else None
            rows.append(TrackedItem(
                page_title=pm.title, page_url=pm.url, incident_date=pm.meta.incident_date,
                severity=pm.meta.severity, team=pm.meta.team or pm.meta.service, summary=item.summary,
                owner=owner_label(item.owner, issue, names), due=item.due, type=item.type, issue_key=issue_key,
                done=issue.is_done if issue else bool(item.done),
                created=issue.created.date() if issue and issue.created else None,
                resolved=issue.resolved.date() if issue and issue.resolved else None,
                owner_mention=item.owner if item.owner and item.owner.is_mention else None,
            ))
    return rows


def _is_overdue(row: TrackedItem, today: date) -> bool:
    return not row.done and row.due is not None and row.due < today


def _tally(rows: Sequence[TrackedItem], today: date) -> Tally:
    return Tally(len(rows), sum(r.done for r in rows), sum(_is_overdue(r, today) for r in rows))


def owner_label(owner: Owner | None, issue: IssueSnapshot | None, names: Mapping[str, str]) -> str | None:
    """Who an item belongs to, the same for every item of one person whatever snapshot its issue has.

    A mention on the page is the person (named as Jira names that id anywhere, else by the id); without
    one, Jira's assignee, else the page's plain-text owner.
    """
    if owner is not None and owner.is_mention:
        ident = owner.account_id or owner.username or owner.userkey
        return names.get(ident or "") or owner.display or ident
    if issue is not None and issue.assignee_display:
        return issue.assignee_display
    return owner.display if owner else None


def _grouped(rows: Sequence[TrackedItem], key: Callable[[TrackedItem], str | None],
             today: date) -> tuple[tuple[str, Tally], ...]:
    groups: dict[str, list[TrackedItem]] = defaultdict(list)
    for row in rows:
        groups[key(row) or "(none)"].append(row)
    return tuple((name, _tally(group, today)) for name, group in sorted(groups.items()))


def _months(today: date, count: int = 12) -> list[str]:
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def compute_metrics(rows: Sequence[TrackedItem], today: date, *, managed: Collection[str] = ()) -> Metrics:
    """Completion, timeliness, breakdowns, aging and trend of all items (and those outside `managed` projects)."""
    done = [r for r in rows if r.done]
    open_rows = [r for r in rows if not r.done]
    closed_with_due = [r for r in done if r.due and r.resolved]
    days_to_close = [(r.resolved - r.created).days for r in done if r.resolved and r.created]
    by_page: dict[tuple[str, str | None, date | None, str | None], list[TrackedItem]] = defaultdict(list)
    for r in rows:
        by_page[(r.page_title, r.page_url, r.incident_date, r.severity)].append(r)
    postmortems = tuple(PostmortemRow(t, u, d, s, _tally(g, today))
                        for (t, u, d, s), g in sorted(by_page.items(), key=lambda kv: (kv[0][2] or date.min, kv[0][0]),
                                                      reverse=True))
    ages: Counter[str] = Counter()
    for r in open_rows:
        age = (today - (r.created or r.incident_date or today)).days
        ages[next(label for low, high, label in AGING_BUCKETS if low <= age <= high or (age < 0 and low == 0))] += 1
    months = _months(today)
    created = Counter(r.created.strftime("%Y-%m") for r in rows if r.created)
    resolved = Counter(r.resolved.strftime("%Y-%m") for r in done if r.resolved)
    attention = [("no owner", r.summary, r.page_title) for r in open_rows if not r.owner]
    attention += [("no due date", r.summary, r.page_title) for r in open_rows if not r.due]
    attention += [(f"overdue since {r.due.isoformat()}", r.summary, r.page_title)
                  for r in open_rows if r.due is not None and _is_overdue(r, today)]
    return Metrics(
        as_of=today, total=len(rows), done=len(done), open=len(open_rows),
        overdue=sum(_is_overdue(r, today) for r in rows),
        completion_rate=len(done) / len(rows) if rows else None,
        on_time_rate=(sum(r.resolved <= r.due for r in closed_with_due if r.resolved and r.due) / len(closed_with_due)
                      if closed_with_due else None),
        median_days_to_close=float(statistics.median(days_to_close)) if days_to_close else None,
        postmortems=postmortems,
        by_owner=_grouped(rows, lambda r: r.owner, today),
        by_team=_grouped(rows, lambda r: r.team, today),
        by_type=_grouped(rows, lambda r: r.type and r.type.capitalize(), today),
        aging=tuple((label, ages.get(label, 0)) for _, _, label in AGING_BUCKETS),
        trend=tuple((m, created.get(m, 0), resolved.get(m, 0)) for m in months),
        attention=tuple(sorted(attention)),
        mentions=tuple(sorted({r.owner: r.owner_mention for r in rows if r.owner and r.owner_mention}.items())),
        foreign=_foreign(rows, managed),
    )


def _foreign(rows: Sequence[TrackedItem], managed: Collection[str]) -> tuple[tuple[str, str, str], ...]:
    """Items whose well-formed key names an issue outside the managed projects (a key starts with its project)."""
    return tuple(sorted((r.issue_key, r.summary, r.page_title) for r in rows if managed and r.issue_key
                        and is_issue_key(r.issue_key) and r.issue_key.rsplit("-", 1)[0] not in managed))


def percent(rate: float | None) -> str:
    return "n/a" if rate is None else f"{rate * 100:.0f}%"


def _text(value: object) -> str:
    """XML-escaped text without the characters XML forbids (one would make the whole page ill-formed)."""
    return escape(strip_forbidden("" if value is None else str(value)))


def _attr(value: str) -> str:
    """A double-quoted XML attribute value, every special character escaped, forbidden characters dropped."""
    return '"' + escape(strip_forbidden(value), {'"': "&quot;"}) + '"'


def _lozenge(title: str, colour: str) -> str:
    return ('<ac:structured-macro ac:name="status" ac:schema-version="1">'
            f'<ac:parameter ac:name="colour">{colour}</ac:parameter>'
            f'<ac:parameter ac:name="title">{_text(title)}</ac:parameter></ac:structured-macro>')


def _table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{_text(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tbody><tr>{head}</tr>{body}</tbody></table>"


def _tally_cells(tally: Tally) -> list[str]:
    return [f"{tally.done}/{tally.total}", percent(tally.rate), str(tally.overdue)]


def _owner_cell(label: str, mentions: Mapping[str, Owner]) -> str:
    """A user mention where the owner is a known person (Confluence renders the name), else the text."""
    owner = mentions.get(label)
    if owner is None:
        return _text(label)
    for attribute, value in (("ri:account-id", owner.account_id), ("ri:userkey", owner.userkey),
                             ("ri:username", owner.username)):
        if value:
            return f"<ac:link><ri:user {attribute}={_attr(value)} /></ac:link>"
    return _text(label)


def _page_link(row: PostmortemRow) -> str:
    if not row.url:
        return _text(row.title)
    return f"<a href={_attr(row.url)}>{_text(row.title)}</a>"


def _status(tally: Tally) -> str:
    if tally.total and tally.done == tally.total:
        return _lozenge("DONE", "Green")
    return _lozenge("OVERDUE", "Red") if tally.overdue else _lozenge("OPEN", "Yellow")


def render_summary_page(metrics: Metrics) -> str:
    """The summary page body; every user-supplied string escaped; same metrics give the same text."""
    m = metrics
    parts = [
        (f"<p>Completion of postmortem action items as of {m.as_of.isoformat()}, kept up to date by "
         "postmortem-sync. Edit the postmortems, not this page: it is rewritten when the numbers change.</p>"),
        "<h2>Overview</h2>",
        _table(("Completion", "On time", "Open", "Done", "Overdue", "Median days to close"), [[
            percent(m.completion_rate), percent(m.on_time_rate), str(m.open), str(m.done), str(m.overdue),
            "n/a" if m.median_days_to_close is None else f"{m.median_days_to_close:g}"]]),
        "<h2>By postmortem</h2>",
        _table(("Postmortem", "Incident date", "Severity", "Done", "Rate", "Overdue", "Status"),
               [[_page_link(p), _text(p.incident_date), _text(p.severity), *_tally_cells(p.tally), _status(p.tally)]
                for p in m.postmortems[:TABLE_ROWS]]),
        _more(len(m.postmortems), "postmortems, older ones"),
        "<h2>By owner</h2>",
        _table(("Owner", "Done", "Rate", "Overdue"),
               [[_owner_cell(n, dict(m.mentions)), *_tally_cells(t)] for n, t in m.by_owner[:TABLE_ROWS]]),
        _more(len(m.by_owner), "owners"),
        "<h2>By team or service</h2>",
        _table(("Team", "Done", "Rate", "Overdue"), [[_text(n), *_tally_cells(t)] for n, t in m.by_team]),
        "<h2>By type</h2>",
        _table(("Type", "Done", "Rate", "Overdue"), [[_text(n), *_tally_cells(t)] for n, t in m.by_type]),
        "<h2>Aging of open items</h2>",
        _table(("Age", "Open items"), [[_text(label), str(count)] for label, count in m.aging]),
        "<h2>Monthly trend</h2>",
        _trend_chart(m.trend),
        "<h2>Needs attention</h2>",
        _table(("Reason", "Action item", "Postmortem"),
               [[_text(r), _text(s), _text(t)] for r, s, t in m.attention[:TABLE_ROWS]])
        if m.attention else "<p>Nothing: every open item has an owner and a due date, and none is overdue.</p>",
        _more(len(m.attention), "items"),
        render_quality_section(m.quality),
        _foreign_issues(m.foreign),
    ]
    return "\n".join(part for part in parts if part)


def _foreign_issues(foreign: Sequence[tuple[str, str, str]]) -> str:
    """The issues pages name outside the managed projects, each a Jira macro (Confluence links it)."""
    if not foreign:
        return ""
    rows = [[jira_macro_xml(key), _text(summary), _text(title)] for key, summary, title in foreign[:TABLE_ROWS]]
    return ("<h2>Issues outside the managed projects</h2><p>postmortem-sync does not write to these issues.</p>"
            + _table(("Issue", "Action item", "Postmortem"), rows) + _more(len(foreign), "issues"))


def plan_summary(metrics: Metrics, where: SummaryPage | None, meta: Mapping[str, str]) -> WriteSummary | None:
    """The summary page write, when the page is on and its content changed since it was last written."""
    if where is None:
        return None
    body = render_summary_page(metrics)
    digest = hashlib.sha256(body.encode()).hexdigest()
    if meta.get("summary_digest") == digest and meta.get("summary_page_id"):
        return None
    return WriteSummary(where, body, digest)


def _more(count: int, what: str) -> str:
    """The note under a table cut at TABLE_ROWS rows (10,000 rows help nobody and near Confluence's limits)."""
    if count <= TABLE_ROWS:
        return ""
    return f"<p>… and {count - TABLE_ROWS} more {_text(what)}: <code>postmortem-sync report</code> lists them all.</p>"


def _trend_chart(trend: Sequence[tuple[str, int, int]]) -> str:
    table = _table(("Month", "Created", "Resolved"), [[_text(mo), str(c), str(r)] for mo, c, r in trend])
    return ('<ac:structured-macro ac:name="chart" ac:schema-version="1">'
            '<ac:parameter ac:name="type">bar</ac:parameter>'
            '<ac:parameter ac:name="title">Action items created and resolved per month</ac:parameter>'
            '<ac:parameter ac:name="dataOrientation">vertical</ac:parameter>'
            f'<ac:rich-text-body>{table}</ac:rich-text-body></ac:structured-macro>')


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
    data["quality"] = quality_to_json(metrics.quality)
    return data


def render_report_table(metrics: Metrics) -> str:
    """A terminal rendering of the headline numbers and the per-postmortem table."""
    m = metrics
    lines = [
        (f"as of {m.as_of}: {m.done}/{m.total} done ({percent(m.completion_rate)}), on time {percent(m.on_time_rate)}, "
         f"open {m.open}, overdue {m.overdue}, median days to close "
         f"{'n/a' if m.median_days_to_close is None else f'{m.median_days_to_close:g}'}"),
        "",
    ]
    for p in m.postmortems:
        lines.append(f"  {p.tally.done:>3}/{p.tally.total:<3} {percent(p.tally.rate):>5}  "
                     f"overdue {p.tally.overdue:<3} {p.title[:70]}")
    if m.attention:
        lines += ["", "needs attention:"] + [f"  {r}: {s[:70]} ({t[:40]})" for r, s, t in m.attention]
    return "\n".join(lines)
