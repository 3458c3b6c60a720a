"""Where the daemon's memory goes in a sync: tracemalloc by phase of run_cycle and by sync/ function.

    python bench/sync_memory.py --pages 10000 --cycles 2 --json bench/results/memory.json

Seeds N pages as bench/sync_bench.py does, runs the sandbox as a child process (so nothing of it is
traced here) and runs the first sync, then optionally the cycles after it, with tracemalloc on. The
steps of run_cycle are wrapped here (nothing in sync/ changes): at each step's start and end it
records the traced memory and the peak since the previous mark. A snapshot is kept whenever the
traced memory reaches a new high at a mark; that snapshot, compared with the one taken before the
cycle, is reported by allocating line, by the innermost sync/ function on the allocating stack,
and by the line of run_cycle the allocation happened under.

tracemalloc slows the daemon and adds its own memory (reported), so RSS here is not the benchmark's;
run bench/sync_bench.py --sandbox-process for that.
"""

from __future__ import annotations

import argparse
import ast
import functools
import json
import random
import tempfile
import time
import tracemalloc
from collections import defaultdict
from pathlib import Path

from sync_bench import SandboxProcess, bench_settings, peak_rss_mb, rss_mb, seed, source_version

# sync_bench, imported above, put the project on sys.path.
import sync.cycle
from sync.atlassian import make_adapters
from sync.logs import configure_logging
from sync.state import State

SYNC_DIR = str(Path(sync.cycle.__file__).resolve().parent) + "/"
CYCLE_FILE = sync.cycle.__file__
# The source as imported: sync/ may be edited while a long profile runs, and line numbers must match.
SOURCES = {str(path): path.read_text() for path in Path(SYNC_DIR).rglob("*.py")}
MB = 1024 * 1024
# The steps of run_cycle, as the names it calls them by in sync.cycle.
CYCLE_STEPS = ("parse_pages", "read_issues", "deleted_pages", "plan_changes", "_blocked", "_apply",
               "with_created", "tracked_items", "compute_metrics", "plan_summary", "write_summary",
               "_remember")


