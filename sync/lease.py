"""Who may write: a lease held in a Confluence content property, so two daemons never both create.

Two instances (a rolling deploy, a second replica by mistake) each read, plan and would create the
same issues. Before a cycle writes, it holds the lease: a small JSON document in the content property
`pmsync-lease` of the summary page. Confluence versions content properties, so taking the lease is a
compare-and-swap: of two daemons writing the same version, exactly one succeeds.

- A live lease of another holder blocks every write; the cycle only reads and reports `lease-held`.
- A holder that takes over from another one may have to wait for the search-lag grace: its reads
  must start after the previous holder's creates are searchable, else it could miss issues just
  created and create them again. That matters only for a create a successor can find by search
  alone: one whose outcome its holder never learnt (an intent left in the journal), or whose key did
  not reach its page. So a holder that releases the lease cleanly records in it when it last sent
  such a create (`last_write`; NEVER: none), and the next holder waits until that write plus the
  grace, which is usually long past: a CronJob's pods, each a new holder, write at once. A holder
  that died (its lease expired, never released) may have written just now: the next one waits the
  grace from when it takes over.
- The first holder ever (no property yet) writes at once: nobody wrote before it.
- A holder renews only when less than half its term is left, so most cycles send no lease request.

The holder's identity lives in the local state, so a restarted daemon (same state) is the same
holder and never waits for itself. Lease times are on Jira's clock (sync.clock), so the instances'
own clocks need not agree.

The rules are pure functions (`claim`, `may_write`, `needs_renewal`, `released`); `hold` and
`release` do the lease's I/O beside them, through the ConfluencePort and the state's meta table,
where `note_creates` keeps what `release` records.
"""

from __future__ import annotations

import json
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog

from sync.apply import ApplyResult
from sync.models import Plan, SummaryPage
from sync.ports import AtlassianError, ConfluencePort, NotFound, PermissionDenied, VersionConflict
from sync.problems import Problem, ProblemKind
from sync.settled import SETTLED_META
from sync.state import State
from sync.summary_page import ForeignSummaryPage, summary_page_id

log = structlog.get_logger(__name__)

LEASE_PROPERTY = "pmsync-lease"
NEVER = datetime(1970, 1, 1, tzinfo=UTC)
DENIED = ("the account cannot edit the summary page, which holds the write lease (HTTP 403): "
          "give it edit permission, or set sync.lease_minutes = 0 if one instance runs")


@dataclass(frozen=True)
class Lease:
    holder: str
    since: datetime  # this holder's writes wait until `since` + the grace (NEVER: they need not wait)
    expires: datetime
    # Set by a clean release: when the holder last sent a create a successor can find only by search
    # (NEVER: none). None: not released cleanly (or by a version that did not say).
    last_write: datetime | None = None

    def to_json(self) -> dict[str, str]:
        doc = {"holder": self.holder, "since": self.since.isoformat(), "expires": self.expires.isoformat()}
        return doc | ({"last_write": self.last_write.isoformat()} if self.last_write is not None else {})

    @classmethod
    def from_json(cls, doc: object) -> Lease | None:
        """The lease in a property value; None when it is not one of ours (then it is treated as expired)."""
        if isinstance(doc, str):
            try:
                doc = json.loads(doc)
            except ValueError:
                return None
        if not isinstance(doc, dict):
            return None
        try:
            last_write = datetime.fromisoformat(doc["last_write"]) if doc.get("last_write") else None
            return cls(str(doc["holder"]), datetime.fromisoformat(doc["since"]), datetime.fromisoformat(doc["expires"]),
                       last_write)
        except (TypeError, KeyError, ValueError, AttributeError):
            return None


def claim(current: Lease | None, me: str, now: datetime, term: timedelta, *, exists: bool) -> Lease | None:
    """The lease to write so that `me` holds it from `now`; None while another holder's lease is live.

    `exists`: whether a lease property is there at all (an unreadable one counts as expired).
    """
    if current is not None and current.holder != me and current.expires > now:
        return None
    if current is not None and current.holder == me:
        since = current.since
    elif not exists:
        since = NEVER  # the first holder ever: nobody wrote before it
    elif current is None or current.last_write is None:
        since = now  # an unreadable lease, or a holder that died: it may have written just now
    else:
        since = current.last_write  # a clean release says when its last create a search could miss was sent
    return Lease(me, since, now + term)


def may_write(lease: Lease, me: str, reads_started: datetime, grace: timedelta) -> bool:
    """Whether a cycle whose reads started at `reads_started` may write under `lease`."""
    return lease.holder == me and (lease.since == NEVER or reads_started >= lease.since + grace)


def needs_renewal(lease: Lease | None, me: str, now: datetime, term: timedelta) -> bool:
    """Whether the lease we remember must be read and written again before this cycle writes."""
    return lease is None or lease.holder != me or lease.expires - now < term / 2


def released(lease: Lease, now: datetime, *, last_write: datetime | None = None) -> Lease:
    """The same lease, ended now, so that another instance may take over at once; `last_write` as recorded
    (see Lease); None says nothing, so the next holder waits the grace from when it takes over."""
    return Lease(lease.holder, lease.since, min(lease.expires, now), last_write)


