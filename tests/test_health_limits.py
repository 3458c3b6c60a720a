"""The health server under abuse: idle half-sent requests and broken connections cost bounded threads and
leave only JSON events behind (no tracebacks on stderr)."""

from __future__ import annotations

import socket
import struct
import threading
import time
import urllib.request

import pytest
from structlog.testing import capture_logs

from sync.health import HealthServer, HealthState

IDLE = 300


@pytest.fixture
def state() -> HealthState:
    return HealthState(300.0)


def half_sent(port: int) -> socket.socket:
    """A connection that sends the start of a request and then nothing (a slowloris client)."""
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
    return conn


def closed_by_server(conn: socket.socket) -> bool:
    try:
        return conn.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def healthz(port: int) -> int:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
        return response.status


def test_idle_half_sent_requests_hold_a_bounded_number_of_threads_and_time_out(state):
    with HealthServer(state, port=0, workers=4, idle_timeout_s=1.0) as server:
        before = threading.active_count()
        connections = [half_sent(server.port) for _ in range(IDLE)]
        try:
            time.sleep(0.5)
            assert threading.active_count() <= before + 4  # not one thread per connection
            started = time.monotonic()
            assert all(closed_by_server(conn) for conn in connections)  # busy ones at once, idle ones on timeout
            assert time.monotonic() - started < 5
            assert healthz(server.port) == 200
        finally:
            for conn in connections:
                conn.close()
        deadline = time.monotonic() + 5  # the last probe's thread is closing its connection
        while threading.active_count() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert threading.active_count() <= before


def test_the_defaults_bound_workers_and_idle_time(state):
    server = HealthServer(state, port=0)
    assert 1 <= server.workers <= 16 and 0 < server.idle_timeout_s <= 10


def test_broken_connections_are_json_events_not_tracebacks(state, capfd):
    with capture_logs() as events, HealthServer(state, port=0) as server:
        conn = half_sent(server.port)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()  # a reset in the middle of the request
        deadline = time.monotonic() + 5
        while not any(e["event"] == "health_connection_failed" for e in events) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert healthz(server.port) == 200
    failed = [e for e in events if e["event"] == "health_connection_failed"]
    assert failed and failed[0]["error"].startswith("ConnectionResetError"), events
    assert "Traceback" not in capfd.readouterr().err
