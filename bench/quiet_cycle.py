"""A quiet cycle's CPU and memory, as `run` and `once` spend them, measured in a fresh process.

    python bench/quiet_cycle.py run --url URL --state STATE.sqlite3 [--cycles 3]
    python bench/quiet_cycle.py once --url URL --state STATE.sqlite3

Started by bench/sync_bench.py once the first sync and its settling cycle are done (nothing changed
since): a new process opens a copy of the state file and runs cycles against the sandbox at URL.

- `once` opens the state and runs one cycle, as the `once` command does: its CPU covers loading and
  decoding what the cycle needs from SQLite. A quiet `once` whose conclusion is settled (sync.settled: an
  earlier quiet cycle at the same state, date and configuration concluded and wrote nothing) decodes
  nothing; `--unsettled` forgets that first, for the figure of the first quiet `once` after a change.
- `run` keeps the state decoded between cycles, as the `run` command does (`State.keep_decoded`): the
  first cycle loads it; the figures are those of the cycles after it (the steady state of a daemon).

Prints one JSON object: CPU seconds of each cycle (time.process_time), this process's peak resident set
(VmHWM, which includes the imports and the load) and its resident set at the end.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from sync_bench import _proc_status_mb, bench_settings, rss_mb

from sync.atlassian import make_adapters
from sync.cycle import run_cycle
from sync.heap import trim_heap
from sync.logs import configure_logging
from sync.reminders import REMINDERS_SETTLED
from sync.settled import SETTLED_META
from sync.state import State


def peak_rss_mb() -> float:
    """This process's peak resident set (VmHWM: since exec; ru_maxrss would carry the parent's from the fork)."""
    return _proc_status_mb("self", "VmHWM")


def forget_settled(path: Path) -> None:
    """As if the state had changed since the last quiet cycle concluded: the next one draws its conclusion."""
    state = State.open(path)
    try:
        state.set_meta(**{SETTLED_META: None, REMINDERS_SETTLED: None})
    finally:
        state.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["run", "once"])
    parser.add_argument("--url", required=True)
    parser.add_argument("--state", type=Path, required=True)
    parser.add_argument("--cycles", type=int, default=3, help="run: cycles after the loading one")
    parser.add_argument("--lease-minutes", type=float, default=15)
    parser.add_argument("--unsettled", action="store_true", help="forget the settled conclusion and reminders first")
    args = parser.parse_args()
    if args.unsettled:
        forget_settled(args.state)
    configure_logging(log_format="console", level="ERROR")
    settings = bench_settings(args.url, args.state, args.lease_minutes)
    rss_start = rss_mb()
    cpu = time.process_time()
    state = State.open(settings.sync.state_path)
    jira, confluence = make_adapters(settings, memory=state)  # as run and once: the deployment is remembered
    if args.mode == "run":
        state.keep_decoded()
        load = {"ok": run_cycle(settings, jira, confluence, state).ok}  # as `run`, keep nothing of it
        gc.collect()  # as `run` does after its first cycle (sync.cli)
        gc.freeze()
        trim_heap()
        load.update(loading_cycle_cpu_s=round(time.process_time() - cpu, 3), rss_after_loading_mb=round(rss_mb(), 1))
        cycles = []
        for _ in range(args.cycles):
            cpu, loads, sent = time.process_time(), state.loads, jira.request_count + confluence.request_count
            ok = run_cycle(settings, jira, confluence, state).ok  # the daemon keeps only numbers of a result
            cycles.append({"cpu_s": round(time.process_time() - cpu, 3), "ok": ok,
                           "requests": jira.request_count + confluence.request_count - sent,
                           "state_loads": state.loads - loads})
        row = {**load, "cycles": cycles, "cpu_s": max(c["cpu_s"] for c in cycles)}
    else:
        result = run_cycle(settings, jira, confluence, state)
        row = {"cpu_s": round(time.process_time() - cpu, 3), "ok": result.ok,
               "requests": sum(result.requests.values())}
    row.update(mode=args.mode, rss_at_start_mb=round(rss_start, 1), peak_rss_mb=round(peak_rss_mb(), 1),
               rss_mb=round(rss_mb(), 1), process_cpu_s=round(time.process_time(), 2))
    state.close()
    print(json.dumps(row))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
