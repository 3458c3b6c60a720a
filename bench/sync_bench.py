"""Request budget benchmark: the daemon vs a naive script, against the sandbox with injected latency.

    python bench/sync_bench.py --pages 100 1000 --latency-ms 50 --json bench/results/sync.json

For each N it generates N postmortem pages with 5 action items each (tables with varied headers and
task lists, owners, dates, types; none done on the page, since a transition per such item cannot be
batched and is not in the issue's lower bound; items get done in Jira in step 3), then measures:
  1. the first sync: requests by route, wall time, peak RSS of this process (sandbox included);
  2. a no-change cycle, once the incremental overlap after the first sync has passed (it waits for
     real, runs the one settling cycle that re-reads the pages the first sync wrote, then measures);
  3. a cycle after 1% of pages were edited and 1% of issues were moved to Done in Jira;
  4. a naive baseline written with atlassian-python-api (get each page, search Jira per item, create
     each issue, add a remote link per issue, update_page per page), on a fresh sandbox. It is linear
     per page by construction, so for large N it runs on `--baseline-sample` pages and is scaled
     (the table says so).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import resource
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sync.atlassian import make_adapters  # noqa: E402
from sync.cycle import run_cycle  # noqa: E402
from sync.demo import sandbox_settings  # noqa: E402
from sync.logs import configure_logging  # noqa: E402
from sync.sandbox import running_sandbox  # noqa: E402
from sync.state import State  # noqa: E402

CQL_PAGE, JQL_PAGE, BULK = 50, 100, 50  # the sandbox's (and Cloud's) page sizes used by the daemon
HEADERS = [("Action", "Owner", "Due", "Type"), ("Task", "Assignee", "Deadline", "Kind"),
           ("Corrective action", "DRI", "Target date", "Category")]
TYPES = ["Fix", "Prevent", "Detect", "Respond"]


def users(count: int = 20) -> list[dict]:
    return [{"accountId": f"557058:bench-{n:04d}", "username": f"user{n}", "userkey": f"key{n:04d}",
             "displayName": f"User {n}", "emailAddress": f"user{n}@example.com", "active": True}
            for n in range(count)]


def page_xml(n: int, rng: random.Random, people: list[dict]) -> str:
    """A postmortem page: a table or a task list of 5 items."""
    start = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
    items = []
    for i in range(5):
        who = rng.choice(people)["accountId"]
        due = (start + timedelta(days=rng.randrange(10, 90))).isoformat()
        items.append((f"Action {i + 1} of incident {n}: {rng.choice(['add', 'fix', 'alert on', 'document'])} "
                      f"{rng.choice(['the pool', 'retries', 'the runbook', 'timeouts'])}",
                      who, due, TYPES[(n + i) % 4], False))
    mention = lambda who: f'<ac:link><ri:user ri:account-id="{who}" /></ac:link>'  # noqa: E731
    if n % 3 == 2:
        tasks = "".join(
            f"<ac:task><ac:task-id>{i + 1}</ac:task-id><ac:task-status>{'complete' if done else 'incomplete'}"
            f"</ac:task-status><ac:task-body>{text} {mention(who)} <time datetime=\"{due}\" /></ac:task-body></ac:task>"
            for i, (text, who, due, _, done) in enumerate(items))
        section = f"<h2>Follow-up actions</h2><ac:task-list>{tasks}</ac:task-list>"
    else:
        head = HEADERS[n % 3]
        rows = "".join(f"<tr><td>{text}</td><td>{mention(who)}</td><td><time datetime=\"{due}\" /></td>"
                       f"<td>{kind}</td><td>{'Done' if done else 'Open'}</td></tr>"
                       for text, who, due, kind, done in items)
        header = "".join(f"<th>{h}</th>" for h in head) + "<th>Status</th>"
        section = f"<h2>Action items</h2><table><tbody><tr>{header}</tr>{rows}</tbody></table>"
    return (f"<title>Postmortem {n:05d}: incident on {start.isoformat()}</title>\n"
            f"<h2>Summary</h2><p>Incident {n} degraded a service for {rng.randrange(5, 90)} minutes.</p>{section}")


def seed(folder: Path, pages: int, rng: random.Random) -> None:
    people = users()
    (folder / "users.json").write_text(json.dumps(people))
    for n in range(pages):
        (folder / f"pm-{n:05d}.xml").write_text(page_xml(n, rng, people))


def lower_bound(pages: int, items: int, pages_with_new_items: int) -> int:
    """CQL pages with bodies + one JQL page (nothing managed yet) + bulk creates + write-backs + summary."""
    return math.ceil(pages / CQL_PAGE) + 1 + math.ceil(items / BULK) + pages_with_new_items + 2


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(sb, run) -> dict:
    sb.reset_stats()
    started, cpu = time.monotonic(), time.process_time()
    result = run()
    stats = sb.stats()
    return {"requests": stats["total"], "by_route": stats["by_route"],
            "wall_s": round(time.monotonic() - started, 2), "cpu_s": round(time.process_time() - cpu, 2),
            "ok": getattr(result, "ok", True)}


def daemon_run(n: int, latency_ms: int, rng: random.Random, wait_s: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "seed"
        folder.mkdir()
        seed(folder, n, rng)
        with running_sandbox(flavor="cloud", seed_dir=folder, latency_ms=latency_ms, port=0) as sb:
            # The issue's lower bound has no sprint moves (one request per 50 issues): sprint off here.
            settings = sandbox_settings(sb.url, Path(tmp) / "state.sqlite3", sprint=False)
            jira, confluence = make_adapters(settings)
            state = State.open(settings.sync.state_path)
            cycle = lambda: run_cycle(settings, jira, confluence, state)  # noqa: E731
            # A backfill: 5 x N creates exceed the per-cycle safety limit, so it runs with --force.
            first = measure(sb, lambda: run_cycle(settings, jira, confluence, state, force=True))
            first["peak_rss_mb"] = round(peak_rss_mb(), 1)
            first["lower_bound"] = lower_bound(n, n * 5, n)
            # The incremental window starts `overlap` (2 min, minute precision) before the previous
            # cycle's start, so the cycle after the first sync re-reads the pages that sync wrote.
            # Wait until that has passed, for real, run that settling cycle, then measure.
            time.sleep(wait_s)
            settling = measure(sb, cycle)
            quiet = measure(sb, cycle)
            edit_some(sb, n, rng)
            edited = measure(sb, cycle)
            return {"first": first, "settling": settling, "no_change": quiet, "after_edits": edited}


def edit_some(sb, n: int, rng: random.Random) -> None:
    """1% of pages get a new due date on one item; 1% of issues are moved to Done in Jira."""
    wiki, jira = sb.confluence_client(), sb.jira_client()
    pages = wiki.get("rest/api/content/search", params={"cql": "space = PM and label = postmortem", "limit": 200})
    for page in rng.sample(pages["results"], max(1, n // 100)):
        full = wiki.get(f"rest/api/content/{page['id']}", params={"expand": "body.storage,version"})
        body = full["body"]["storage"]["value"].replace('<time datetime="2026-', '<time datetime="2027-', 1)
        wiki.put(f"rest/api/content/{page['id']}", data={
            "id": page["id"], "type": "page", "title": full["title"], "version": {"number": full["version"]["number"] + 1},
            "body": {"storage": {"value": body, "representation": "storage"}}})
    found = jira.get("rest/api/3/search/jql", params={"jql": "project = OPS and labels = pmsync", "maxResults": 500,
                                                      "fields": "summary"})["issues"]
    for issue in rng.sample(found, max(1, n * 5 // 100)):
        done = next(t for t in jira.get(f"rest/api/2/issue/{issue['key']}/transitions")["transitions"]
                    if t["to"]["statusCategory"]["key"] == "done")
        jira.post(f"rest/api/2/issue/{issue['key']}/transitions", data={"transition": {"id": done["id"]}})


def naive_sync(sb) -> None:
    """What a user would write: everything one by one, with the library's convenience calls."""
    jira, wiki = sb.jira_client(), sb.confluence_client()
    from sync.parser import parse_page

    listing = wiki.get("rest/api/content/search", params={"cql": "space = PM and label = postmortem", "limit": 1000})
    for hit in listing["results"]:
        page = wiki.get_page_by_id(hit["id"], expand="body.storage,version")
        body = page["body"]["storage"]["value"]
        for item in parse_page(body, title=page["title"]).items:
            text = item.summary.replace('"', '\\"')
            jira.get("rest/api/3/search/jql", params={"jql": f'project = OPS and summary ~ "{text}"'})
            created = jira.issue_create(fields={"project": {"key": "OPS"}, "issuetype": {"name": "Task"},
                                               "summary": item.summary})
            jira.post(f"rest/api/2/issue/{created['key']}/remotelink",
                      data={"object": {"url": f"{sb.url}/wiki/pages/{hit['id']}", "title": page["title"]}})
        wiki.update_page(hit["id"], page["title"], body + "<p>synced</p>")


