"""`postmortem-sync run` as a user runs it: a subprocess against the sandbox, probed over HTTP, stopped by SIGTERM."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

from sandbox import running_sandbox

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except OSError:
        return 0, ""


def wait_for(predicate, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("timed out")


def sandbox_config(tmp_path: Path, url: str, metrics_port: int) -> Path:
    text = (REPO / "config" / "sandbox.toml").read_text().replace("http://127.0.0.1:8990", url)
    text = text.replace('"state/sandbox.sqlite3"', json.dumps(str(tmp_path / "state.sqlite3")))
    config = tmp_path / "daemon.toml"
    config.write_text(text.replace('log_format = "auto"', 'log_format = "json"')
                      .replace("[daemon]", f"[daemon]\nmetrics_port = {metrics_port}"))
    return config


def test_run_serves_health_and_metrics_and_stops_gracefully_on_sigterm(tmp_path):
    port = free_port()
    with running_sandbox(flavor="cloud", port=0) as sb:
        config = sandbox_config(tmp_path, sb.url, port)
        daemon = subprocess.Popen([sys.executable, "-m", "sync", "run", "--config", str(config)], cwd=REPO,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            base = f"http://127.0.0.1:{port}"
            assert wait_for(lambda: get(f"{base}/healthz")[0] == 200)
            wait_for(lambda: get(f"{base}/readyz")[0] == 200 and "pmsync_cycles_total 1.0" in get(f"{base}/metrics")[1])
            metrics = {s.name: s.value for f in text_string_to_metric_families(get(f"{base}/metrics")[1])
                       for s in f.samples if not s.labels}
            assert metrics["pmsync_cycle_failures_total"] == 0
            assert 0 < metrics["pmsync_completion_ratio"] < 1
            assert metrics["pmsync_last_success_timestamp_seconds"] > time.time() - 60
            daemon.send_signal(signal.SIGTERM)
            assert daemon.wait(timeout=30) == 0
        finally:
            if daemon.poll() is None:
                daemon.kill()
        out, err = daemon.communicate()
    events = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
    finished = [e for e in events if e.get("event") == "cycle_finished"]
    assert finished and finished[0]["ok"] is True and finished[0]["creates"] > 0
    assert any(e.get("event") == "daemon_stopped" for e in events)
    assert "sandbox-token" not in out + err


def test_once_exits_nonzero_when_the_cycle_fails(tmp_path):
    config = sandbox_config(tmp_path, f"http://127.0.0.1:{free_port()}", free_port())  # nothing listens there
    done = subprocess.run([sys.executable, "-m", "sync", "once", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PMSYNC_RETRY__MAX_ATTEMPTS": "1",
                               "PMSYNC_JIRA__DEPLOYMENT": "cloud"})
    assert done.returncode == 1, done.stderr


def test_bad_configuration_lists_every_problem_and_exits_2(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('[jira]\nurl = "not a url"\n[confluence]\nurl = "http://x/wiki"\nspaces = ["PM"]\nbogus = 1\n')
    done = subprocess.run([sys.executable, "-m", "sync", "once", "--config", str(config)], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "jira.url" in done.stderr and "jira.project" in done.stderr and "bogus" in done.stderr
