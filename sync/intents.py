"""Creates whose outcome is unknown (the intent journal), and how a cycle settles them.

A create is journalled before it is sent (sync.apply). When its answer is lost (a timeout, a crash, a
5xx after Jira acted), the issue may or may not exist, and Jira's search may not show it for minutes.
So the planner holds the item back (`create-pending`) until `sync.search_lag_grace_minutes` have passed
on Jira's clock since the create was sent. Then a cycle looks for the item's identity label with no
date bound (`due` and `look_up`): an issue found is adopted; only when none is found does the planner
create the item again. An item whose issue key is known (on the page, or in our record because the
create answered) is never created again: it is read by key, which Jira answers at once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from sync.identity import epic_label, epic_page_from_labels, item_key_from_labels, item_label
from sync.models import IssueSnapshot, Plan
from sync.ports import JiraPort
from sync.query import labels_jql
from sync.state_view import StateView

EPIC_PREFIX = "epic-"  # an epic's intent is "epic-<page id>"; an item's is its 12-hex item key
LOOK_UP_BATCH = 50


def due(view: StateView, issues: Mapping[str, IssueSnapshot], now: datetime,
        grace: timedelta) -> tuple[list[str], list[str]]:
    """The intents to look up (older than the grace, their issue still unknown), and those already settled."""
    if not view.intents:  # the usual case: spare a pass over every issue's labels
        return [], []
    labelled = {key for s in issues.values() if (key := item_key_from_labels(s.labels))}
    epics = {page for s in issues.values() if (page := epic_page_from_labels(s.labels))}
    epics |= {name.split(":", 1)[1] for name in view.meta if name.startswith("epic:")}
    look, settled = [], []
    for intent, started in sorted(view.intents.items()):
        if intent.startswith(EPIC_PREFIX):
            known = intent[len(EPIC_PREFIX):] in epics
        else:
            record = view.items.get(intent)
            known = intent in labelled or bool(record and record.issue_key)
        if known:
            settled.append(intent)
        elif now - started >= grace:
            look.append(intent)
    return look, settled


def look_up(jira: JiraPort, project: str, intents: Sequence[str]) -> dict[str, IssueSnapshot]:
    """Every issue of the project carrying the identity label of one of these intents, at any time."""
    labels = [epic_label(i[len(EPIC_PREFIX):]) if i.startswith(EPIC_PREFIX) else item_label(i) for i in intents]
    found: dict[str, IssueSnapshot] = {}
    for start in range(0, len(labels), LOOK_UP_BATCH):
        found.update((s.key, s) for s in jira.search(labels_jql(project, labels[start:start + LOOK_UP_BATCH])))
    return found


def settled_by(plan: Plan, looked_up: Iterable[str]) -> list[str]:
    """The intents looked up this cycle that the plan does not send again (found, or no longer on a page).

    One sent again stays: its journal entry restarts the wait (sync.state.State.begin_create).
    """
    resent = {c.record.item_key for c in plan.creates} | {EPIC_PREFIX + e.page_id for e in plan.epics}
    return [intent for intent in looked_up if intent not in resent]
