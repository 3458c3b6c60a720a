"""Overdue follow-up: which reminder each open, overdue issue is due, and the comment that says so.

All pure but `for_cycle`, which gathers a cycle's inputs (the settings, what it read, the state's journal).

The steps of one issue: reminders 1 to `max`, the first on the day after its due date, then one every
`every_days`; after the last, one final comment that also mentions the postmortem's owner (the page's
owner field where it has one, else the page's author). Then nothing more.

The issue itself tells which steps were sent: each step adds a label, `pmsync-reminded-<step>-<yyyymmdd>`
(`<step>` is `final` for the final one, the date the day it was sent), in the same edit as its comment
(one request; Jira applies both or neither). The managed-issue search returns labels already, so
deciding costs no request, and a crash never leaves a comment without its label. A step is due when
today (in the site's time zone) is at least due date + 1 + (step - 1) x every_days, and at least
every_days after the previous step was sent: after a pause (daemon stopped, reminders off, due date
moved), steps resume one at a time, never several at once.

The local state only covers what a lagging search may not show yet: before a step is sent, its journal
entry (one row per issue in the state's `reminders` table) is committed; once the edit answered it says
so. A sent step counts as sent whatever the search shows; a step whose outcome is unknown (a crash, a
timeout) holds the issue back for the search-lag grace, after which the search shows its label if it
landed. With the state deleted, the write lease makes the new instance wait that grace too (sync.lease:
reminders count as writes found only by search). Losing the state therefore never sends a step twice.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

from sync import settled
from sync.identity import MANAGED_LABEL, REMOVED_LABEL, item_key_from_labels
from sync.models import CommentPart, IssueSnapshot, Link, Owner, Postmortem, SendReminder
from sync.settings import Settings
from sync.state import State
from sync.state_view import StateView

REMINDERS_SETTLED = "settled_reminders"  # the basis (sync.settled) at which a quiet cycle found none due
LABEL_PREFIX = "pmsync-reminded-"
FINAL = "final"
_LABEL = re.compile(r"^pmsync-reminded-(\d+|final)-(\d{8})$")
_PAGE_LABEL = re.compile(r"^pmsync-page-(\d+)$")


@dataclass(frozen=True)
class ReminderRules:
    """When reminders are due: the settings, today's date at the site, and what the journal may trust."""

    every_days: int
    max: int
    today: date
    now: datetime  # Jira's time: how old a journal entry is
    grace: timedelta  # how long a step whose outcome is unknown holds its issue back
    projects: frozenset[str] = frozenset()  # the managed projects; empty: not checked


class Sent(NamedTuple):
    """The steps an issue had: the highest numbered one (0: none), whether the final one, and when the last."""

    last: int
    final: bool
    on: date | None


def reminder_label(step: int, final: bool, on: date) -> str:
    """The label that marks a step as sent, on `on`."""
    return f"{LABEL_PREFIX}{FINAL if final else step}-{on:%Y%m%d}"


def sent_steps(labels: Iterable[str]) -> Sent:
    """What the issue's labels say was sent."""
    last, final, on = 0, False, None
    for match in filter(None, map(_LABEL.match, labels)):
        try:
            when = datetime.strptime(match.group(2), "%Y%m%d").date()
        except ValueError:  # a label someone typed (20260231): not one of ours, so it says nothing was sent
            continue
        on = max(on, when) if on else when
        if match.group(1) == FINAL:
            final = True
        else:
            last = max(last, int(match.group(1)))
    return Sent(last, final, on)


def journal_entry(reminder: SendReminder, at: datetime, *, sent: bool) -> tuple[str, str]:
    """The journal entry (issue key, document) of a step about to be sent (sent=False) or sent (True)."""
    return reminder.issue_key, json.dumps({"label": reminder.label, "at": at.isoformat(), "sent": sent})


def _journalled(journal: Mapping[str, str], key: str) -> tuple[Sent, datetime | None]:
    """What the journal says of an issue: the step sent (as Sent), and when a step of unknown outcome was sent."""
    raw = journal.get(key)
    if raw is None:
        return Sent(0, False, None), None
    entry = json.loads(raw)
    if not entry["sent"]:
        return Sent(0, False, None), datetime.fromisoformat(entry["at"])
    return sent_steps([entry["label"]]), None  # the step's label, as the issue will show it


def _merged(a: Sent, b: Sent) -> Sent:
    ons = [on for on in (a.on, b.on) if on]
    return Sent(max(a.last, b.last), a.final or b.final, max(ons) if ons else None)


def next_step(due: date, sent: Sent, rules: ReminderRules) -> tuple[int, bool] | None:
    """The step due today after those sent, as (step, final); None when none is due (or all were sent)."""
    if sent.final:
        return None
    done = min(sent.last, rules.max)
    final = sent.last >= rules.max
    step = rules.max + 1 if final else done + 1
    when = due + timedelta(days=1 + (step - 1) * rules.every_days)
    if sent.on is not None:
        when = max(when, sent.on + timedelta(days=rules.every_days))
    return (step, final) if rules.today >= when else None


class Due(NamedTuple):
    """The reminders due in a cycle, and the basis to record as settled (sync.settled) when none was due."""

    reminders: tuple[SendReminder, ...] = ()
    settled_at: str | None = None


