"""SIGKILL at random points of a first sync, restart, let it finish: nothing doubled or lost.

`postmortem-sync once` runs as a subprocess against a sandbox (in this process) seeded with 40 pages
x 5 action items. For each kill point (a request number of the first sync, drawn at random from a
seed, so a failure is reproducible), the sandbox goes back to its seed, a first sync is killed with
SIGKILL once the sandbox has served that many requests, and the daemon is restarted and runs to
completion. Then:
- exactly one Jira issue exists per action item;
- every page carries each of its items' keys exactly once, and all of its original text;
- the summary page equals the one a fresh instance computes from Jira and Confluence;
- one more cycle plans nothing.

Variants: the state file kept between runs (the intent journal and the lease holder survive), and
deleted before every restart: a new instance each time. It waits for the killed holder's lease to
expire (here a 1.2-second term), takes the lease in one run, writes in the next, and finds what
the killed run created by the items' labels.

CI runs PMSYNC_CRASH_POINTS kill points (default 5); `PMSYNC_CRASH_POINTS=20` is the full run.
PMSYNC_CRASH_SEED picks the points (default 20261123); a failure prints the seed and the points.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time
from datetime import date, timedelta
from pathlib import Path

import pytest

from sync.atlassian import make_adapters
from sync.cycle import run_cycle
from sync.report import render_summary_page
from sync.settings import load_settings
from sync.state import State
from tests.harness import SUMMARY_TITLE, USERS, World, item_text, mixed_pages, running_world

PAGES, ITEMS = 40, 5
POINTS = int(os.environ.get("PMSYNC_CRASH_POINTS", "5"))
SEED = int(os.environ.get("PMSYNC_CRASH_SEED", "20261123"))
KEY = re.compile(r'<ac:parameter ac:name="key">([A-Z]+-\d+)</ac:parameter>')
LEASE_MINUTES = 0.02  # a 1.2-second term, so a new instance takes over quickly


def write_config(world: World, path: Path, state: Path) -> Path:
    # This sandbox's search has no lag, so no search-lag grace and no overlap are needed between runs
    # (tests/test_search_lag.py runs the loop with a lag, and the defaults).
    sync = {"lease_minutes": LEASE_MINUTES, "overlap_minutes": 0, "search_lag_grace_minutes": 0}
    return world.write_config(path, state=state, sync=sync, jira={"sprint": {"enabled": True, "board_id": 1}},
                              daemon={"log_format": "json", "log_level": "WARNING"})


def start_once(config: Path, output=subprocess.PIPE) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sync", "once", "--force", "--config", str(config)],
                            stdout=output, stderr=subprocess.STDOUT, text=True)


def run_and_kill_at(sb, config: Path, point: int) -> bool:
    """Run `once` and SIGKILL it when the sandbox has served `point` requests; False if it finished first."""
    sb.reset_stats()
    process = start_once(config, subprocess.DEVNULL)
    while process.poll() is None:
        if sb.stats()["total"] >= point:
            process.send_signal(signal.SIGKILL)
            process.wait()
            return True
        time.sleep(0.0005)
    return False


def run_to_completion(config: Path) -> str:
    process = start_once(config)
    output, _ = process.communicate(timeout=120)
    assert process.returncode == 0, output
    return output


def crash_pages() -> dict[str, str]:
    due = (date.today() + timedelta(days=20)).isoformat()
    return mixed_pages(PAGES, ITEMS, json.loads(USERS.read_text())[0]["accountId"], due)


@pytest.fixture
def site(make_world, tmp_path):
    return make_world(crash_pages(), latency_ms=10), tmp_path


def requests_of_a_clean_first_sync(tmp_path: Path) -> int:
    with running_world(tmp_path / "reference", crash_pages(), latency_ms=10) as world:
        config = write_config(world, tmp_path / "reference.toml", tmp_path / "reference.sqlite3")
        run_to_completion(config)
        return world.sb.stats()["total"]


def assert_synced_exactly_once(world: World, config: Path, tmp_path: Path) -> None:
    sb = world.sb
    with sb.state.lock:
        issues = {i.key: i for i in sb.state.jira.issues.values() if "pmsync" in i.labels}
        pages = {p.title: p.body for p in sb.state.confluence.pages.values() if p.title.startswith("Postmortem ")}
        summaries = [p.body for p in sb.state.confluence.pages.values() if p.title == SUMMARY_TITLE]
    expected = sorted(item_text(n, i) for n in range(PAGES) for i in range(ITEMS))
    assert sorted(i.summary for i in issues.values()) == expected  # one issue per item, none twice
    for n in range(PAGES):
        body = pages[f"Postmortem {n:02d}"]
        keys = KEY.findall(body)
        assert sorted(issues[k].summary for k in keys) == sorted(item_text(n, i) for i in range(ITEMS)), body
        assert f"<p>Incident {n}.</p>" in body and all(item_text(n, i) in body for i in range(ITEMS))
    # The summary equals what a brand-new instance computes from Jira and Confluence alone.
    settings = load_settings(config)
    fresh_sync = settings.sync.model_copy(update={"state_path": tmp_path / "fresh.sqlite3"})
    fresh = settings.model_copy(update={"sync": fresh_sync})
    jira, confluence = make_adapters(fresh)
    check = run_cycle(fresh, jira, confluence, State.open(fresh.sync.state_path), apply=False)
    plan = check.plan  # a new instance only records what it finds: every item already has its issue
    assert (plan.creates, plan.epics, plan.updates, plan.transitions, plan.write_backs) == ((),) * 5, plan
    assert len(plan.adopts) == PAGES * ITEMS and not any(a.add_labels for a in plan.adopts)
    assert check.metrics.total == PAGES * ITEMS
    assert summaries == [render_summary_page(check.metrics)]


@pytest.mark.slow
@pytest.mark.parametrize("lose_state", [False, True], ids=["state-kept", "state-deleted"])
def test_sigkill_at_random_points_of_a_first_sync_creates_each_issue_once(site, lose_state):
    world, tmp = site
    sb = world.sb
    total = requests_of_a_clean_first_sync(tmp)
    points = sorted(random.Random(SEED).sample(range(1, total), min(POINTS, total - 1)))
    state = tmp / "state.sqlite3"
    config = write_config(world, tmp / "crash.toml", state)
    for point in points:
        context = (f"seed {SEED}, kill point {point} of {points} ({total} requests), "
                   f"state {'deleted' if lose_state else 'kept'}")
        sb.reset()  # every trial is a first sync from the seed
        forget(tmp)
        assert run_and_kill_at(sb, config, point), f"{context}: the run ended before its kill point"
        if lose_state:
            forget(tmp)
            time.sleep(LEASE_MINUTES * 60)  # the killed holder's lease runs out
            run_to_completion(config)  # the new instance takes the lease; its reads predate it, so it waits a cycle
        run_to_completion(config)
        try:
            assert_synced_exactly_once(world, config, tmp)
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}") from exc


def forget(tmp: Path) -> None:
    """Delete the local state file (and SQLite's side files)."""
    for path in tmp.glob("state.sqlite3*"):
        path.unlink()


# --- reminders: SIGKILL while overdue issues are being reminded; each step lands exactly once -------------

REMINDER_PAGES = 8  # x ITEMS overdue items: a reminder each per step


def overdue_pages() -> dict[str, str]:
    due = (date.today() - timedelta(days=3)).isoformat()
    return mixed_pages(REMINDER_PAGES, ITEMS, json.loads(USERS.read_text())[0]["accountId"], due)


def requests_of_a_clean_reminder_run(tmp_path: Path) -> int:
    """Requests of the run that sends the first reminders (the one after the first sync)."""
    with running_world(tmp_path / "reference-reminders", overdue_pages(), latency_ms=10) as world:
        config = write_config(world, tmp_path / "reference-reminders.toml", tmp_path / "reference-reminders.sqlite3")
        run_to_completion(config)
        world.sb.reset_stats()
        run_to_completion(config)
        return world.sb.stats()["total"]


def assert_reminded_once_per_step(world: World, steps: int) -> None:
    """Every item's issue has exactly `steps` reminder comments and one label for each of steps 1..`steps`."""
    with world.sb.state.lock:
        issues = [i for i in world.sb.state.jira.issues.values() if "pmsync" in i.labels]
        seen = {i.key: (len(i.comments), sorted(label.split("-")[2] for label in i.labels
                                                if label.startswith("pmsync-reminded-"))) for i in issues}
    assert len(issues) == REMINDER_PAGES * ITEMS
    expected = (steps, [str(step) for step in range(1, steps + 1)])
    wrong = {key: found for key, found in seen.items() if found != expected}
    assert not wrong, f"expected {expected} per issue: {wrong}"


@pytest.mark.slow
@pytest.mark.parametrize("lose_state", [False, True], ids=["state-kept", "state-deleted"])
def test_sigkill_while_reminding_sends_no_reminder_twice(make_world, tmp_path, lose_state):
    """A first sync, then the run that reminds every overdue item, killed at a random request; restarted
    (state kept or deleted) it sends the rest, none twice; a week later the same for the second step."""
    world = make_world(overdue_pages(), latency_ms=10)
    sb = world.sb
    total = requests_of_a_clean_reminder_run(tmp_path)
    points = sorted(random.Random(SEED).sample(range(1, total), min(POINTS, total - 1)))
    state = tmp_path / "state.sqlite3"
    config = write_config(world, tmp_path / "reminders.toml", state)
    for point in points:
        context = (f"seed {SEED}, kill point {point} of {points} ({total} requests), "
                   f"state {'deleted' if lose_state else 'kept'}")
        sb.reset()
        forget(tmp_path)
        run_to_completion(config)  # the first sync creates the issues
        try:
            for step in (1, 2):
                if step == 2:
                    sb.advance_clock(timedelta(days=7))
                assert run_and_kill_at(sb, config, point), f"{context}: the run ended before its kill point"
                if lose_state:
                    forget(tmp_path)
                    time.sleep(LEASE_MINUTES * 60)  # the killed holder's lease runs out
                    run_to_completion(config)  # takes the lease; its reads predate it, so it waits a cycle
                run_to_completion(config)
                run_to_completion(config)  # one more: nothing is sent again
                assert_reminded_once_per_step(world, step)
        except AssertionError as exc:
            raise AssertionError(f"{context}: {exc}") from exc
