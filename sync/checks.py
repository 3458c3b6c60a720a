"""`postmortem-sync check`: connectivity and permissions, each as a sentence a user can act on."""

from __future__ import annotations

from collections.abc import Iterator

from sync.ports import AtlassianError, AuthFailed, ConfluenceProbe, JiraProbe, NotFound, PermissionDenied
from sync.query import managed_jql, postmortem_cql
from sync.settings import Settings
from sync.summary_page import SUMMARY_MARK, is_marked


def _explain(service: str, exc: AtlassianError) -> str:
    if isinstance(exc, AuthFailed):
        return f"{service} rejected the credentials (HTTP 401): check the email and API token, or the PAT"
    if isinstance(exc, PermissionDenied):
        return f"{service} denied access (HTTP 403): give the service account the permission named above"
    if isinstance(exc, NotFound):
        return f"{service} could not find it (HTTP 404): check the key or id, and that the account can see it"
    return f"{service} answered: {exc}"


def run_checks(settings: Settings, jira: JiraProbe, confluence: ConfluenceProbe) -> Iterator[tuple[bool, str]]:
    """Yield (passed, message) for each check, going on after a failure."""
    try:
        info = jira.server_info()
        yield True, f"Jira reachable at {settings.jira.url} ({info.get('deploymentType', '?')}, {jira.deployment})"
    except AtlassianError as exc:
        yield False, f"Jira at {settings.jira.url}: {_explain('Jira', exc)}"
        return
    try:
        next(iter(jira.search(managed_jql(settings.jira.project, None), fields=("summary",))), None)
        yield True, f"Jira project {settings.jira.project} is searchable"
    except AtlassianError as exc:
        yield False, f"Jira project {settings.jira.project}: {_explain('Jira', exc)} (Browse projects permission)"
    yield from _create_screen_checks(settings, jira)
    try:
        pages = confluence.find_pages(postmortem_cql(settings.confluence, None), limit=1)
        first = next(iter(pages), None)
        yield True, ("Confluence search finds postmortem pages" if first
                     else "Confluence search works but finds no postmortem page: check spaces, labels and parent_pages")
    except AtlassianError as exc:
        yield False, f"Confluence at {settings.confluence.url}: {_explain('Confluence', exc)} (View space permission)"
    summary = settings.confluence.summary_page
    if summary.enabled and settings.confluence.summary_space:
        try:
            page = confluence.find_page(settings.confluence.summary_space, summary.title)
            yield True, f"summary page space {settings.confluence.summary_space} is readable"
            if page and not is_marked(confluence, page.id):
                yield False, (f"the page {summary.title!r} (id {page.id}) in space {settings.confluence.summary_space} "
                              f"was not created by postmortem-sync (no {SUMMARY_MARK} content property): it is never "
                              "taken over as the summary page; rename or move it, or set summary_page.title")
            editable = confluence.can_edit(page.id) if page else None
            if editable is False and page is not None:  # editable is only known for a page found
                yield False, (f"the account cannot edit the summary page {summary.title!r} (id {page.id}), which also "
                              "holds the write lease: give it edit permission on that page")
            elif editable:
                yield True, f"the summary page {summary.title!r} is editable"
        except AtlassianError as exc:
            yield False, f"summary page space {settings.confluence.summary_space}: {_explain('Confluence', exc)}"


def _create_screen_checks(settings: Settings, jira: JiraProbe) -> Iterator[tuple[bool, str]]:
    """The fields every ticket sets must be on the create screen, or Jira rejects the whole create."""
    j = settings.jira
    try:
        on_screen = jira.create_screen_fields(j.project, j.issue_type)
    except NotFound as exc:
        yield False, (f"Jira project {j.project}, issue type {j.issue_type}: {exc.message} "
                      "(check jira.project and jira.issue_type)")
        return
    except AtlassianError as exc:
        yield False, (f"Jira create screen of {j.project}/{j.issue_type}: {_explain('Jira', exc)} "
                      "(Create issues permission)")
        return
    needed = ["summary", "description", "labels", "duedate", "assignee"]
    needed += ["priority"] if j.priority_map or j.default_priority else []
    needed += ["components"] if j.components else []
    missing = [name for name in needed if name not in on_screen]
    if missing:
        yield False, (f"{', '.join(missing)} not on the create screen of {j.project}/{j.issue_type}: Jira rejects "
                      "every ticket that sets them; ask a Jira admin to add them to the screen")
    else:
        yield True, f"every field postmortem-sync sets is on the create screen of {j.project}/{j.issue_type}"