def baseline_run(n: int, sample: int, latency_ms: int, rng: random.Random) -> dict:
    pages = min(n, sample)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "seed"
        folder.mkdir()
        seed(folder, pages, rng)
        with running_sandbox(flavor="cloud", seed_dir=folder, latency_ms=latency_ms, port=0) as sb:
            result = measure(sb, lambda: naive_sync(sb))
    scale = n / pages
    result.update(requests=round(result["requests"] * scale), wall_s=round(result["wall_s"] * scale, 1),
                  measured_pages=pages, scaled=scale != 1)
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--latency-ms", type=int, default=50)
    parser.add_argument("--baseline-sample", type=int, default=100, help="pages the naive script really syncs")
    parser.add_argument("--overlap-wait", type=float, default=185.0,
                        help="seconds to wait after the first sync: the 2-minute overlap plus minute rounding")
    parser.add_argument("--json", type=Path, help="write the results here")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    configure_logging(log_format="console", level="ERROR")
    results = {}
    for n in args.pages:
        rng = random.Random(args.seed + n)
        ours = daemon_run(n, args.latency_ms, rng, args.overlap_wait)
        ours["baseline"] = baseline_run(n, args.baseline_sample, args.latency_ms, rng)
        results[str(n)] = ours
        print_table(n, ours)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"latency_ms": args.latency_ms, "results": results}, indent=2))
    return 0


