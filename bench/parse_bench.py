"""Parser throughput: generate N varied postmortem pages in memory and parse them on one core.

    python bench/parse_bench.py [--pages 10000] [--seed 7]

Prints pages/s and peak resident memory (ru_maxrss, which includes the corpus itself).
Targets: >= 1,000 pages/s and < 200 MB.
"""

from __future__ import annotations

import argparse
import random
import resource
import sys
import time
from collections.abc import Callable

from sync.parser import parse_page

WORDS = ("latency", "failover", "replica", "certificate", "queue", "consumer", "retry", "timeout", "alert",
         "runbook", "deploy", "rollback", "quota", "index", "cache", "resolver", "token", "pool", "node",
         "budget", "façade", "“quoted”", "€", "🔁", "p99", "SLO", "the", "a", "to", "of", "and", "in")
TYPES = ("Fix", "Prevent", "Detect", "Respond", "mitigate", "process")


def sentence(rng: random.Random, low: int = 6, high: int = 16) -> str:
    """A random sentence of filler words."""
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(low, high))).capitalize()


def mention(rng: random.Random) -> str:
    """A Cloud account-id, Data Center userkey or legacy username mention."""
    attribute = rng.choice((f'ri:account-id="557058:{rng.getrandbits(128):032x}"',
                            f'ri:userkey="{rng.getrandbits(128):032x}"', f'ri:username="user{rng.randint(1, 99)}"'))
    return f"<ac:link><ri:user {attribute} /></ac:link>&nbsp;"


def due(rng: random.Random) -> str:
    """A due date as `<time>` or a written form."""
    day = rng.randint(1, 28)
    return rng.choice((f'<time datetime="2026-03-{day:02d}" />', f"2026-04-{day:02d}", f"{day} Mar 2026",
                       f"March {day}, 2026", "TBD"))


def jira_macro(rng: random.Random) -> str:
    """A Jira issue macro, sometimes."""
    if rng.random() < 0.5:
        return "<p />"
    return ('<ac:structured-macro ac:name="jira" ac:schema-version="1"><ac:parameter ac:name="server">System Jira'
            f'</ac:parameter><ac:parameter ac:name="key">OPS-{rng.randint(1, 9999)}</ac:parameter>'
            "</ac:structured-macro>")


def lozenge(title: str) -> str:
    """A status macro."""
    return (f'<ac:structured-macro ac:name="status" ac:schema-version="1"><ac:parameter ac:name="title">{title}'
            '</ac:parameter><ac:parameter ac:name="colour">Green</ac:parameter></ac:structured-macro>')


def table(headers: list[str], rows: list[list[str]]) -> str:
    """A Confluence table with a th header row."""
    head = "".join(f"<th><p><strong>{h}</strong></p></th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td><p>{c}</p></td>" for c in row) + "</tr>" for row in rows)
    return f'<table data-layout="default"><tbody><tr>{head}</tr>{body}</tbody></table>'


def filler(rng: random.Random) -> str:
    """The non-action part of a postmortem: details macro, summary, timeline, five whys, lessons."""
    details = table(["Incident date", "Severity"], [[due(rng), lozenge("SEV 2")]])
    timeline = table(["Time (UTC)", "Event", "Owner"],
                     [[f"09:{m:02d}", sentence(rng), mention(rng)] for m in range(rng.randint(4, 9))])
    whys = "".join(f"<li><p>{sentence(rng)}</p></li>" for _ in range(5))
    return (f'<ac:structured-macro ac:name="details"><ac:rich-text-body>{details}</ac:rich-text-body>'
            f"</ac:structured-macro><h2>Incident summary</h2><p>{sentence(rng, 30, 60)}</p>"
            f"<h2>Timeline</h2>{timeline}<h2>Five whys</h2><ol>{whys}</ol>"
            f"<h2>Lessons learned</h2><ul><li><p>{sentence(rng)}</p></li><li><p>{sentence(rng)}</p></li></ul>")


def atlassian_actions(rng: random.Random, count: int) -> str:
    rows = [[sentence(rng), mention(rng), due(rng), rng.choice(TYPES), f"P{rng.randint(1, 3)}", jira_macro(rng)]
            for _ in range(count)]
    return "<h2>Corrective actions</h2>" + table(["Action", "Owner", "Due date", "Type", "Priority", "Jira"], rows)


