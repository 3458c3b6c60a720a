"""Completion metrics (pure): every action item joined with its page and issue, counted every way the summary shows.

Every breakdown has a total order (ties broken by a stable key), so the same items in any order give the
same metrics: a cycle that changed nothing renders the same page and writes nothing (sync.report).
"""

from __future__ import annotations

import statistics
import sys
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import NamedTuple

from sync.identity import page_item_keys, tracked_by_issue
from sync.models import IssueSnapshot, ItemRecord, Owner, Postmortem
from sync.quality import PageQuality
from sync.query import is_issue_key
from sync.state_view import IssueLink
from sync.themes import Recurrence, page_themes, recurrences, theme_rows

AGING_BUCKETS = ((0, 30, "0-30 days"), (31, 60, "31-60 days"), (61, 90, "61-90 days"), (91, 10**6, "over 90 days"))
TREND_MONTHS = 12


@dataclass(frozen=True, slots=True)
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
    owner_key: str | None = None  # the person: account id, userkey or username; None: the owner is only a name
    page_archived: bool = False  # its page is archived in Confluence: still counted, marked so
    page_id: str | None = None
    space: str | None = None
    labels: tuple[str, ...] = ()  # the page's Confluence labels
    themes: tuple[str, ...] = ()  # the page's labels (not those selecting postmortems) and services
    page_date: date | None = None  # the postmortem's date: its incident date, else when the page was created

    @property
    def done_on_time(self) -> bool:
        """Done (Jira's resolution date) on or before its due date."""
        return self.done and self.resolved is not None and self.due is not None and self.resolved <= self.due


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
    archived: bool = False


@dataclass(frozen=True)
class TrendMonth:
    """The items of the postmortems of one month (by the postmortem's date), and how many are done now."""

    month: str  # YYYY-MM
    items: int
    done: int
    done_on_time: int

    @property
    def completion(self) -> float | None:
        return self.done / self.items if self.items else None


@dataclass(frozen=True, slots=True)
class Attention:
    """An open item that needs someone: why, which issue, whose, and on which postmortem."""

    reason: str
    summary: str
    page_title: str
    issue_key: str | None = None
    owner: str | None = None  # the owner's label (a key of Metrics.mentions when the owner is a person)
    page_url: str | None = None


@dataclass(frozen=True)
class ThemeRow:
    theme: str
    postmortems: int
    tally: Tally


class Totals(NamedTuple):
    """The figures the health endpoint shows (what a settled cycle of `run` keeps: sync.settled)."""

    open: int
    done: int
    overdue: int
    completion_rate: float | None


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
    trend: tuple[TrendMonth, ...]  # the last TREND_MONTHS months, oldest first
    attention: tuple[Attention, ...] = field(default=())
    mentions: tuple[tuple[str, Owner], ...] = field(default=())  # owner label -> the person's mention
    foreign: tuple[tuple[str, str, str], ...] = field(default=())  # (issue key, summary, page title): not our projects
    by_theme: tuple[ThemeRow, ...] = field(default=())
    recurring: tuple[Recurrence, ...] = field(default=())
    quality: tuple[PageQuality, ...] | None = None  # postmortems with quality findings (sync.quality); None: off

    @property
    def totals(self) -> Totals:
        return Totals(self.open, self.done, self.overdue, self.completion_rate)


def tracked_items(pages: Iterable[Postmortem], records: Mapping[str, ItemRecord | IssueLink],
                  issues: Mapping[str, IssueSnapshot], *, selecting: Collection[str] = ()) -> list[TrackedItem]:
    """Join every item of every known page with its record and issue; `selecting`: the labels that find postmortems."""
    rows = []
    tracked = tracked_by_issue(records.values())
    names = {s.assignee: s.assignee_display for s in issues.values() if s.assignee and s.assignee_display}
    for pm in sorted(pages, key=lambda p: (p.page_id or "", p.title)):
        themes = page_themes(pm, selecting)
        page_date = pm.meta.incident_date or (pm.created.date() if pm.created else None)
        for item, key in zip(pm.items, page_item_keys(pm.page_id or "", pm.items, tracked), strict=True):
            record = records.get(key)
            issue_key = item.jira_key or (record.issue_key if record else None)
            issue = issues.get(issue_key) if issue_key else None
            mention = item.owner if item.owner and item.owner.is_mention else None
            rows.append(TrackedItem(
                page_title=pm.title, page_url=pm.url, incident_date=pm.meta.incident_date,
                severity=pm.meta.severity, team=pm.meta.team or pm.meta.service, summary=item.summary,
                owner=owner_label(item.owner, issue, names), due=item.due, type=item.type, issue_key=issue_key,
                done=issue.is_done if issue else bool(item.done),
                created=issue.created.date() if issue and issue.created else None,
                resolved=issue.resolved.date() if issue and issue.resolved else None,
                owner_mention=mention, owner_key=person_key(mention), page_id=pm.page_id, space=pm.space,
                labels=pm.labels, themes=themes, page_date=page_date, page_archived=pm.archived,
            ))
    return rows