def print_table(n: int, r: dict) -> None:
    first, settling, quiet, edited, base = r["first"], r["settling"], r["no_change"], r["after_edits"], r["baseline"]
    print(f"\nN = {n} pages, {n * 5} items")
    print(f"  {'run':<26}{'requests':>10}{'wall s':>10}{'cpu s':>8}")
    for name, row in (("first sync", first), ("settling cycle", settling), ("no-change cycle", quiet), ("after 1% edits", edited),
                      ("naive baseline" + (" (scaled)" if base.get("scaled") else ""), base)):
        print(f"  {name:<26}{row['requests']:>10}{row['wall_s']:>10}{row.get('cpu_s', ''):>8}")
    print(f"  first sync vs lower bound {first['lower_bound']}: {first['requests'] / first['lower_bound']:.2f}x;"
          f" vs baseline: {base['requests'] / max(1, first['requests']):.1f}x fewer requests,"
          f" {base['wall_s'] / max(0.01, first['wall_s']):.1f}x faster; peak RSS {first['peak_rss_mb']} MB")
    top = sorted(first["by_route"].items(), key=lambda kv: -kv[1])[:6]
    print("  first sync by route: " + ", ".join(f"{route} {count}" for route, count in top))
    print("  after edits by route: " + ", ".join(f"{route} {count}" for route, count in edited["by_route"].items()))


if __name__ == "__main__":
    raise SystemExit(main())
