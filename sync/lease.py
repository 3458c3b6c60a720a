"""Who may write: a lease held in a Confluence content property, so two daemons never both create.

Two instances (a rolling deploy, a second replica by mistake) each read, plan and would create the
same issues. Before a cycle writes, it holds the lease: a small JSON document in the content property
`pmsync-lease` of the summary page. Confluence versions content properties, so taking the lease is a
compare-and-swap: of two daemons writing the same version, exactly one succeeds.

- A live lease of another holder blocks every write; the cycle only reads and reports `lease-held`.
- A holder that takes over from another one (released, or expired after a crash) first waits for
  the search-lag grace: its reads must start after the previous holder's last write is searchable,
  else it could miss issues just created and create them again.
- The first holder ever (no property yet) writes at once: nobody wrote before it.
- A holder renews only when less than half its term is left, so most cycles send no lease request.

The holder's identity lives in the local state, so a restarted daemon (same state) is the same
holder and never waits for itself. Clocks of the instances are assumed to agree within a minute.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

LEASE_PROPERTY = "pmsync-lease"
NEVER = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class Lease:
    holder: str
    since: datetime  # when this holder's tenure began (NEVER: it was the first holder)
    expires: datetime

    def to_json(self) -> dict:
        return {"holder": self.holder, "since": self.since.isoformat(), "expires": self.expires.isoformat()}

    @classmethod
    def from_json(cls, doc: object) -> Lease | None:
        """The lease in a property value; None when it is not one of ours (then it is treated as expired)."""
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:
                return None
        try:
            return cls(str(doc["holder"]), datetime.fromisoformat(doc["since"]), datetime.fromisoformat(doc["expires"]))
        except (TypeError, KeyError, ValueError):
            return None


def claim(current: Lease | None, me: str, now: datetime, term: timedelta, *, exists: bool) -> Lease | None:
    """The lease to write so that `me` holds it from `now`; None while another holder's lease is live.

    `exists`: whether a lease property is there at all (an unreadable one counts as expired).
    """
    if current is not None and current.holder != me and current.expires > now:
        return None
    if current is not None and current.holder == me:
        since = current.since
    else:
        since = now if exists else NEVER
    return Lease(me, since, now + term)


def may_write(lease: Lease, me: str, reads_started: datetime, grace: timedelta) -> bool:
    """Whether a cycle whose reads started at `reads_started` may write under `lease`."""
    return lease.holder == me and (lease.since == NEVER or reads_started >= lease.since + grace)


def needs_renewal(lease: Lease | None, me: str, now: datetime, term: timedelta) -> bool:
    """Whether the lease we remember must be read and written again before this cycle writes."""
    return lease is None or lease.holder != me or lease.expires - now < term / 2


def released(lease: Lease, now: datetime) -> Lease:
    """The same lease, ended now, so that another instance may take over at once."""
    return Lease(lease.holder, lease.since, min(lease.expires, now))
