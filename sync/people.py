"""Who an item's owner is to Jira: a Data Center `ri:userkey` is Confluence's key, never Jira's.

Confluence Data Center and Jira Data Center keep separate user keys (Jira's look like `JIRAUSER10100`),
so a userkey mention is resolved through Confluence to the username, and Jira assigns by that name
(docs/atlassian-behaviours.md, "People"). An owner nobody can be found for is reported (`unknown-user`)
and its ticket goes unassigned; the page and the summary page keep naming the person.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace

from sync.models import CommentPart, CreateIssue, Owner, Plan, SendReminder, UpdateIssue
from sync.ports import AtlassianError
from sync.problems import Problem, ProblemKind

Lookup = Callable[[str], Owner | None]  # userkey -> the person Confluence knows by it (ConfluencePort.person)


def needs_lookup(owner: Owner | None) -> bool:
    """Whether the owner is only a Confluence userkey, which Jira cannot take."""
    return bool(owner and owner.userkey and not (owner.username or owner.account_id))


def jira_owner(owner: Owner, lookup: Lookup) -> Owner | None:
    """The owner as Jira can take it: as it is, or with the username Confluence gives its userkey; None if unknown."""
    if not needs_lookup(owner):
        return owner
    found = lookup(str(owner.userkey))
    if found is None or not found.username:
        return None
    return replace(owner, username=found.username, display=owner.display or found.display)


def with_people(plan: Plan, lookup: Lookup) -> tuple[Plan, list[Problem]]:
    """The plan with every userkey owner it would send to Jira resolved; those nobody is found for are
    left out (the ticket unassigned, its assignee left alone on an update) and reported.

    A look-up that may work next time (429, 5xx, no answer) raises, before anything was written: the
    cycle fails and is redone. One Confluence refuses (403, 400) counts as nobody found.
    """
    problems: list[Problem] = []

    def owner_for(item_key: str, owner: Owner) -> Owner | None:
        try:
            resolved = jira_owner(owner, lookup)
            why = "is unknown to Confluence"
        except AtlassianError as exc:
            if exc.status is None or exc.status == 429 or exc.status >= 500:
                raise
            resolved, why = None, f"could not be looked up ({exc})"
        if resolved is None:
            problems.append(Problem(ProblemKind.UNKNOWN_USER, item_key,
                                    f"userkey {owner.userkey} {why}: the ticket is left unassigned"))
        return resolved

    creates = tuple(_create(c, owner_for) for c in plan.creates)
    updates = tuple(_update(u, owner_for) for u in plan.updates)
    reminders = tuple(_remind(r, owner_for) for r in plan.reminders)
    return replace(plan, creates=creates, updates=updates, reminders=reminders), problems


def _remind(reminder: SendReminder, owner_for: Callable[[str, Owner], Owner | None]) -> SendReminder:
    """A reminder whose mentions Jira can take: a userkey-only postmortem owner (Data Center) by username,
    else by the name the page gave (a mention of nobody would notify nobody)."""
    def part(piece: CommentPart) -> CommentPart:
        if not isinstance(piece, Owner) or not needs_lookup(piece):
            return piece
        return owner_for(reminder.issue_key, piece) or (piece.display or str(piece.userkey))

    return replace(reminder, comment=tuple(part(piece) for piece in reminder.comment))


def _create(change: CreateIssue, owner_for: Callable[[str, Owner], Owner | None]) -> CreateIssue:
    owner = change.fields.assignee
    if not needs_lookup(owner):
        return change
    assert owner is not None  # needs_lookup says so
    return replace(change, fields=replace(change.fields, assignee=owner_for(change.record.item_key, owner)))


def _update(change: UpdateIssue, owner_for: Callable[[str, Owner], Owner | None]) -> UpdateIssue:
    owner = change.changes.get("assignee")
    if not isinstance(owner, Owner) or not needs_lookup(owner):
        return change
    resolved = owner_for(change.record.item_key, owner)
    changes: Mapping[str, object] = {**change.changes, "assignee": resolved} if resolved else {
        name: value for name, value in change.changes.items() if name != "assignee"}
    return replace(change, changes=changes)
