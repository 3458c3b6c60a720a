"""`postmortem-sync check`: connectivity and permissions, each as a sentence a user can act on."""

from __future__ import annotations

from collections.abc import Iterator

from sync.cycle import managed_jql, postmortem_cql
from sync.ports import AtlassianError, AuthFailed, ConfluencePort, JiraPort, NotFound, PermissionDenied
from sync.settings import Settings


def _explain(service: str, exc: AtlassianError) -> str:
    if isinstance(exc, AuthFailed):
        return f"{service} rejected the credentials (HTTP 401): check the email and API token, or the PAT"
    if isinstance(exc, PermissionDenied):
        return f"{service} denied access (HTTP 403): give the service account the permission named above"
    if isinstance(exc, NotFound):
        return f"{service} could not find it (HTTP 404): check the key or id, and that the account can see it"
    return f"{service} answered: {exc}"


def run_checks(settings: Settings, jira: JiraPort, confluence: ConfluencePort) -> Iterator[tuple[bool, str]]:
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
            confluence.find_page(settings.confluence.summary_space, summary.title)
            yield True, f"summary page space {settings.confluence.summary_space} is readable"
        except AtlassianError as exc:
            yield False, f"summary page space {settings.confluence.summary_space}: {_explain('Confluence', exc)}"