def sre_actions(rng: random.Random, count: int) -> str:
    rows = [[sentence(rng), rng.choice(TYPES).lower(), f"user{rng.randint(1, 50)}",
             f"CFG-{rng.randint(1, 999)} <strong>{rng.choice(('DONE', 'TODO'))}</strong>"] for _ in range(count)]
    return "<h2>Action Items</h2>" + table(["Action Item", "Type", "Owner", "Bug"], rows)


def pagerduty_actions(rng: random.Random, count: int) -> str:
    rows = [[jira_macro(rng), sentence(rng), mention(rng), due(rng), rng.choice(("High", "Medium", "Low"))]
            for _ in range(count)]
    return "<h2>Action Items</h2>" + table(["Ticket", "Summary", "Owner", "Due", "Priority"], rows)


def task(rng: random.Random, task_id: int, nested: str = "") -> str:
    state = rng.choice(("complete", "incomplete"))
    return (f"<ac:task><ac:task-id>{task_id}</ac:task-id><ac:task-uuid>{rng.getrandbits(64):016x}</ac:task-uuid>"
            f"<ac:task-status>{state}</ac:task-status><ac:task-body><span class=\"placeholder-inline-tasks\">"
            f"{sentence(rng)} {mention(rng)} <time datetime=\"2026-03-{rng.randint(1, 28):02d}\" /> </span>"
            f"{nested}</ac:task-body></ac:task>")


def fpdr_actions(rng: random.Random, count: int) -> str:
    parts = ["<h2>Action items</h2>"]
    for number in range(count):
        parts.append(f"<h3>{TYPES[number % 4]}</h3><ac:task-list>{task(rng, number + 1)}</ac:task-list>")
    return "".join(parts)


def nested_task_actions(rng: random.Random, count: int) -> str:
    child = f"<ac:task-list>{task(rng, 100)}</ac:task-list>"
    tasks = [task(rng, 1, child)] + [task(rng, n + 2) for n in range(count - 2)]
    return "<h2>Follow-up actions</h2><ac:task-list>" + "".join(tasks) + "</ac:task-list>"


def layout_actions(rng: random.Random, count: int) -> str:
    rows = [[sentence(rng), mention(rng), due(rng), rng.choice(TYPES)] for _ in range(count)]
    return ('<ac:layout><ac:layout-section ac:type="single"><ac:layout-cell><h2>Action items</h2>'
            + table(["Task", "Assignee", "Deadline", "Kind"], rows)
            + "</ac:layout-cell></ac:layout-section></ac:layout>")


SECTIONS: tuple[Callable[[random.Random, int], str], ...] = (
    atlassian_actions, sre_actions, pagerduty_actions, fpdr_actions, nested_task_actions, layout_actions)


def build_corpus(count: int, seed: int) -> list[bytes]:
    """`count` varied pages, about five action items each, kept as UTF-8 (as the REST API delivers them)."""
    rng = random.Random(seed)
    return [(filler(rng) + rng.choice(SECTIONS)(rng, rng.randint(3, 7)) + "<h2>Appendix</h2><p>end</p>").encode()
            for _ in range(count)]


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MB (Linux reports KB)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def main() -> None:
    arguments = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    arguments.add_argument("--pages", type=int, default=10_000)
    arguments.add_argument("--seed", type=int, default=7)
    options = arguments.parse_args()

    corpus = build_corpus(options.pages, options.seed)
    corpus_mb = sum(len(page) for page in corpus) / 1e6
    rss_before = peak_rss_mb()
    started = time.perf_counter()
    items = sum(len(parse_page(page.decode()).items) for page in corpus)
    elapsed = time.perf_counter() - started

    print(f"pages:        {len(corpus):,} ({corpus_mb:.1f} MB of storage format, {items:,} action items)")
    print(f"time:         {elapsed:.2f} s on one core (decoding included)")
    print(f"throughput:   {len(corpus) / elapsed:,.0f} pages/s")
    print(f"peak RSS:     {peak_rss_mb():.0f} MB (after building the corpus: {rss_before:.0f} MB)")


if __name__ == "__main__":
    main()
