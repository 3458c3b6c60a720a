"""The long-running daemon: a `schedule` loop around `run_cycle`, graceful shutdown, health endpoint.

SIGTERM and SIGINT only set a flag: the cycle under way finishes (its writes and state stay
consistent) and the loop exits before starting another. `once` defers them the same way
(`defer_shutdown`).
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import schedule
import structlog

from sync.health import HealthServer, HealthState

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class CycleOutcome:
    """What the health endpoint and the metrics need to know about one finished cycle."""

    ok: bool
    duration_s: float
    requests: dict[str, int]
    items: dict[str, int]
    completion_ratio: float | None
    pages: int


def defer_shutdown() -> threading.Event:
    """From now on SIGTERM/SIGINT only set the returned event (and log it once): the work under way finishes.

    For `once`, which runs one cycle in the main thread: a CronJob past its deadline gets SIGTERM, and the
    cycle then ends as `run`'s would, its lease released, instead of stopping wherever it was.
    """
    requested = threading.Event()

    def request(*_: object) -> None:
        if not requested.is_set():
            log.info("shutdown_requested")
        requested.set()

    signal.signal(signal.SIGTERM, request)
    signal.signal(signal.SIGINT, request)
    return requested


class Daemon:
    """Runs `cycle` now and then every `interval_s` until stopped."""

    def __init__(
        self,
        cycle: Callable[[], CycleOutcome],
        *,
        interval_s: float,
        health: HealthState,
        health_server: HealthServer | None = None,
    ) -> None:
        self._cycle = cycle
        self._interval_s = interval_s
        self._health = health
        self._health_server = health_server
        self._stop = threading.Event()
        self._scheduler = schedule.Scheduler()

    def stop(self, *_: object) -> None:
        """Ask the loop to exit after the cycle under way (a signal handler)."""
        if not self._stop.is_set():
            log.info("shutdown_requested")
        self._stop.set()

    def install_signal_handlers(self) -> None:
        """SIGTERM/SIGINT finish the current cycle, then exit."""
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)

    def run_forever(self) -> int:
        """Serve health, run a cycle at once and then on schedule; return the exit code."""
        if self._health_server is not None:
            self._health_server.start()
        # schedule annotates the interval as int, but it builds a timedelta from it: fractional seconds work.
        self._scheduler.every(self._interval_s).seconds.do(self._run_one)  # type: ignore[arg-type]
        try:
            self._run_one()
            while not self._stop.is_set():
                self._scheduler.run_pending()
                idle = self._scheduler.idle_seconds
                self._stop.wait(timeout=max(0.05, min(1.0, idle if idle is not None else 1.0)))
        finally:
            self._scheduler.clear()
            if self._health_server is not None:
                self._health_server.stop()
        log.info("daemon_stopped")
        return 0

    def _run_one(self) -> None:
        if self._stop.is_set():
            return
        self._health.cycle_started()
        started = time.monotonic()
        try:
            outcome = self._cycle()
        except Exception as exc:  # noqa: BLE001 - one failed cycle must not end the daemon
            log.error("cycle_crashed", error=f"{type(exc).__name__}: {exc}")
            outcome = CycleOutcome(False, time.monotonic() - started, {}, {}, None, 0)
        self._health.cycle_finished(
            outcome.ok,
            duration_s=outcome.duration_s,
            requests=outcome.requests,
            items=outcome.items,
            completion_ratio=outcome.completion_ratio,
            pages=outcome.pages,
        )