def for_cycle(settings: Settings, view: StateView, state: State, issues: Mapping[str, IssueSnapshot],
              parsed: Iterable[Postmortem], gone: frozenset[str], now: datetime) -> Due:
    """The reminders due in this cycle, given what it read (`now`: Jira's time); none when they are off.

    Reads the state only for overdue issues: their journal entries, and the cached parses of their pages
    that were not fetched this cycle (those alone are decoded). A quiet cycle (nothing new read) at a basis
    where none was due, and no step's outcome was waiting to be known, reads nothing.
    """
    conf = settings.reminders
    if not conf.enabled:
        return Due()
    rules = ReminderRules(conf.every_days, conf.max, now.astimezone(ZoneInfo(conf.time_zone)).date(), now,
                          timedelta(minutes=settings.sync.search_lag_grace_minutes), frozenset(settings.jira.managed))
    parsed = list(parsed)
    quiet = issues is view.issues and not parsed and not gone  # the state's issues: not even decoded yet
    at = settled.basis(settings, state.generation, rules.today) if quiet else None
    if at is not None and view.meta.get(REMINDERS_SETTLED) == at:
        return Due()
    overdue = {key: s for key, s in issues.items() if s.due is not None and s.due < rules.today and not s.is_done}
    pages = {pm.page_id: pm for pm in parsed if pm.page_id}
    wanted = {page for issue in overdue.values() if (page := _page_of(issue)) and page not in pages} - gone
    pages |= state.pages_of(wanted) if wanted else {}
    closed = {r.issue_key for r in view.items.values() if r.issue_key and (r.flagged or r.done)} if overdue else set()
    due = plan_reminders(overdue, pages.get, state.reminders(overdue), rules, skip=frozenset(closed))
    waiting = state.unsent_reminders(since=now - rules.grace)  # their outcome may still show: not settled yet
    return Due(first_due(due, overdue, conf.max_per_cycle), at if not due and not waiting else None)


def first_due(reminders: Iterable[SendReminder], issues: Mapping[str, IssueSnapshot],
              limit: int) -> tuple[SendReminder, ...]:
    """At most `limit` reminders, the longest overdue issue first (then by key); the others stay due, next cycle."""
    def overdue_since(reminder: SendReminder) -> tuple[date, str]:
        return issues[reminder.issue_key].due or date.min, reminder.issue_key

    return tuple(sorted(reminders, key=overdue_since)[:limit])


def plan_reminders(issues: Mapping[str, IssueSnapshot], page_of: Callable[[str], Postmortem | None],
                   journal: Mapping[str, str], rules: ReminderRules, *,
                   skip: frozenset[str] = frozenset()) -> tuple[SendReminder, ...]:
    """The one step due today for each open, overdue issue of an action item of a known page (`page_of` an id).

    Never for an issue that is done, flagged as removed, an epic, outside the managed projects, in
    `skip` (e.g. its item is being marked done this cycle), or whose last step's outcome is unknown
    and younger than the grace.
    """
    planned = []
    for key, issue in sorted(issues.items()):
        if key in skip or issue.due is None or issue.due >= rules.today or not _open_item(issue, rules):
            continue
        page = page_of(_page_of(issue) or "")
        if page is None:
            continue
        journalled, unknown_since = _journalled(journal, key)
        if unknown_since is not None and rules.now - unknown_since < rules.grace:
            continue
        step = next_step(issue.due, _merged(sent_steps(issue.labels), journalled), rules)
        if step is not None:
            number, final = step
            planned.append(SendReminder(key, page.page_id or "", number, final,
                                        reminder_label(number, final, rules.today),
                                        comment(issue, page, number, final, rules)))
    return tuple(planned)


def _page_of(issue: IssueSnapshot) -> str | None:
    return next((m.group(1) for m in map(_PAGE_LABEL.match, issue.labels) if m), None)


def _open_item(issue: IssueSnapshot, rules: ReminderRules) -> bool:
    """Whether the issue is an open action item's issue we may write to."""
    labels = set(issue.labels)
    ours = MANAGED_LABEL in labels and item_key_from_labels(labels) is not None
    foreign = bool(rules.projects) and issue.project is not None and issue.project not in rules.projects
    return ours and not foreign and not issue.is_done and REMOVED_LABEL not in labels


def assignee_of(issue: IssueSnapshot) -> Owner | None:
    """The issue's assignee as a person to mention: Jira's own identifier, whichever the deployment uses.

    The adapter mentions an Owner by account id on Cloud and by username on Data Center; the snapshot
    holds the one its deployment uses, so both are set to it.
    """
    if not issue.assignee:
        return None
    return Owner(account_id=issue.assignee, username=issue.assignee, display=issue.assignee_display)


def postmortem_owner(page: Postmortem) -> Owner | None:
    """Who answers for the postmortem: its owner field (incident commander) where it has one, else its author."""
    return page.meta.owner or page.author


def comment(issue: IssueSnapshot, page: Postmortem, step: int, final: bool,
            rules: ReminderRules) -> tuple[CommentPart, ...]:
    """The words of one step: who should act, on what, since when; the final one also names the owner."""
    assert issue.due is not None  # planned only for an issue with a due date
    late = (rules.today - issue.due).days
    title: CommentPart = Link(page.title, page.url) if page.url else f'"{page.title}"'
    head = "Final reminder" if final else f"Reminder {step} of {rules.max}"
    parts: list[CommentPart] = [f"{head}: this action item of the postmortem ", title,
                                f" was due on {issue.due.isoformat()} and is {late} day{'s' * (late != 1)} overdue. "]
    assignee = assignee_of(issue)
    parts += [assignee, ", please"] if assignee else ["It has no assignee; please assign it, and"]
    parts.append(" close it when it is done, or move its due date on the postmortem page.")
    if final:
        owner = postmortem_owner(page)
        parts += [" ", owner, " (postmortem owner): this was the last reminder."] if owner else [
            " This was the last reminder."]
    return tuple(parts)