def person_key(owner: Owner | None) -> str | None:
    """Who a mention names, whatever its link text: the account id, else the userkey, else the username."""
    if owner is None:
        return None
    return owner.account_id or owner.userkey or owner.username


def owner_label(owner: Owner | None, issue: IssueSnapshot | None, names: Mapping[str, str]) -> str | None:
    """Who an item belongs to, the same for every item of one person whatever snapshot its issue has.

    A mention on the page is the person (named as Jira names that id anywhere, else by the id); without
    one, Jira's assignee, else the page's plain-text owner.
    """
    if owner is not None and owner.is_mention:
        ident = person_key(owner)
        return names.get(ident or "") or owner.display or ident
    if issue is not None and issue.assignee_display:
        return issue.assignee_display
    return owner.display if owner else None


def is_overdue(row: TrackedItem, today: date) -> bool:
    return not row.done and row.due is not None and row.due < today


def tally(rows: Sequence[TrackedItem], today: date) -> Tally:
    return Tally(len(rows), sum(r.done for r in rows), sum(is_overdue(r, today) for r in rows))


def _grouped(rows: Sequence[TrackedItem], key: Callable[[TrackedItem], str | None],
             today: date) -> tuple[tuple[str, Tally], ...]:
    groups: dict[str, list[TrackedItem]] = defaultdict(list)
    for row in rows:
        groups[key(row) or "(none)"].append(row)
    return tuple((name, tally(group, today)) for name, group in sorted(groups.items()))


def _by_owner(rows: Sequence[TrackedItem], today: date) -> tuple[tuple[str, Tally], ...]:
    """One row per owner: most overdue first, then most open, then by who they are (their id, else the name).

    Not by the label: Jira names a person only once it has their issues, and a mention renders the same
    either way, so ordering by the name would reorder (and rewrite) the page when nothing changed.
    """
    keys = {r.owner: r.owner_key or r.owner for r in rows if r.owner}
    grouped = _grouped(rows, lambda r: r.owner, today)
    return tuple(sorted(grouped, key=lambda g: (-g[1].overdue, g[1].done - g[1].total, keys.get(g[0], g[0]))))


def people(rows: Sequence[TrackedItem]) -> tuple[list[TrackedItem], tuple[tuple[str, Owner], ...]]:
    """The rows with one owner label per person, and each person's mention by that label.

    A person is grouped by who they are (their id), never by how a page wrote their name: the label is
    the best name any of their items has (Jira's or a link text; the id only when nothing names them).
    Two people with the same name keep two labels (the second with its id).
    """
    names: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        key = r.owner_key or person_key(r.owner_mention)
        if key and r.owner:
            names[key].add(r.owner)
    labels: dict[str, str] = {}
    taken: set[str] = {r.owner for r in rows if r.owner and not r.owner_key}
    for key in sorted(names):
        better = sorted(n for n in names[key] if n != key) or [key]
        label = better[0] if better[0] not in taken else f"{better[0]} ({key})"
        labels[key] = label
        taken.add(label)
    out = [_relabelled(r, labels) for r in rows]  # every person's rows now carry their key
    written: dict[str, set[str]] = defaultdict(set)  # each person's link texts on the pages
    for r in out:
        if r.owner_key and r.owner_mention and r.owner_mention.display:
            written[r.owner_key].add(r.owner_mention.display)
    mentions = {labels[r.owner_key]: _bare(r.owner_mention, min(written[r.owner_key], default=None)) for r in out
                if r.owner_key is not None and r.owner_key in labels and r.owner_mention}
    return out, tuple(sorted(mentions.items()))


def _relabelled(row: TrackedItem, labels: Mapping[str, str]) -> TrackedItem:
    key = row.owner_key or person_key(row.owner_mention)
    if key is None or key not in labels or (row.owner, row.owner_key) == (labels[key], key):
        return row  # mostly already so: a copy of every row would add 50,000 rows to a backfill's peak memory
    return replace(row, owner=labels[key], owner_key=key)


def _bare(owner: Owner, link_text: str | None) -> Owner:
    """The mention with one link text for the person (the same whichever page named them): it names them
    even where Confluence no longer can (a Data Center userkey it does not know)."""
    return Owner(account_id=owner.account_id, userkey=owner.userkey, username=owner.username, display=link_text)