def hold(confluence: ConfluencePort, state: State, where: SummaryPage | None, now: datetime, *,
         term: timedelta, grace: timedelta) -> Problem | None:
    """None when this cycle may write: it holds the lease (taken or renewed as needed), or the lease is off.

    Otherwise the problem that says why not; the lease we remember is then forgotten where it may be stale.
    """
    if not term or where is None:
        return None  # lease off, or no summary page to keep it on: a single instance is assumed
    try:
        page_id = summary_page_id(confluence, state, where)
        meta = state.meta()
        me = _instance_id(state, meta)
        lease = Lease.from_json(meta["lease"]) if "lease" in meta else None
        if lease is None or needs_renewal(lease, me, now, term):
            lease, held = _take(confluence, state, page_id, me, now, term)
            if held:
                return held
    except ForeignSummaryPage as exc:  # never made to hold the lease
        return exc.problem()
    except AtlassianError as exc:
        return _forget(state, exc)
    assert lease is not None  # _take hands back a lease whenever it hands back no problem
    if not may_write(lease, me, now, grace):
        log.info("lease_handover", since=lease.since.isoformat())
        return Problem(ProblemKind.LEASE_HANDOVER, None,
                       f"writes resume after {lease.since.isoformat()} + the search-lag grace")
    return None


def _take(confluence: ConfluencePort, state: State, page_id: str, me: str, now: datetime,
          term: timedelta) -> tuple[Lease, None] | tuple[None, Problem]:
    """Read the lease and write ours over it (compare-and-swap); the `lease-held` problem while another's is live."""
    found = confluence.get_property(page_id, LEASE_PROPERTY)
    current = Lease.from_json(found[0]) if found else None
    lease = claim(current, me, now, term, exists=found is not None)
    if lease is None:
        assert current is not None  # claim refuses only while another holder's lease is live
        state.set_meta(lease=None)
        log.warning("lease_held", holder=current.holder, expires=current.expires.isoformat())
        return None, Problem(ProblemKind.LEASE_HELD, current.holder, f"until {current.expires.isoformat()}")
    confluence.set_property(page_id, LEASE_PROPERTY, lease.to_json(), found[1] if found else None)
    state.set_meta(lease=json.dumps(lease.to_json()))
    return lease, None


def _forget(state: State, exc: AtlassianError) -> Problem:
    """After a failed lease read or write: forget what we remember of it (it may be stale) and say why."""
    if isinstance(exc, NotFound):  # the summary page was deleted: the next cycle finds or creates it again
        state.set_meta(lease=None, summary_page_id=None, summary_digest=None, summary_marked=None,
                       **{SETTLED_META: None})  # the summary page must be found (or made) and written again
        return Problem(ProblemKind.LEASE_PAGE_MISSING, None, "the summary page is gone; it is created again next cycle")
    state.set_meta(lease=None)
    if isinstance(exc, PermissionDenied):
        return Problem(ProblemKind.LEASE_DENIED, None, DENIED)
    if isinstance(exc, VersionConflict):
        log.warning("lease_lost")
        return Problem(ProblemKind.LEASE_LOST, None, "another instance took the write lease first")
    return Problem(ProblemKind.LEASE_FAILED, None, str(exc))  # a write that may or may not have landed


def release(confluence: ConfluencePort, state: State, now: datetime) -> None:
    """End our lease on shutdown so that another instance can take over at once; errors only log."""
    meta = state.meta()
    page_id = meta.get("summary_page_id")
    if "lease" not in meta or not page_id:
        return
    try:
        found = confluence.get_property(page_id, LEASE_PROPERTY)
        current = Lease.from_json(found[0]) if found else None
        if found and current and current.holder == meta.get("instance_id"):
            ended = released(current, now, last_write=_unsettled_write(state, meta, now))
            confluence.set_property(page_id, LEASE_PROPERTY, ended.to_json(), found[1])
    except AtlassianError as exc:
        log.warning("lease_release_failed", error=str(exc))
    state.set_meta(lease=None)


def note_creates(state: State, plan: Plan, applied: ApplyResult, now: datetime, *, write_back: bool) -> None:
    """After a cycle's writes: remember when creates were last sent, and when last one a successor could find
    only by search (its key did not reach its page); `now` is taken after the writes, so it bounds them.

    A reminder sent counts as such a write: without the state, only its label (a search) tells it was sent."""
    if plan.reminders:
        state.set_meta(search_only_create_at=now.isoformat())
    if not (plan.creates or plan.epics):
        return
    state.set_meta(last_create_at=now.isoformat())
    unwritten = {ProblemKind.WRITE_BACK_FAILED, ProblemKind.WRITE_BACK_GAVE_UP}
    if applied.created and (not write_back or any(p.kind in unwritten for p in applied.problems)):
        state.set_meta(search_only_create_at=now.isoformat())


def _unsettled_write(state: State, meta: dict[str, str], now: datetime) -> datetime:
    """When this instance last sent a create a successor could find only by search; NEVER when none.

    A create whose key is not on its page is noted. An intent still in the journal is a create whose outcome
    never came back: it was sent by the last noted create, unless it was journalled after that note (its
    cycle ended before noting): then all we know is that it was sent before now.
    """
    times = [datetime.fromisoformat(meta["search_only_create_at"])] if "search_only_create_at" in meta else []
    intents = state.intents().values()
    if intents:
        noted = datetime.fromisoformat(meta["last_create_at"]) if "last_create_at" in meta else NEVER
        times.append(noted if max(intents) <= noted else now)
    return max(times, default=NEVER)


def _instance_id(state: State, meta: dict[str, str]) -> str:
    """This installation's lease holder name: the host plus a random suffix kept in the state."""
    if "instance_id" not in meta:
        state.set_meta(instance_id=f"{socket.gethostname()}/{uuid.uuid4().hex[:8]}")
        return state.meta()["instance_id"]
    return meta["instance_id"]
