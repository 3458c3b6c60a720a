"""`postmortem-sync once` handles SIGTERM like `run`: the cycle under way finishes, the lease is released,
and the exit code is the cycle's. Kubernetes sends SIGTERM when a CronJob's run reaches its deadline.

Before, SIGTERM killed `once` at once: the cycle stopped wherever it was and the lease stayed live for its
whole term, so the next run (a new holder) could not write until it expired.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sync.lease import LEASE_PROPERTY, Lease
from tests.harness import SUMMARY_TITLE, write_site_config

REPO = Path(__file__).resolve().parents[1]
USERS = REPO / "sandbox" / "examples" / "users.json"
PAGES, ITEMS = 30, 3


def seed(folder: Path) -> Path:
    folder.mkdir()
    (folder / "users.json").write_text(USERS.read_text())
    due = (date.today() + timedelta(days=30)).isoformat()
    for n in range(PAGES):
        rows = "".join(f"<tr><td>Item {i} of page {n}</td><td>owner</td><td>{due}</td></tr>" for i in range(ITEMS))
        (folder / f"{n:02d}.xml").write_text(f"<title>Postmortem {n}</title>\n<h2>Action items</h2><table><tbody>"
                                             f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")
    return folder


def start_once(config: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sync", "once", "--config", str(config)], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def events_of(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def add_item(sb, page_title: str, text: str) -> None:
    """A user adds an action item (a table row) to a page, through the REST API."""
    wiki = sb.confluence_client()
    page = wiki.get("rest/api/content/search", params={"cql": f'title = "{page_title}"',
                                                       "expand": "body.storage,version"})["results"][0]
    body = page["body"]["storage"]["value"].replace("</tbody>", f"<tr><td>{text}</td><td>x</td><td></td></tr></tbody>")
    version = {"number": page["version"]["number"] + 1}
    wiki.put(f"rest/api/content/{page['id']}", data={
        "id": page["id"], "type": "page", "title": page["title"], "version": version,
        "body": {"storage": {"value": body, "representation": "storage"}}})


def lease_on_summary_page(sb) -> Lease:
    with sb.state.lock:
        page = next(p for p in sb.state.confluence.pages.values() if p.title == SUMMARY_TITLE)
    wiki = sb.confluence_client()
    found = wiki.get(f"rest/api/content/{page.id}/property/{LEASE_PROPERTY}")
    return Lease.from_json(found["value"])


@pytest.mark.parametrize("flavor", ["cloud", "datacenter"])
def test_sigterm_during_once_finishes_the_cycle_releases_the_lease_and_exits_0(tmp_path, flavor):
    with running_sandbox(flavor=flavor, seed_dir=seed(tmp_path / "seed"), port=0, latency_ms=40) as sb:
        config = write_site_config(tmp_path / "c.toml", sb.url, tmp_path / "a" / "state.sqlite3",
                                   daemon={"log_format": "json"})
        process = start_once(config)
        try:
            deadline = time.monotonic() + 60
            while sb.stats()["total"] < 12 and time.monotonic() < deadline:  # well into the writes
                time.sleep(0.01)
            assert process.poll() is None, "the cycle ended before the signal"
            process.send_signal(signal.SIGTERM)
            out, err = process.communicate(timeout=120)
        finally:
            if process.poll() is None:
                process.kill()
        assert process.returncode == 0, err
        events = events_of(out)
        names = [e["event"] for e in events]
        assert "shutdown_requested" in names and names.index("shutdown_requested") < names.index("cycle_finished")
        finished = next(e for e in events if e["event"] == "cycle_finished")
        assert finished["ok"] and finished["creates"] == PAGES * ITEMS, finished
        assert lease_on_summary_page(sb).expires <= datetime.now(UTC)  # released, not left for its term

        # The next run is a new holder (empty state): the lease is free, so it writes at once.
        next_config = write_site_config(tmp_path / "next.toml", sb.url, tmp_path / "b" / "state.sqlite3",
                                        daemon={"log_format": "json"})
        add_item(sb, "Postmortem 0", "One more")
        following = start_once(next_config)
        out, err = following.communicate(timeout=120)
        assert following.returncode == 0, err
        kinds = [e["kind"] for e in events_of(out) if e["event"] == "cycle_problem"]
        finished = next(e for e in events_of(out) if e["event"] == "cycle_finished")
        assert "lease-held" not in kinds and finished["creates"] == 1, (kinds, finished)