def _months(today: date, count: int = TREND_MONTHS) -> list[str]:
    year, month = today.year, today.month
    out = []
    for _ in range(count):
        out.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return out[::-1]


def trend(rows: Sequence[TrackedItem], today: date) -> tuple[TrendMonth, ...]:
    """Per month of the postmortem (not of the ticket: a backfill creates them all today), the last 12 months."""
    by_month: dict[str, list[TrackedItem]] = defaultdict(list)
    for r in rows:
        if r.page_date is not None:
            by_month[r.page_date.strftime("%Y-%m")].append(r)
    return tuple(TrendMonth(m, len(by_month[m]), sum(r.done for r in by_month[m]),
                            sum(r.done_on_time for r in by_month[m])) for m in _months(today))


def _attention(open_rows: Sequence[TrackedItem], today: date) -> tuple[Attention, ...]:
    found = [("no owner", r) for r in open_rows if not r.owner]
    found += [("no due date", r) for r in open_rows if not r.due]
    found += [(sys.intern(f"overdue since {r.due.isoformat()}"), r) for r in open_rows  # one string a day
              if r.due is not None and is_overdue(r, today)]
    return tuple(sorted((Attention(reason, r.summary, r.page_title, r.issue_key, r.owner, r.page_url)
                         for reason, r in found), key=_attention_order))


def _attention_order(a: Attention) -> tuple[str, ...]:
    return (a.reason, a.summary, a.page_title, a.issue_key or "", a.owner or "", a.page_url or "")


def _postmortem_rows(rows: Sequence[TrackedItem], today: date) -> tuple[PostmortemRow, ...]:
    """One row per page, newest incident first (ties by title, then link: a total order)."""
    by_page: dict[tuple[str, str | None, date | None, str | None, bool], list[TrackedItem]] = defaultdict(list)
    for r in rows:
        by_page[(r.page_title, r.page_url, r.incident_date, r.severity, r.page_archived)].append(r)
    ordered = sorted(by_page.items(), key=lambda kv: (kv[0][2] or date.min, kv[0][0], kv[0][1] or "", kv[0][3] or ""),
                     reverse=True)
    return tuple(PostmortemRow(t, u, d, s, tally(g, today), a) for (t, u, d, s, a), g in ordered)


def _aging(open_rows: Sequence[TrackedItem], today: date) -> tuple[tuple[str, int], ...]:
    ages: Counter[str] = Counter()
    for r in open_rows:
        age = (today - (r.created or r.incident_date or today)).days
        ages[next(label for low, high, label in AGING_BUCKETS if low <= age <= high or (age < 0 and low == 0))] += 1
    return tuple((label, ages.get(label, 0)) for _, _, label in AGING_BUCKETS)


def compute_metrics(rows: Sequence[TrackedItem], today: date, *, managed: Collection[str] = (),
                    recurrence_days: int = 90) -> Metrics:
    """Completion, timeliness, breakdowns, themes, aging and trend of all items (and those outside `managed`)."""
    rows, mentions = people(rows)
    done = [r for r in rows if r.done]
    open_rows = [r for r in rows if not r.done]
    closed_with_due = [r for r in done if r.due and r.resolved]
    days_to_close = [(r.resolved - r.created).days for r in done if r.resolved and r.created]
    return Metrics(
        as_of=today, total=len(rows), done=len(done), open=len(open_rows),
        overdue=sum(is_overdue(r, today) for r in rows),
        completion_rate=len(done) / len(rows) if rows else None,
        on_time_rate=sum(r.done_on_time for r in closed_with_due) / len(closed_with_due) if closed_with_due else None,
        median_days_to_close=float(statistics.median(days_to_close)) if days_to_close else None,
        postmortems=_postmortem_rows(rows, today),
        by_owner=_by_owner(rows, today),
        by_team=_grouped(rows, lambda r: r.team, today),
        by_type=_grouped(rows, lambda r: r.type and r.type.capitalize(), today),
        aging=_aging(open_rows, today),
        trend=trend(rows, today),
        attention=_attention(open_rows, today),
        mentions=mentions,
        foreign=_foreign(rows, managed),
        by_theme=tuple(ThemeRow(theme, pages, tally(group, today)) for theme, pages, group in theme_rows(rows)),
        recurring=recurrences(rows, recurrence_days),
    )


def _foreign(rows: Sequence[TrackedItem], managed: Collection[str]) -> tuple[tuple[str, str, str], ...]:
    """Items whose well-formed key names an issue outside the managed projects (a key starts with its project)."""
    return tuple(sorted((r.issue_key, r.summary, r.page_title) for r in rows if managed and r.issue_key
                        and is_issue_key(r.issue_key) and r.issue_key.rsplit("-", 1)[0] not in managed))
