"""The daemon's operational surface: /healthz, /readyz and Prometheus /metrics over plain HTTP.

`HealthState` is what the daemon feeds (one call when a cycle starts, one when it ends); it owns a
dedicated `CollectorRegistry`, so several can coexist in one process (tests). `HealthServer`
serves one `HealthState` from a stdlib `HTTPServer` in a daemon thread, one short-lived thread per
connection but never more than `workers` at once, and drops a connection idle for `idle_timeout_s`:
a flood of half-sent requests costs a bounded number of threads, and a probe gets through again
as soon as it stops. Broken connections are logged as events, never as tracebacks on stderr.
"""

from __future__ import annotations

import json
import math
import socket
import sys
import threading
import time
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from urllib.parse import urlsplit

import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge
from prometheus_client.exposition import choose_encoder

log = structlog.get_logger(__name__)

SERVICES = ("jira", "confluence")
ITEM_STATES = ("open", "done", "overdue", "removed")


class HealthState:
    """Liveness/readiness bookkeeping and the Prometheus metrics of the sync cycles.

    `clock` returns wall-clock seconds since the epoch: the same reading feeds readiness and
    `pmsync_last_success_timestamp_seconds`, which alert rules compare with Prometheus' `time()`.
    """

    def __init__(
        self,
        interval_s: float,
        *,
        startup_grace_s: float = 60.0,
        clock: Callable[[], float] = time.time,
        registry: CollectorRegistry | None = None,
    ) -> None:
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        self.interval_s = float(interval_s)
        self.startup_grace_s = float(startup_grace_s)
        self.registry = registry if registry is not None else CollectorRegistry()
        self._clock = clock
        self._lock = threading.Lock()
        self._started_at = clock()
        self._last_ok: bool | None = None  # None: no cycle has finished yet
        self._last_success_at: float | None = None
        self._register_metrics(self.registry)

    def _register_metrics(self, r: CollectorRegistry) -> None:
        """Create the metrics in the registry, every known label child included."""
        self._cycles = Counter("pmsync_cycles_total", "Sync cycles finished, failed ones included.", registry=r)
        self._failures = Counter("pmsync_cycle_failures_total", "Sync cycles that failed.", registry=r)
        self._requests = Counter(
            "pmsync_requests_total", "HTTP requests sent to Atlassian, by service.", ["service"], registry=r
        )
        self._items = Gauge(
            "pmsync_items", "Managed action items by state, as of the last good cycle.", ["state"], registry=r
        )
        self._ratio = Gauge(
            "pmsync_completion_ratio", "Done / all items as of the last good cycle; NaN if none.", registry=r
        )
        self._last_success = Gauge(
            "pmsync_last_success_timestamp_seconds", "Unix time the last good cycle ended; 0 if none.", registry=r
        )
        self._duration = Gauge(
            "pmsync_last_cycle_duration_seconds", "Wall time of the last finished cycle.", registry=r
        )
        self._pages = Gauge("pmsync_pages", "Postmortem pages seen by the last good cycle.", registry=r)
        self._in_progress = Gauge("pmsync_cycle_in_progress", "1 while a cycle runs.", registry=r)

        # Create every known label child up front so a scrape shows 0 rather than "absent",
        # which keeps rate() and absent()-based alerts simple.
        for service in SERVICES:
            self._requests.labels(service=service)
        for state in ITEM_STATES:
            self._items.labels(state=state)
        # 0% would page someone on a fresh start; NaN makes "< threshold" rules stay quiet.
        self._ratio.set(math.nan)

    def cycle_started(self) -> None:
        """Mark a cycle as running."""
        self._in_progress.set(1)

    def cycle_finished(
        self,
        ok: bool,
        *,
        duration_s: float,
        requests: Mapping[str, int],
        items: Mapping[str, int],
        completion_ratio: float | None,
        pages: int,
    ) -> None:
        """Record a finished cycle; item, ratio and page gauges only move when it succeeded.

        A failed cycle may have seen only part of the corpus (principle 4), so its counts would
        make the dashboard lie; the last good values stay until the next success.
        """
        now = self._clock()
        self._in_progress.set(0)
        self._cycles.inc()
        self._duration.set(duration_s)
        for service, count in requests.items():
            if count:
                self._requests.labels(service=service).inc(count)
        if not ok:
            self._failures.inc()
        else:
            for state in {*ITEM_STATES, *items}:
                self._items.labels(state=state).set(items.get(state, 0))
            self._ratio.set(math.nan if completion_ratio is None else completion_ratio)
            self._pages.set(pages)
            self._last_success.set(now)
        with self._lock:
            self._last_ok = ok
            if ok:
                self._last_success_at = now

    def readiness(self) -> tuple[bool, str]:
        """Whether the daemon is doing its job, and a short reason either way."""
        now = self._clock()
        with self._lock:
            last_ok, last_success_at = self._last_ok, self._last_success_at
        if last_ok:
            return True, "last cycle succeeded"
        if last_ok is None:
            if now - self._started_at < self.interval_s + self.startup_grace_s:
                return True, "starting: no cycle finished yet"
            return False, f"no cycle finished in {now - self._started_at:.0f}s since start"
        # One failed cycle (an Atlassian blip) is tolerated while the last success is recent.
        if last_success_at is not None and now - last_success_at <= 2 * self.interval_s:
            return True, "last cycle failed; last success within 2 intervals"
        if last_success_at is None:
            return False, "last cycle failed; no success since start"
        return False, f"last cycle failed; last success {now - last_success_at:.0f}s ago"


