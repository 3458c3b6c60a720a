"""Checks of the site itself: credentials, the Jira project, its create screen, Confluence search, the summary page."""

from __future__ import annotations

from collections.abc import Iterator

from sync.checks import Check, Probe
from sync.ports import AtlassianError, AuthFailed, NotFound, PermissionDenied
from sync.query import managed_jql, postmortem_cql
from sync.summary_page import SUMMARY_MARK, is_marked


def explain(service: str, exc: AtlassianError) -> str:
    """What an error answer means, in words an administrator can act on."""
    if isinstance(exc, AuthFailed):
        return f"{service} rejected the credentials (HTTP 401): check the email and API token, or the PAT"
    if isinstance(exc, PermissionDenied):
        return f"{service} denied access (HTTP 403): give the service account the permission named above"
    if isinstance(exc, NotFound):
        return f"{service} could not find it (HTTP 404): check the key or id, and that the account can see it"
    return f"{service} answered: {exc}"


def credentials(probe: Probe) -> Iterator[Check]:
    """The site answers and accepts our credentials."""
    url = probe.settings.jira.url
    try:
        info = probe.jira.server_info()
    except AtlassianError as exc:
        yield Check("credentials", False, f"Jira at {url}: {explain('Jira', exc)}")
        return
    yield Check("credentials", True,
                f"Jira reachable at {url} ({info.get('deploymentType', '?')}, {probe.jira.deployment})")


def jira_project(probe: Probe) -> Iterator[Check]:
    """Issues of the configured project can be searched."""
    project = probe.settings.jira.project
    try:
        next(iter(probe.jira.search(managed_jql(project, None), fields=("summary",))), None)
    except AtlassianError as exc:
        yield Check("jira project", False,
                    f"Jira project {project}: {explain('Jira', exc)} (Browse projects permission)")
        return
    yield Check("jira project", True, f"Jira project {project} is searchable")


def create_screen(probe: Probe) -> Iterator[Check]:
    """The fields every ticket sets must be on the create screen, or Jira rejects the whole create."""
    j = probe.settings.jira
    try:
        on_screen = probe.jira.create_screen_fields(j.project, j.issue_type)
    except NotFound as exc:
        yield Check("create screen", False, f"Jira project {j.project}, issue type {j.issue_type}: {exc.message} "
                    "(check jira.project and jira.issue_type)")
        return
    except AtlassianError as exc:
        yield Check("create screen", False, f"Jira create screen of {j.project}/{j.issue_type}: "
                    f"{explain('Jira', exc)} (Create issues permission)")
        return
    needed = ["summary", "description", "labels", "duedate", "assignee"]
    needed += ["priority"] if j.priority_map or j.default_priority else []
    needed += ["components"] if j.components else []
    missing = [name for name in needed if name not in on_screen]
    if missing:
        yield Check("create screen", False, f"{', '.join(missing)} not on the create screen of {j.project}/"
                    f"{j.issue_type}: Jira rejects every ticket that sets them; ask a Jira admin to add them to the "
                    "screen")
    else:
        yield Check("create screen", True,
                    f"every field postmortem-sync sets is on the create screen of {j.project}/{j.issue_type}")


def confluence_search(probe: Probe) -> Iterator[Check]:
    """The configured CQL runs and finds at least one postmortem."""
    try:
        first = next(iter(probe.confluence.find_pages(postmortem_cql(probe.settings.confluence, None), limit=1)), None)
    except AtlassianError as exc:
        yield Check("confluence search", False, f"Confluence at {probe.settings.confluence.url}: "
                    f"{explain('Confluence', exc)} (View space permission)")
        return
    yield Check("confluence search", True, "Confluence search finds postmortem pages" if first else
                "Confluence search works but finds no postmortem page: check spaces, labels and parent_pages")


def summary_page(probe: Probe) -> Iterator[Check]:
    """The summary page's space is readable, and the page, if it exists, is ours and editable."""
    conf = probe.settings.confluence
    summary, space = conf.summary_page, conf.summary_space
    if not (summary.enabled and space):
        return
    try:
        page = probe.confluence.find_page(space, summary.title)
    except AtlassianError as exc:
        yield Check("summary page", False, f"summary page space {space}: {explain('Confluence', exc)}")
        return
    yield Check("summary page", True, f"summary page space {space} is readable")
    if page is None:
        return
    if not is_marked(probe.confluence, page.id):
        yield Check("summary page", False, (
            f"the page {summary.title!r} (id {page.id}) in space {space} was not created by postmortem-sync (no "
            f"{SUMMARY_MARK} content property): it is never taken over as the summary page; rename or move it, "
            "or set summary_page.title"))
    editable = probe.confluence.can_edit(page.id)
    if editable is False:
        yield Check("summary page", False, (f"the account cannot edit the summary page {summary.title!r} (id "
                                            f"{page.id}), which also holds the write lease: give it edit permission"))
    elif editable:
        yield Check("summary page", True, f"the summary page {summary.title!r} is editable")
