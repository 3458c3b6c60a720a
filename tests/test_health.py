"""The health server over real HTTP on a free port, with an injected clock."""

from __future__ import annotations

import json
import math
import urllib.error
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from sync.health import HealthServer, HealthState

INTERVAL = 300.0
GRACE = 60.0


class FakeClock:
    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(clock: FakeClock) -> HealthState:
    return HealthState(INTERVAL, startup_grace_s=GRACE, clock=clock)


@pytest.fixture
def server(state: HealthState):
    with HealthServer(state, host="127.0.0.1", port=0) as srv:
        yield srv


def get(server: HealthServer, path: str) -> tuple[int, str, str]:
    """Status, content type and body of GET path; HTTP errors are answers, not exceptions."""
    url = f"http://127.0.0.1:{server.port}{path}"
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return resp.status, resp.headers["Content-Type"], resp.read().decode()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, err.headers["Content-Type"], err.read().decode()


def ready(server: HealthServer) -> tuple[int, dict]:
    status, ctype, body = get(server, "/readyz")
    assert ctype == "application/json"
    return status, json.loads(body)


def finish(state: HealthState, ok: bool, **overrides) -> None:
    kwargs = {
        "duration_s": 4.5,
        "requests": {"jira": 7, "confluence": 3},
        "items": {"open": 5, "done": 12, "overdue": 2, "removed": 1},
        "completion_ratio": 12 / 17,
        "pages": 9,
    }
    kwargs.update(overrides)
    state.cycle_finished(ok, **kwargs)


def samples(server: HealthServer) -> dict[tuple[str, tuple], float]:
    """Every sample of /metrics keyed by (name, sorted labels)."""
    status, ctype, body = get(server, "/metrics")
    assert status == 200 and ctype.startswith("text/plain")
    out = {}
    for family in text_string_to_metric_families(body):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_port_zero_binds_a_real_port(server: HealthServer) -> None:
    assert server.port > 0


def test_constructor_does_no_io(state: HealthState) -> None:
    srv = HealthServer(state, port=0)
    assert srv.port == 0  # nothing bound until start()
    srv.stop()  # stopping a server that never started is harmless


def test_healthz_is_ok_while_alive(server: HealthServer, state: HealthState) -> None:
    finish(state, ok=False)  # liveness does not care how cycles go
    assert get(server, "/healthz")[0::2] == (200, "ok\n")


def test_unknown_path_is_404(server: HealthServer) -> None:
    assert get(server, "/nope")[0] == 404
    assert get(server, "/")[0] == 404


def test_ready_during_startup_grace_then_not(server: HealthServer, clock: FakeClock) -> None:
    status, body = ready(server)
    assert status == 200 and body["ready"] is True and "starting" in body["reason"]

    clock.advance(INTERVAL + GRACE - 1)
    assert ready(server)[0] == 200

    clock.advance(2)  # no cycle finished within one interval + grace: something is stuck
    status, body = ready(server)
    assert status == 503 and body["ready"] is False and "no cycle finished" in body["reason"]


def test_ready_after_success(server: HealthServer, state: HealthState, clock: FakeClock) -> None:
    clock.advance(INTERVAL * 10)  # well past the start-up grace
    state.cycle_started()
    finish(state, ok=True)
    assert ready(server) == (200, {"ready": True, "reason": "last cycle succeeded"})


def test_one_failure_is_tolerated_within_two_intervals(
    server: HealthServer, state: HealthState, clock: FakeClock
) -> None:
    finish(state, ok=True)
    clock.advance(INTERVAL)
    finish(state, ok=False)
    status, body = ready(server)
    assert status == 200 and "last cycle failed" in body["reason"]

    clock.advance(INTERVAL + 1)  # now 2 intervals + 1 s since the last success
    finish(state, ok=False)
    status, body = ready(server)
    assert status == 503 and body["reason"].startswith("last cycle failed; last success")

    finish(state, ok=True)  # recovery is immediate
    assert ready(server)[0] == 200


def test_failed_first_cycle_ends_the_startup_grace(server: HealthServer, state: HealthState, clock: FakeClock) -> None:
    finish(state, ok=False)
    assert ready(server)[0] == 503  # still inside the grace period, but a cycle has spoken


def test_metrics_show_fed_values(server: HealthServer, state: HealthState, clock: FakeClock) -> None:
    m = samples(server)
    assert m[("pmsync_cycles_total", ())] == 0
    assert m[("pmsync_requests_total", (("service", "jira"),))] == 0
    assert m[("pmsync_requests_total", (("service", "confluence"),))] == 0
    assert math.isnan(m[("pmsync_completion_ratio", ())])
    assert m[("pmsync_last_success_timestamp_seconds", ())] == 0

    state.cycle_started()
    assert samples(server)[("pmsync_cycle_in_progress", ())] == 1
    finish(state, ok=True)
    clock.advance(60)
    state.cycle_started()
    finish(
        state,
        ok=False,
        duration_s=1.25,
        requests={"jira": 2},
        items={"open": 0, "done": 0, "overdue": 0, "removed": 0},
        completion_ratio=0.0,
        pages=0,
    )

    m = samples(server)
    assert m[("pmsync_cycles_total", ())] == 2
    assert m[("pmsync_cycle_failures_total", ())] == 1
    assert m[("pmsync_requests_total", (("service", "jira"),))] == 9
    assert m[("pmsync_requests_total", (("service", "confluence"),))] == 3
    assert m[("pmsync_last_cycle_duration_seconds", ())] == 1.25
    assert m[("pmsync_cycle_in_progress", ())] == 0
    # The failed cycle's counts are ignored: gauges keep the last good cycle's values.
    assert {s: m[("pmsync_items", (("state", s),))] for s in ("open", "done", "overdue", "removed")} == {
        "open": 5,
        "done": 12,
        "overdue": 2,
        "removed": 1,
    }
    assert m[("pmsync_completion_ratio", ())] == pytest.approx(12 / 17)
    assert m[("pmsync_pages", ())] == 9
    assert m[("pmsync_last_success_timestamp_seconds", ())] == clock.now - 60


def test_completion_ratio_none_is_nan(server: HealthServer, state: HealthState) -> None:
    finish(state, ok=True, items={}, completion_ratio=None, pages=0)
    m = samples(server)
    assert math.isnan(m[("pmsync_completion_ratio", ())])
    assert m[("pmsync_items", (("state", "open"),))] == 0


def test_registries_are_independent(clock: FakeClock) -> None:
    a = HealthState(INTERVAL, clock=clock)
    b = HealthState(INTERVAL, clock=clock)
    finish(a, ok=True)
    assert a.registry.get_sample_value("pmsync_cycles_total") == 1
    assert b.registry.get_sample_value("pmsync_cycles_total") == 0


def test_openmetrics_on_request(server: HealthServer) -> None:
    req = urllib.request.Request(
        f"http://127.0.0.1:{server.port}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
    )
    with urllib.request.urlopen(req, timeout=5) as resp:
        assert resp.headers["Content-Type"].startswith("application/openmetrics-text")
        assert resp.read().decode().rstrip().endswith("# EOF")


def test_stop_releases_the_port(state: HealthState) -> None:
    srv = HealthServer(state, port=0)
    srv.start()
    port = srv.port
    srv.stop()
    srv.stop()
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2)
