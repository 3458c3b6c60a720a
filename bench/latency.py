"""From saving a page to seeing the ticket: the latency a postmortem author waits, with the default settings.

    python bench/latency.py --edits 10 --minutes 5 [--search-lag-ms 5000] [--json out.json]

Starts a cloud sandbox in this process and the real daemon (`python -m sync run`) as a child process
with the default settings (only the site, the credentials, the state file and the health port are
configured). Once the daemon has synced the seeded pages, `--edits` pages get a new action-item row
each, at random moments spread over `--minutes` of real time, saved through the REST API as a browser
would. Each edited page is then polled (every 0.5 s) until the row carries its Jira key; the latency is
from the save's answer to the first poll that sees the key. Nothing is sped up: the daemon runs on
its own schedule and clock.

The sandbox's search lag (`--search-lag-ms`, default 5 s) stands for Confluence's and Jira's index
lag; Atlassian gives no figure for CQL ("stale results after making an update", AI-311) and "a few
seconds to minutes" for JQL. The latency is about lag + a wait for the next cycle (uniform over the
interval) + the cycle's own time, so p95 is near lag + 0.95 x interval + a cycle.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sandbox import SANDBOX_API_TOKEN, SANDBOX_EMAIL, running_sandbox
from sync.settings import SyncSettings

OWNER = "557058:bench-0001"
KEY = re.compile(r'<ac:parameter ac:name="key">([A-Z][A-Z0-9_]+-\d+)</ac:parameter>')


def page_xml(n: int) -> str:
    """A small postmortem page: a table with two action items."""
    rows = "".join(f'<tr><td>Action {i} of incident {n}</td><td><ac:link><ri:user ri:account-id="{OWNER}" />'
                   f'</ac:link></td><td><time datetime="2027-03-01" /></td></tr>' for i in range(2))
    return (f"<title>Postmortem {n:03d}</title>\n<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")


def seed(folder: Path, pages: int) -> None:
    (folder / "users.json").write_text(json.dumps([
        {"accountId": OWNER, "username": "user1", "userkey": "key0001", "displayName": "User 1",
         "emailAddress": "user1@example.com", "active": True}]))
    for n in range(pages):
        (folder / f"pm-{n:03d}.xml").write_text(page_xml(n))


def config(url: str, state: Path, port: int) -> str:
    """The daemon's configuration: the site and where things go; every sync setting left at its default."""
    return f"""[jira]
url = "{url}"
email = "{SANDBOX_EMAIL}"
api_token = "{SANDBOX_API_TOKEN}"
project = "OPS"

[confluence]
url = "{url}/wiki"
spaces = ["PM"]
labels = ["postmortem"]

[confluence.summary_page]
space = "PM"
title = "Postmortem action items"

[sync]
state_path = "{state}"

[daemon]
log_format = "json"
log_level = "WARNING"
metrics_port = {port}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Wiki:
    """The author's side: read a page, save a new version with one more action-item row."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.http = requests.Session()
        self.http.auth = (SANDBOX_EMAIL, SANDBOX_API_TOKEN)

    def pages(self) -> list[dict]:
        reply = self.http.get(f"{self.url}/wiki/rest/api/content/search",
                              params={"cql": "space = PM and label = postmortem", "limit": 200})
        return [r for r in reply.json()["results"] if r["title"].startswith("Postmortem ")]

    def body(self, page_id: str) -> tuple[str, int, str]:
        reply = self.http.get(f"{self.url}/wiki/rest/api/content/{page_id}",
                              params={"expand": "body.storage,version"})
        doc = reply.json()
        return doc["body"]["storage"]["value"], doc["version"]["number"], doc["title"]

    def add_row(self, page_id: str, text: str) -> None:
        body, version, title = self.body(page_id)
        row = (f'<tr><td>{text}</td><td><ac:link><ri:user ri:account-id="{OWNER}" /></ac:link></td>'
               '<td><time datetime="2027-04-01" /></td></tr>')
        reply = self.http.put(f"{self.url}/wiki/rest/api/content/{page_id}", json={
            "id": page_id, "type": "page", "title": title, "version": {"number": version + 1},
            "body": {"storage": {"value": body.replace("</tbody>", row + "</tbody>"), "representation": "storage"}}})
        reply.raise_for_status()

    def row_key(self, page_id: str, text: str) -> str | None:
        body, _, _ = self.body(page_id)
        row = next((r for r in body.split("<tr>") if text in r), "")
        found = KEY.search(row)
        return found.group(1) if found else None


