"""Which Jira issues a cycle knows: what the search found, merged into the cache, plus the issues the
pages name that the search did not return, looked up by key in batches, and (after it wrote) those it created."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from datetime import datetime

from sync.apply import ApplyResult
from sync.models import IssueSnapshot, Plan, Postmortem
from sync.ports import AtlassianError, JiraPort
from sync.problems import Problem, ProblemKind
from sync.query import is_issue_key, keys_jql
from sync.state_view import StateView

KEY_BATCH = 50  # keys per JQL `key in (...)` query


def read_issues(jira: JiraPort, view: StateView, fresh: Iterable[IssueSnapshot], full: bool,
                postmortems: list[Postmortem]) -> tuple[Mapping[str, IssueSnapshot], set[str], list[Problem]]:
    """The issues a search found (merged into the cache), plus those of these pages' items that it did not
    return, by key: named on a page, or in our records (a new issue the index does not show yet).

    Also returns the keys that do not resolve (known ones are not looked up again until a full
    reconcile) and the problems to report. When nothing was found and no page was read, that is the
    cache itself (`view.issues`, not even decoded yet on a quiet cycle of `once`).
    """
    found_now = {s.key: s for s in fresh}
    cached: Mapping[str, IssueSnapshot] = {} if full else view.issues
    unresolved = set() if full else set(json.loads(view.meta.get("unresolved_keys", "[]")))
    pages = {pm.page_id for pm in postmortems}
    keys = {i.jira_key for pm in postmortems for i in pm.items} | {
        r.issue_key for r in (view.items.values() if pages else ()) if r.page_id in pages}
    # A key that is not one by Jira's syntax is never sent anywhere; the planner reports it (invalid-key).
    named = sorted(k for k in keys if k and is_issue_key(k) and k not in found_now and k not in cached
                   and k not in unresolved)
    problems: list[Problem] = []
    for start in range(0, len(named), KEY_BATCH):
        batch = named[start:start + KEY_BATCH]
        try:
            found = {s.key: s for s in jira.search(keys_jql(batch))}
        except AtlassianError:  # one key that does not exist makes Jira reject the whole query
            found = {}
        found_now.update({key: found[key] for key in batch if key in found})
        # A key Jira answers under another key was moved to another project; check each on its own.
        alone, alone_problems = _issues_one_by_one(jira, [key for key in batch if key not in found])
        found_now.update(alone)
        unresolved |= {key for key in batch if key not in found_now}
        problems += alone_problems
    if full or not found_now:
        return found_now if full else cached, unresolved, problems
    return {**cached, **found_now}, unresolved, problems


def _issues_one_by_one(jira: JiraPort, keys: list[str]) -> tuple[dict[str, IssueSnapshot], list[Problem]]:
    """Each key on its own, reporting those that do not resolve (they are never replaced by a new issue).

    An issue moved to another project answers under its new key: it has left the project we manage,
    so it is reported like a deleted one and nothing is written to it.
    """
    found, problems = {}, []
    for key in keys:
        try:
            snapshot = jira.get_issue(key)
        except AtlassianError as exc:
            problems.append(Problem(ProblemKind.UNRESOLVED_KEY, key, str(exc.status)))
            continue
        if snapshot.key != key:
            problems.append(Problem(ProblemKind.ISSUE_MOVED, key, snapshot.key))
            continue
        found[key] = snapshot
    return found, problems


def with_created(issues: Mapping[str, IssueSnapshot], plan: Plan, applied: ApplyResult,
                 now: datetime) -> Mapping[str, IssueSnapshot]:
    """The issues, plus snapshots of what this cycle created, from what was sent (no read-back; the next search
    refreshes them)."""
    if not applied.created:
        return issues  # as it was: on a cycle that only sent reminders, perhaps the state's own (sync.state_view)
    issues = dict(issues)
    for change in plan.creates:
        key = applied.created.get(change.record.item_key)
        if key is None:
            continue
        f = change.fields
        issues[key] = IssueSnapshot(
            key=key, summary=f.summary, status="Done" if change.mark_done else "To Do",
            status_category="done" if change.mark_done else "new", labels=f.labels, due=f.due,
            priority=f.priority, issue_type=f.issue_type, project=f.project, created=now, updated=now,
            resolved=now if change.mark_done else None,
        )
    return issues
