"""`postmortem-sync check`: a read-only first-contact probe of a site, one named result per assumption we make.

Each module here is one group of checks: a function taking a `Probe` and yielding `Check`s. A group
goes on after a failure where it can; one group failing never stops the next, except that nothing
is worth asking once the site has refused the credentials.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from sync.ports import AtlassianError, AuthFailed, ConfluenceProbe, JiraProbe
from sync.settings import Settings


class Check(NamedTuple):
    """One assumption checked: a short name, whether it holds, and a sentence an administrator can act on."""

    name: str
    passed: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "passed": self.passed, "message": self.message}


@dataclass(frozen=True)
class Probe:
    """What every group of checks reads: the configuration and the two read-only ports."""

    settings: Settings
    jira: JiraProbe
    confluence: ConfluenceProbe


CheckGroup = Callable[[Probe], Iterator[Check]]


def _groups() -> list[CheckGroup]:
    # the groups import Check and Probe from this module
    from sync.checks import board, clock, deployment, endpoints, pages, people, site, summary_lease, workflow

    return [
        deployment.deployment,  # before the credentials: says whether they are of the right kind
        site.credentials,
        people.product_tokens,
        endpoints.confluence_api,
        clock.server_clock,  # once both servers answered (their `Date` headers)
        clock.time_zone,
        endpoints.jira_search,
        site.jira_project,
        site.create_screen,
        workflow.create_requirements,
        workflow.edit_screen,
        workflow.done_transitions,
        workflow.epic_name,
        board.sprint_board,
        site.confluence_search,
        pages.postmortem_pages,
        site.summary_page,
        people.owners,
        summary_lease.write_lease,
    ]


def run_checks(settings: Settings, jira: JiraProbe, confluence: ConfluenceProbe) -> Iterator[Check]:
    """Yield every check's result in order, going on after a failure (but not past refused credentials)."""
    probe = Probe(settings, jira, confluence)
    for group in _groups():
        results = _guarded(group, probe)
        for check in results:
            yield check
            if check.name == "credentials" and not check.passed:
                return


def _guarded(group: CheckGroup, probe: Probe) -> Iterator[Check]:
    """A group's checks; an Atlassian error it did not expect becomes its failed check, not a crash."""
    try:
        yield from group(probe)
    except AuthFailed:
        yield Check(group.__name__.replace("_", " "), False,
                    "not checked: the site refused the credentials (HTTP 401), see the lines above")
    except AtlassianError as exc:
        answer = " ".join(str(exc).split())
        yield Check(group.__name__.replace("_", " "), False,
                    f"unexpected answer: {answer[:200]}{'…' if len(answer) > 200 else ''}")
