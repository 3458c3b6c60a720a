"""Check of the write lease (`sync.lease`): its content property on the summary page can be read, and who holds it.

Read-only: `check` never takes or writes the lease. Writing it needs edit permission on the summary page,
which the summary page check reports. Lease times are on Jira's clock, as the daemons compare them.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sync.checks import Check, Probe
from sync.checks.site import explain
from sync.lease import LEASE_PROPERTY, Lease
from sync.ports import AtlassianError


def write_lease(probe: Probe) -> Iterator[Check]:
    """The lease property is readable; free, expired, or held by an instance until a time."""
    conf, minutes = probe.settings.confluence, probe.settings.sync.lease_minutes
    summary, space = conf.summary_page, conf.summary_space
    if not minutes or not (summary.enabled and space):
        yield Check("write lease", True, "the write lease is off (sync.lease_minutes = 0 or no summary page): run "
                    "one instance only")
        return
    try:
        page = probe.confluence.find_page(space, summary.title)
        found = probe.confluence.get_property(page.id, LEASE_PROPERTY) if page else None
    except AtlassianError as exc:
        yield Check("write lease", False, f"reading the {LEASE_PROPERTY} property of the summary page: "
                    f"{explain('Confluence', exc)} (View permission on the page)")
        return
    if page is None:
        yield Check("write lease", True, "no summary page yet: the first cycle creates it and takes the write lease")
        return
    yield Check("write lease", True, _holding(found, probe.jira.server_time() or datetime.now(UTC)))


def _holding(found: tuple[object, int] | None, now: datetime) -> str:
    """Who holds the lease and until when, in words."""
    if found is None:
        return f"the write lease ({LEASE_PROPERTY}) is readable and free: no instance has held it yet"
    lease = Lease.from_json(found[0])
    if lease is None:
        return (f"the {LEASE_PROPERTY} property holds no lease postmortem-sync wrote: it counts as expired and is "
                "overwritten by the next cycle")
    if lease.expires <= now:
        return f"the write lease is readable and free (last held by {lease.holder}, until {lease.expires.isoformat()})"
    left = round((lease.expires - now).total_seconds() / 60)
    return (f"the write lease is held by {lease.holder} until {lease.expires.isoformat()} (Jira's clock, {left} min "
            "from now): while it runs, another instance only reads; one that stopped without releasing it "
            "blocks writes until then")
