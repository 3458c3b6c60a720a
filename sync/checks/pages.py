"""Check of how many postmortem pages the configuration selects (the CQL built from `confluence.*`)."""

from __future__ import annotations

from collections.abc import Iterator

from sync.checks import Check, Probe
from sync.checks.site import explain
from sync.ports import AtlassianError
from sync.query import postmortem_cql


def postmortem_pages(probe: Probe) -> Iterator[Check]:
    """The configured CQL selects at least one page; how many (Confluence Cloud's count is an estimate)."""
    cql = postmortem_cql(probe.settings.confluence, None)
    try:
        count = probe.confluence.count_pages(cql)
    except AtlassianError as exc:
        yield Check("postmortem pages", False, f"counting the pages of {cql!r}: {explain('Confluence', exc)}")
        return
    if count is None:
        yield Check("postmortem pages", True, f"Confluence does not say how many pages {cql!r} selects")
    elif count == 0:
        yield Check("postmortem pages", False, (
            f"the configuration selects no page ({cql}): postmortem-sync would do nothing; check "
            "confluence.spaces, confluence.labels, confluence.parent_pages or confluence.cql, and that the account "
            "may view those spaces (archived pages are never selected)"))
    else:
        about = "about " if probe.confluence.deployment == "cloud" else ""
        yield Check("postmortem pages", True, f"the configuration selects {about}{count} postmortem page(s) ({cql})")