class Recorder:
    """Marks along a cycle: traced memory now, its peak since the previous mark, RSS; snapshots at new highs."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.marks: list[dict] = []
        self.best: tuple[float, str, tracemalloc.Snapshot] | None = None
        self.sizes: dict[str, object] = {}

    def mark(self, label: str) -> None:
        current, peak = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        self.marks.append({"at": label, "traced_mb": round(current / MB, 1), "peak_since_last_mb": round(peak / MB, 1),
                           "rss_mb": round(rss_mb(), 1), "time": time.monotonic()})
        if self.best is None or current / MB > self.best[0]:
            self.best = (current / MB, label, tracemalloc.take_snapshot())

    def wrap(self, name: str, function):
        @functools.wraps(function)
        def wrapped(*args, **kwargs):
            self.mark(f"{name} start")
            result = function(*args, **kwargs)
            self.note_sizes(name, args, result)
            self.mark(f"{name} end")
            return result
        return wrapped

    def note_sizes(self, name: str, args: tuple, result: object) -> None:
        """Plain sizes of what the big steps hold, to set beside the allocation figures."""
        if name == "parse_pages":
            pages = list(args[0]) if isinstance(args[0], list) else []
            self.sizes.setdefault("page_bodies_chars", sum(len(p.body) for p in pages))
            self.sizes.setdefault("pages", len(pages))
        elif name == "State.view":
            self.sizes.setdefault("views", []).append(
                {"items": len(result.items), "pages": len(result.pages), "issues": len(result.issues)})
        elif name == "State.items":
            self.sizes.setdefault("item_reads", []).append(len(result))
        elif name == "plan_changes":
            self.sizes.setdefault("plan", {"creates": len(result.creates), "write_backs": len(result.write_backs),
                                           "records": len(result.records)})
        elif name == "plan_summary" and result is not None:
            self.sizes.setdefault("summary_page_chars", len(result.body))


def install(recorder: Recorder) -> None:
    """Wrap the steps run_cycle calls (those this version of sync.cycle has) and State.view, once."""
    for name in CYCLE_STEPS:
        if hasattr(sync.cycle, name):
            setattr(sync.cycle, name, recorder.wrap(name, getattr(sync.cycle, name)))
    State.view = recorder.wrap("State.view", State.view)
    if hasattr(State, "items"):
        State.items = recorder.wrap("State.items", State.items)


@functools.cache
def _functions(filename: str) -> list[tuple[int, int, str]]:
    """(first line, last line, qualified name) of every function in a file."""
    found = []

    def visit(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
                name = getattr(child, "name", "<lambda>")
                if not isinstance(child, ast.ClassDef):
                    found.append((child.lineno, child.end_lineno, prefix + name))
                visit(child, prefix + name + ".")
            else:
                visit(child, prefix)
    visit(ast.parse(SOURCES[filename]), "")
    return found


def _line(filename: str, lineno: int) -> str:
    lines = SOURCES[filename].splitlines()
    return lines[lineno - 1].strip() if 0 < lineno <= len(lines) else ""


def function_at(filename: str, lineno: int) -> str:
    """The innermost function around a line, as module:qualname."""
    inner = [(end - start, name) for start, end, name in _functions(filename) if start <= lineno <= end]
    module = Path(filename).stem
    return f"{module}:{min(inner)[1]}" if inner else f"{module}:<module>"


def breakdown(base: tracemalloc.Snapshot, peak: tracemalloc.Snapshot, top: int) -> dict:
    """The growth from base to peak by line, by innermost sync/ function and by run_cycle line."""
    by_line = [(f"{s.traceback[-1].filename.replace(SYNC_DIR, 'sync/')}:{s.traceback[-1].lineno}",
                s.size_diff, s.count_diff) for s in peak.compare_to(base, "lineno")[:top]]
    by_function: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    by_cycle_line: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for stat in peak.compare_to(base, "traceback"):
        frames = list(stat.traceback)  # oldest first
        ours = [f for f in frames if f.filename.startswith(SYNC_DIR)]
        where = function_at(ours[-1].filename, ours[-1].lineno) if ours else "(outside sync/)"
        cycle = [f for f in frames
                 if f.filename == CYCLE_FILE and function_at(f.filename, f.lineno) == "cycle:run_cycle"]
        under = (f"run_cycle line {cycle[-1].lineno}: {_line(CYCLE_FILE, cycle[-1].lineno)[:70]}"
                 if cycle else "(not under run_cycle)")
        for table, key in ((by_function, where), (by_cycle_line, under)):
            table[key][0] += stat.size_diff
            table[key][1] += stat.count_diff

    def ranked(table):
        return [(key, round(size / MB, 1), count) for key, (size, count) in
                sorted(table.items(), key=lambda kv: -kv[1][0])[:top]]
    return {"by_line": [(where, round(size / MB, 1), count) for where, size, count in by_line],
            "by_sync_function": ranked(by_function), "by_run_cycle_line": ranked(by_cycle_line)}


def profile_cycle(recorder: Recorder, run, top: int) -> dict:
    recorder.reset()
    tracemalloc.reset_peak()
    base = tracemalloc.take_snapshot()
    recorder.mark("cycle start")
    started = time.monotonic()
    result = run()
    recorder.mark("cycle end")
    level, label, snapshot = recorder.best
    t0 = recorder.marks[0]["time"]
    for m in recorder.marks:
        m["t_s"] = round(m.pop("time") - t0, 1)
    return {"ok": result.ok, "problems": [str(p) for p in result.problems[:5]],
            "wall_s": round(time.monotonic() - started, 1),
            "marks": recorder.marks, "sizes": recorder.sizes,
            "highest_mark": {"at": label, "traced_mb": round(level, 1)},
            "growth_at_highest_mark": breakdown(base, snapshot, top)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=10000)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--cycles", type=int, default=1, help="the first sync, then this many - 1 cycles after it")
    parser.add_argument("--frames", type=int, default=25, help="stack frames tracemalloc keeps per allocation")
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", type=Path, help="write the results here")
    args = parser.parse_args()
    configure_logging(log_format="console", level="ERROR")
    out: dict = {"pages": args.pages, "source": source_version(), "cycles": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "seed"
        folder.mkdir()
        seed(folder, args.pages, random.Random(args.seed + args.pages))
        with SandboxProcess(folder, args.latency_ms, Path(tmp) / "sandbox.log") as sb:
            settings = bench_settings(sb.url, Path(tmp) / "state.sqlite3", 0)
            jira, confluence = make_adapters(settings)
            state = State.open(settings.sync.state_path)
            out["rss_before_mb"], out["peak_rss_before_mb"] = round(rss_mb(), 1), round(peak_rss_mb(), 1)
            recorder = Recorder()
            install(recorder)
            tracemalloc.start(args.frames)
            for number in range(args.cycles):
                # The first sync is a backfill beyond the per-cycle create limit, so it runs with force.
                # The cycles after it come at once, within the overlap: they re-read every page.
                cycle = profile_cycle(
                    recorder, lambda: sync.cycle.run_cycle(settings, jira, confluence, state, force=True), args.top)
                cycle["tracemalloc_overhead_mb"] = round(tracemalloc.get_tracemalloc_memory() / MB, 1)
                cycle["peak_rss_mb"] = round(peak_rss_mb(), 1)
                out["cycles"].append(cycle)
                print_cycle(number + 1, cycle)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2))
    return 0


def print_cycle(number: int, c: dict) -> None:
    print(f"\ncycle {number}: ok={c['ok']} wall {c['wall_s']} s, peak RSS {c['peak_rss_mb']} MB"
          f" (tracemalloc's own {c['tracemalloc_overhead_mb']} MB), sizes {json.dumps(c['sizes'])}")
    print(f"  {'mark':<30}{'t s':>7}{'traced MB':>11}{'peak since last':>17}{'RSS MB':>9}")
    for m in c["marks"]:
        print(f"  {m['at']:<30}{m['t_s']:>7}{m['traced_mb']:>11}{m['peak_since_last_mb']:>17}{m['rss_mb']:>9}")
    g = c["growth_at_highest_mark"]
    print(f"  growth from the cycle's start to its highest mark ({c['highest_mark']['at']},"
          f" {c['highest_mark']['traced_mb']} MB traced):")
    for title, rows in (("by allocating line", g["by_line"]), ("by innermost sync/ function", g["by_sync_function"]),
                        ("by run_cycle line", g["by_run_cycle_line"])):
        print(f"    {title}:")
        for where, size, count in rows:
            print(f"      {size:>8} MB {count:>9} blocks  {where}")


if __name__ == "__main__":
    raise SystemExit(main())
