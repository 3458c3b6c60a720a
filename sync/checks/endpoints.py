"""Checks of the REST routes the daemon picks: Confluence's API generation, and Jira's search endpoint.

Confluence Cloud: pages and properties through v2; minor edits through v1 while v1 content answers (a
classic API token on the site), through v2 (notifying watchers) where v1 answers 410 (OAuth, scoped
tokens through Atlassian's API gateway). Data Center: v1 throughout. Jira Cloud searches with
`/rest/api/3/search/jql` (the old `/search` answers 410 Gone); Data Center with `/rest/api/2/search`.
"""

from __future__ import annotations

from collections.abc import Iterator

from sync.checks import Check, Probe
from sync.checks.deployment import NAMES
from sync.checks.site import explain
from sync.ports import AtlassianError, Gone, NotFound
from sync.query import managed_jql
from sync.settings.section import gateway_product

SEARCH_ROUTES = {"cloud": "/rest/api/3/search/jql", "datacenter": "/rest/api/2/search"}


def confluence_api(probe: Probe) -> Iterator[Check]:
    """The API generation the daemon will use answers at the configured URL."""
    conf = probe.settings.confluence
    where = conf.api_url or conf.url
    try:
        kind = probe.confluence.deployment
        v1 = probe.confluence.answers("v1")
        v2 = probe.confluence.answers("v2") if kind == "cloud" else False
    except AtlassianError as exc:
        yield Check("confluence api", False, f"Confluence at {where}: {explain('Confluence', exc)}")
        return
    if not (v1 or v2):
        yield Check("confluence api", False, (
            f"no Confluence REST API answers at {where}: check confluence.url (Cloud: https://<site>.atlassian.net/"
            "wiki; Data Center: the base URL with its context path, e.g. https://wiki.example.com/confluence)"))
    elif kind == "cloud" and not v2:
        yield Check("confluence api", False, (
            f"Confluence at {where} answers REST v1 but no v2 (/api/v2): this is Data Center, or confluence.url "
            "is not the Cloud site's /wiki; set confluence.deployment = datacenter (or auto)"))
    elif kind == "datacenter" and not v1:
        yield Check("confluence api", False, (
            f"Confluence at {where} does not answer v1 content routes (404 or 410 Gone), which Data Center "
            "always has: this is Confluence Cloud; set confluence.deployment = cloud (or auto)"))
    else:
        yield Check("confluence api", True, _generations(kind, v1, via_gateway=bool(gateway_product(conf.api_url))))


def _generations(kind: str, v1: bool, *, via_gateway: bool) -> str:
    """Which generation answers and what the daemon does with it, in words."""
    if kind == "datacenter":
        return "Confluence Data Center REST v1 answers (pages, properties, search)"
    through = " through Atlassian's API gateway" if via_gateway else ""
    if v1:
        return (f"Confluence Cloud REST v2 answers{through} (pages, properties), and v1 content too: write-back "
                "and the summary page are minor edits (no notifications)")
    return (f"Confluence Cloud REST v2 answers{through}; v1 content routes are retired for this credential "
            "(410 Gone, as for scoped tokens and OAuth): write-back and summary page updates go through v2 as "
            "major edits, which notify watchers; a classic API token on the site URL keeps them minor")


def jira_search(probe: Probe) -> Iterator[Check]:
    """The search endpoint of the deployment the daemon uses answers."""
    kind = probe.jira.deployment
    route = SEARCH_ROUTES[kind]
    try:
        next(iter(probe.jira.search(managed_jql(probe.settings.jira.project, None), fields=("summary",))), None)
    except Gone:
        yield Check("jira search", False, (
            f"Jira answered 410 Gone on {route}: this is Jira Cloud, whose old search is retired; set "
            "jira.deployment = cloud (or auto) so that postmortem-sync uses /rest/api/3/search/jql"))
        return
    except NotFound as exc:
        if kind == "cloud":
            yield Check("jira search", False, (
                f"Jira has no {route} ({exc.message}): this is Jira Data Center (or an old Cloud proxy); set "
                "jira.deployment = datacenter (or auto) so that postmortem-sync uses /rest/api/2/search"))
            return
        raise
    except AtlassianError as exc:
        if exc.status in (401, 403):
            yield Check("jira search", False, f"Jira search on {route}: {explain('Jira', exc)}")
            return
        if exc.status != 400:  # 400: the endpoint answered, the query was refused (the project check says why)
            raise
    yield Check("jira search", True, f"Jira search answers on {route} ({NAMES[kind]})")