class _Server(HTTPServer):
    """A thread per connection, at most `workers` at a time; a connection beyond them is closed at once."""

    BUSY_LOG_EVERY_S = 60.0
    request_queue_size = 128  # the listen backlog: a burst waits to be accepted (and refused) rather than retrying SYNs

    def __init__(self, address: tuple[str, int], state: HealthState, *, workers: int, idle_timeout_s: float) -> None:
        if ":" in address[0]:  # an IPv6 literal such as "::"
            self.address_family = socket.AF_INET6
        self.state = state
        self.idle_timeout_s = idle_timeout_s
        self._slots = threading.BoundedSemaphore(workers)
        self._refused = 0
        self._refused_logged_at = -self.BUSY_LOG_EVERY_S
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self._note_refused()
            self.shutdown_request(request)
            return
        # A daemon thread: a stuck scrape must never block shutdown.
        threading.Thread(target=self._serve, args=(request, client_address), name="pmsync-health-conn",
                         daemon=True).start()

    def _serve(self, request: Any, client_address: Any) -> None:
        try:
            self.finish_request(request, client_address)
        except Exception:  # noqa: BLE001 - a broken connection is an event, not a crash
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            self._slots.release()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log the failed connection as an event (socketserver would print a traceback to stderr)."""
        exc = sys.exc_info()[1]
        log.warning("health_connection_failed", client=str(client_address[0]), error=f"{type(exc).__name__}: {exc}")

    def _note_refused(self) -> None:
        """Count a connection closed for want of a worker; say so at most once a minute (a flood is one event)."""
        self._refused += 1
        now = time.monotonic()
        if now - self._refused_logged_at >= self.BUSY_LOG_EVERY_S:
            log.warning("health_server_busy", refused=self._refused, workers_busy=True)
            self._refused, self._refused_logged_at = 0, now


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "postmortem-sync"

    def setup(self) -> None:
        super().setup()
        self.connection.settimeout(self.server.idle_timeout_s)  # every read and write; an idle client is dropped

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        state = self.server.state
        if path == "/healthz":
            self._send(200, b"ok\n", "text/plain; charset=utf-8")
        elif path == "/readyz":
            ready, reason = state.readiness()
            body = json.dumps({"ready": ready, "reason": reason}).encode() + b"\n"
            self._send(200 if ready else 503, body, "application/json")
        elif path == "/metrics":
            encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
            self._send(200, encoder(state.registry), content_type)
        else:
            self._send(404, b"not found\n", "text/plain; charset=utf-8")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # probes and scrapes every few seconds would drown the event log

    def log_error(self, format: str, *args: object) -> None:
        # A malformed or timed-out request: an event in the JSON log, not a line on stderr.
        log.info("health_request_refused", client=self.client_address[0], reason=format % args)


class HealthServer:
    """Serves a `HealthState` on host:port from a daemon thread; port 0 picks a free port.

    At most `workers` connections are served at once (more are closed at once), and a connection
    that sends nothing for `idle_timeout_s` is dropped.
    """

    def __init__(self, state: HealthState, host: str = "127.0.0.1", port: int = 9464, *, workers: int = 8,
                 idle_timeout_s: float = 5.0) -> None:
        self.state = state
        self.host = host
        self.workers = workers
        self.idle_timeout_s = idle_timeout_s
        self._port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port once started (the real one when asked for 0), else the configured one."""
        return self._httpd.server_address[1] if self._httpd else self._port

    def start(self) -> None:
        """Bind and start serving; raises OSError if the port is taken."""
        if self._httpd is not None:
            raise RuntimeError("health server already started")
        self._httpd = _Server((self.host, self._port), self.state, workers=self.workers,
                              idle_timeout_s=self.idle_timeout_s)
        # The poll interval bounds how long stop() waits; 0.1 s of idle wake-ups costs nothing.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.1}, name="pmsync-health", daemon=True
        )
        self._thread.start()
        log.info("health_server_started", host=self.host, port=self.port)

    def stop(self) -> None:
        """Stop serving and release the port; safe to call twice."""
        httpd, thread = self._httpd, self._thread
        if httpd is None:
            return
        httpd.shutdown()
        httpd.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._httpd = self._thread = None
        log.info("health_server_stopped", host=self.host)

    def __enter__(self) -> HealthServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
