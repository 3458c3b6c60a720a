"""Checks of identity: each product accepts its own credentials, and the owners named on real pages can be
found and assigned the way the daemon will (Cloud accountId; Data Center userkey -> username)."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import islice

from sync.checks import Check, Probe
from sync.models import Owner, Postmortem
from sync.page_parses import parse_pages
from sync.people import jira_owner
from sync.ports import AtlassianError, AuthFailed
from sync.query import postmortem_cql

SAMPLE_PAGES = 5  # postmortems read for owners
SAMPLE_OWNERS = 5  # distinct owners looked up (two requests each at most)


def product_tokens(probe: Probe) -> Iterator[Check]:
    """Data Center: Confluence accepts its own personal access token (tokens are per product)."""
    if probe.jira.deployment != "datacenter":
        return
    conf = probe.settings.confluence
    try:
        probe.confluence.current_user()
    except AuthFailed as exc:
        if exc.status is None:  # nothing was sent: no credential Confluence could take
            yield Check("confluence credentials", False, f"Confluence at {conf.url}: {exc.message}")
            return
        sent = "confluence.pat" if conf.pat else "the email and API token (confluence.pat is not set)"
        yield Check("confluence credentials", False, (
            f"Confluence at {conf.url} rejected {sent} (HTTP 401) while Jira accepts its own token: on Data "
            "Center personal access tokens are per product; set confluence.pat to a token created in Confluence "
            "(not a copy of jira.pat)"))
        return
    yield Check("confluence credentials", True, f"Confluence at {conf.url} accepts its own personal access token")


def owners(probe: Probe) -> Iterator[Check]:
    """A sample of the owners named on postmortem pages: each is found, and may be assigned issues in the project."""
    settings = probe.settings
    pages = list(islice(probe.confluence.find_pages(postmortem_cql(settings.confluence, None), limit=SAMPLE_PAGES),
                        SAMPLE_PAGES))
    sample = _sample(parse_pages(pages, settings)[0])
    project = settings.jira.project
    failed = False
    for owner, title in sample:
        problem, known_as = _owner_problem(probe, owner, project)
        if problem:
            failed = True
            yield Check("owners", False, f"{_name(known_as)} (owner on {title!r}): {problem}")
    if not failed:
        yield Check("owners", True, f"{len(sample)} owner(s) named on {len(pages)} postmortem page(s) can be "
                    f"assigned issues in {project}" if sample else "no owner mention found on the sampled pages")


def _sample(postmortems: list[Postmortem]) -> list[tuple[Owner, str]]:
    """Up to SAMPLE_OWNERS distinct owner mentions, each with the title of a page naming it."""
    seen: dict[tuple[str | None, ...], tuple[Owner, str]] = {}
    for pm in postmortems:
        for item in pm.items:
            owner = item.owner
            if owner and owner.is_mention:
                seen.setdefault((owner.account_id, owner.userkey, owner.username), (owner, pm.title))
    return list(seen.values())[:SAMPLE_OWNERS]


def _mismatch(probe: Probe, owner: Owner) -> str:
    """Why a mention may name nobody here: the other deployment's kind of identifier (a page moved across)."""
    cloud = probe.jira.deployment == "cloud"
    if cloud and not owner.account_id:
        return " (a Data Center userkey or username: Cloud knows people by account id)"
    if not cloud and owner.account_id and not (owner.userkey or owner.username):
        return " (a Cloud account id: Data Center knows people by userkey and username)"
    return ""


def _owner_problem(probe: Probe, owner: Owner, project: str) -> tuple[str | None, Owner]:
    """Why tickets of this owner would go unassigned (None: they would not), and the owner as resolved."""
    try:
        resolved = jira_owner(owner, probe.confluence.person)
        if resolved is None:
            return (f"Confluence does not know the userkey {owner.userkey}: the daemon reports unknown-user and "
                    "leaves the tickets unassigned"), owner
        assignable = probe.jira.assignable(project, resolved)
    except AtlassianError as exc:
        return f"could not be looked up: {exc}", owner
    if assignable is None:
        return f"names nobody Jira can assign{_mismatch(probe, owner)}: the tickets go unassigned", resolved
    if not assignable:
        return (f"Jira cannot assign them issues in {project} (no account, inactive, or no Assignable User "
                "permission): the tickets go unassigned and unknown-user is reported"), resolved
    return None, resolved


def _name(owner: Owner) -> str:
    return owner.display or owner.username or owner.account_id or f"userkey {owner.userkey}"