def wait_for(check, timeout_s: float, every_s: float = 0.5):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    return None


def measure(edits: int, minutes: float, search_lag_ms: int, seed_value: int, interval_minutes: float | None = None,
            log_path: Path | None = None) -> dict:
    rng = random.Random(seed_value)
    default = SyncSettings.model_fields["interval_minutes"].default
    interval_s = (interval_minutes or default) * 60
    env = {**os.environ, **({"PMSYNC_SYNC__INTERVAL_MINUTES": str(interval_minutes)} if interval_minutes else {})}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "seed"
        folder.mkdir()
        seed(folder, max(edits, 20))
        with running_sandbox(flavor="cloud", seed_dir=folder, search_lag_ms=search_lag_ms, port=0) as sb:
            cfg = Path(tmp) / "config.toml"
            cfg.write_text(config(sb.url, Path(tmp) / "state.sqlite3", free_port()))
            wiki = Wiki(sb.url)
            pages = wiki.pages()
            log = (log_path or Path(tmp) / "daemon.log").open("w")
            daemon = subprocess.Popen([sys.executable, "-m", "sync", "run", "--config", str(cfg), "--force"],
                                      cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
            try:
                # The first cycle syncs the seeded pages: wait for their keys, then start the clock.
                synced = wait_for(lambda: all(wiki.row_key(p["id"], "Action 1 of incident") for p in pages), 300, 2)
                if not synced:
                    raise RuntimeError("the daemon did not sync the seeded pages within 5 minutes")
                sb.reset_stats()
                started = time.monotonic()
                moments = sorted(rng.uniform(0, minutes * 60) for _ in range(edits))
                targets = rng.sample(pages, edits)
                results: list[dict] = []
                threads = []
                for n, (moment, page) in enumerate(zip(moments, targets, strict=True)):
                    time.sleep(max(0.0, started + moment - time.monotonic()))
                    text = f"Latency probe {n} added at {moment:.0f} s"
                    wiki.add_row(page["id"], text)
                    saved = time.monotonic()
                    thread = threading.Thread(target=_await_key, args=(wiki, page["id"], text, saved, results,
                                                                       interval_s * 3 + 120))
                    thread.start()
                    threads.append(thread)
                for thread in threads:
                    thread.join()
                elapsed = time.monotonic() - started
                stats = sb.stats()
            finally:
                daemon.terminate()
                daemon.wait(timeout=60)
                log.close()
    latencies = sorted(r["latency_s"] for r in results if r["latency_s"] is not None)
    missed = sum(1 for r in results if r["latency_s"] is None)
    return {
        "interval_s": interval_s, "default_interval": interval_minutes is None, "search_lag_ms": search_lag_ms,
        "edits": edits, "missed": missed,
        "p50_s": round(statistics.median(latencies), 1) if latencies else None,
        "p95_s": round(percentile(latencies, 95), 1) if latencies else None,
        "max_s": round(latencies[-1], 1) if latencies else None,
        "latencies_s": [round(v, 1) for v in latencies], "run_s": round(elapsed, 1),
        "requests_during_run": stats["total"],
    }


def _await_key(wiki: Wiki, page_id: str, text: str, saved: float, results: list[dict], timeout_s: float) -> None:
    key = wait_for(lambda: wiki.row_key(page_id, text), timeout_s)
    results.append({"page_id": page_id, "key": key, "latency_s": time.monotonic() - saved if key else None})


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile of sorted values, by linear interpolation between the closest ranks."""
    if len(values) == 1:
        return values[0]
    rank = (len(values) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(values) - 1)
    return values[low] + (values[high] - values[low]) * (rank - low)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--edits", type=int, default=10)
    parser.add_argument("--minutes", type=float, default=5.0, help="the edits are spread over this much real time")
    parser.add_argument("--search-lag-ms", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--interval-minutes", type=float,
                        help="run the daemon at this interval instead of the default (for comparison)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result = measure(args.edits, args.minutes, args.search_lag_ms, args.seed, args.interval_minutes)
    print(json.dumps(result, indent=2))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
