"""Checks of the project's screens and workflows: required fields the daemon would leave empty on a create,
fields it edits that the edit screen lacks, Done transitions whose required fields it cannot fill, and
Data Center's Epic Name field when epics are on.

Jira has no read-only way to list a project's workflows for an ordinary account, so transitions and the
edit screen are read on an existing managed issue; a kind of issue with none yet is reported as not checked.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from sync.atlassian.jira_meta import done_transition, field_id, named_transition, required_unfilled, unfillable
from sync.checks import Check, Probe
from sync.models import IssueSnapshot
from sync.ports import NotFound
from sync.query import managed_jql
from sync.settings import JiraSettings

# Fields every create sets, and the reporter, which Jira fills with the caller.
ALWAYS_SET = frozenset({"project", "issuetype", "summary", "description", "labels", "reporter"})
ISSUES_LOOKED_AT = 200  # managed issues read to find the issue types in use


def _sometimes_set(j: JiraSettings) -> dict[str, str]:
    """Fields a create sets only for some items: field id -> the items that go without it."""
    sometimes = {"duedate": "items without a due date", "assignee": "items without an owner Jira knows"}
    if j.priority_map and not j.default_priority:
        sometimes["priority"] = "items whose priority and type priority_map does not map"
    return sometimes


def _always_set(j: JiraSettings) -> set[str]:
    return set(ALWAYS_SET) | ({"components"} if j.components else set()) | ({"priority"} if j.default_priority
                                                                              else set())


def create_requirements(probe: Probe) -> Iterator[Check]:
    """Every required field of the create screens we use is one the daemon sets (or has a default)."""
    j = probe.settings.jira
    kinds = [(j.issue_type, _always_set(j), _sometimes_set(j))]
    if j.epic.enabled:  # an epic gets a summary, description and labels, and on Data Center its Epic Name
        epic_name = probe.jira.epic_name_field() if probe.jira.deployment == "datacenter" else None
        kinds.append((j.epic.issue_type, set(ALWAYS_SET) | ({epic_name} if epic_name else set()), {}))
    for issue_type, always, sometimes in kinds:
        where = f"{j.project}/{issue_type}"
        try:
            screen = probe.jira.create_meta(j.project, issue_type)
        except NotFound as exc:
            yield Check("required fields", False, f"{where}: {exc.message}")
            continue
        unfilled = required_unfilled(screen, always)
        never = [str(m.get("name") or field_id(m)) for m in unfilled if field_id(m) not in sometimes]
        partly = [f"{m.get('name') or field_id(m)} ({sometimes[field_id(m)]})" for m in unfilled
                  if field_id(m) in sometimes]
        if never:
            yield Check("required fields", False, f"the create screen of {where} requires {', '.join(never)}, which "
                        "postmortem-sync does not fill: Jira rejects every such ticket; ask a Jira admin to make "
                        "them optional or give them a default")
        if partly:
            yield Check("required fields", False, f"the create screen of {where} requires {', '.join(partly)}: "
                        "Jira rejects those tickets; ask a Jira admin to make the fields optional")
        if not unfilled:
            yield Check("required fields", True, f"postmortem-sync fills every required field of {where}")


def _managed(probe: Probe) -> list[IssueSnapshot]:
    query = managed_jql(probe.settings.jira.project, None)
    fields = ("summary", "status", "issuetype", "project")
    return list(islice(probe.jira.search(query, fields=fields), ISSUES_LOOKED_AT))


def edit_screen(probe: Probe) -> Iterator[Check]:
    """The fields the daemon edits are on the edit screen of a managed issue."""
    j = probe.settings.jira
    issues = _managed(probe)
    if not issues:
        yield Check("edit screen", True, f"not checked: no managed issue in {j.project} yet (run check again later)")
        return
    key = issues[0].key
    on_screen = {field_id(meta) for meta in probe.jira.edit_meta(key)}
    needed = ["summary", "labels", "duedate", "assignee"] + (["priority"] if j.priority_map or j.default_priority
                                                             else [])
    missing = [name for name in needed if name not in on_screen]
    if missing:
        yield Check("edit screen", False, f"{', '.join(missing)} not on the edit screen of {key}: page edits to them "
                    "are rejected; ask a Jira admin to add them to the project's edit screen")
    else:
        yield Check("edit screen", True, f"every field postmortem-sync edits is on the edit screen of {key}")


def done_transitions(probe: Probe) -> Iterator[Check]:
    """Per issue type in use: a Done transition exists from an open managed issue, and we can fill what it requires."""
    j = probe.settings.jira
    issues = _managed(probe)
    types = dict.fromkeys([j.issue_type, *(i.issue_type for i in issues if i.issue_type)])
    types.pop(j.epic.issue_type, None)  # epics are never moved to done by postmortem-sync
    for issue_type in types:
        where = f"{j.project}/{issue_type}"
        issue = next((i for i in issues if i.issue_type == issue_type and not i.is_done), None)
        if issue is None:
            yield Check("done transition", True, f"{where}: not checked, no open managed issue of this type yet")
            continue
        options = probe.jira.transitions(issue.key)
        chosen = named_transition(options, j.done_transition) if j.done_transition else done_transition(options)
        if chosen is None:
            wanted = repr(j.done_transition) if j.done_transition else "into a done status"
            yield Check("done transition", False, f"{where}: {issue.key} ({issue.status}) has no transition {wanted}: "
                        "set jira.done_transition, or ask a Jira admin to add one to the workflow")
            continue
        missing = unfillable(chosen, j.done_resolution)
        if missing:
            yield Check("done transition", False, f"{where}: the transition {chosen.get('name')!r} requires "
                        f"{', '.join(missing)}, which postmortem-sync cannot fill: items done on the page stay open "
                        "in Jira; set jira.done_resolution or ask a Jira admin to relax the transition screen")
        else:
            yield Check("done transition", True, f"{where}: {chosen.get('name')!r}, its required fields filled")


def epic_name(probe: Probe) -> Iterator[Check]:
    """With epics on Data Center: the Epic Name field exists and is on the epic's create screen."""
    j = probe.settings.jira
    if not j.epic.enabled or probe.jira.deployment != "datacenter":
        return
    found = probe.jira.epic_name_field()
    if found is None:
        yield Check("epic name", False, "epics are on, but Jira has no Epic Name field (Jira Software's "
                    "gh-epic-label): epic creates will fail; turn jira.epic.enabled off")
        return
    try:
        on_screen = {field_id(meta) for meta in probe.jira.create_meta(j.project, j.epic.issue_type)}
    except NotFound as exc:
        yield Check("epic name", False, f"{j.project}/{j.epic.issue_type}: {exc.message} (check jira.epic.issue_type)")
        return
    if found in on_screen:
        yield Check("epic name", True, f"the Epic Name field ({found}) is filled on every epic")
    else:
        yield Check("epic name", False, f"the Epic Name field ({found}) is not on the create screen of "
                    f"{j.project}/{j.epic.issue_type}: epic creates will fail; check jira.epic.issue_type")
