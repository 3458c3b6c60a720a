"""`postmortem-sync demo`: the whole pipeline against the local sandbox, for a first look.

The one module of the sandbox that uses the daemon: it knows what the sandbox is seeded with (project
OPS, board 1, space PM, label postmortem, the documented credentials) and points the daemon at it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from sandbox.options import (
    SANDBOX_API_TOKEN,
    SANDBOX_CLOUD_ID,
    SANDBOX_CONFLUENCE_PAT,
    SANDBOX_EMAIL,
    SANDBOX_PAT,
    Flavor,
    SandboxOptions,
)
from sandbox.runtime import Sandbox
from sync.settings import Settings

if TYPE_CHECKING:
    from sync.cycle import CycleResult
    from sync.state import State


# A team's page: the payments postmortems (the examples' "payments" theme), beside the global one.
DEMO_TEAM_PAGE = {"title": "Payments team: postmortem action items", "space": "PM", "themes": ["payments"]}


def sandbox_settings(url: str, state_path: Path, *, epics: bool = False, write_back: bool = True,
                     sprint: bool = True, gateway: bool = False) -> Settings:
    """Settings that point every part of the daemon at a sandbox (its documented local credentials).

    With `gateway`, REST calls go through the API gateway form of a Cloud sandbox, as a scoped API token's
    do (and meet its retired v1 content routes when it runs with `v1_content_gone`); links stay on `url`.
    """
    api = {"jira": f"{url}/ex/jira/{SANDBOX_CLOUD_ID}", "confluence": f"{url}/ex/confluence/{SANDBOX_CLOUD_ID}/wiki"}
    return Settings(
        jira={"url": url, "email": SANDBOX_EMAIL, "api_token": SANDBOX_API_TOKEN, "pat": SANDBOX_PAT,
              "project": "OPS", "priority_map": {"P1": "High", "P2": "Medium", "P3": "Low"},
              "sprint": {"enabled": sprint, "board_id": 1}, "epic": {"enabled": epics},
              **({"api_url": api["jira"]} if gateway else {})},
        confluence={"url": f"{url}/wiki", "pat": SANDBOX_CONFLUENCE_PAT, "spaces": ["PM"], "labels": ["postmortem"],
                    "summary_page": {"space": "PM", "title": "Postmortem action items"},
                    **({"api_url": api["confluence"]} if gateway else {})},
        sync={"state_path": str(state_path), "max_requests_per_second": 100, "write_back": write_back},
        daemon={"log_format": "console", "log_level": "WARNING"},
        summary_pages=[DEMO_TEAM_PAGE],
    )



def run_demo(*, port: int = 8990, flavor: Flavor = "cloud", serve: bool = True) -> int:
    """Start the sandbox, sync once, print the tickets and the summary page; serve until Ctrl-C."""
    from sync.atlassian import make_adapters
    from sync.cycle import run_cycle
    from sync.logs import configure_logging
    from sync.state import State

    sandbox = Sandbox(SandboxOptions(flavor=flavor, port=port))
    try:
        sandbox.start()
    except OSError as exc:
        print(f"postmortem-sync demo: cannot listen on port {port}: {exc} (try --port 0)", file=sys.stderr)
        return 1
    try:
        with tempfile.TemporaryDirectory(prefix="pmsync-demo-") as tmp:
            settings = sandbox_settings(sandbox.url, Path(tmp) / "state.sqlite3")
            configure_logging(log_format="console", level="WARNING", secrets=settings.secret_values())
            jira, confluence = make_adapters(settings)
            state = State.open(settings.sync.state_path)
            result = run_cycle(settings, jira, confluence, state)
            print_results(result, state, sandbox.url)
            # The issues exist now: the next cycle reminds the assignees of the overdue ones.
            later = run_cycle(settings, jira, confluence, state)
            print_reminders(later, sandbox.url)
            state.close()
        if serve:
            print("\nServing the sandbox; open the links above in a browser. Ctrl-C to stop.")
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        return 0 if result.ok and later.ok else 1
    finally:
        sandbox.stop()


def print_results(result: CycleResult, state: State, url: str) -> None:
    view = state.view()
    created = result.applied.created if result.applied else {}
    print(f"Synced {result.pages_seen} postmortem page(s), {result.items} action item(s): "
          f"{len(created)} Jira issue(s) created, "
          f"{result.applied.adopted if result.applied else 0} existing issue(s) adopted, "
          f"{result.applied.written_back if result.applied else 0} page(s) updated with their keys.")
    for item_key, issue_key in sorted(created.items(), key=lambda kv: int(kv[1].split('-')[1])):
        record = view.items.get(item_key)
        print(f"  {url}/browse/{issue_key}  {record.summary[:80] if record else ''}")
    if result.metrics:
        m = result.metrics
        rate = "n/a" if m.completion_rate is None else f"{m.completion_rate:.0%}"
        print(f"Completion: {m.done}/{m.total} done ({rate}), {m.overdue} overdue.")
        print(f"Themes: {len(m.by_theme)}; recurring within the window: "
              + (", ".join(f"{r.theme} ({len(r.incidents)} incidents)" for r in m.recurring) or "none") + ".")
        if m.quality:
            print(f"Postmortem quality: {len(m.quality)} postmortem(s) with findings, listed on the summary page.")
    summary_url = view.meta.get("summary_page_url")
    if summary_url:
        print(f"Summary page: {summary_url}")
    for title in result.scoped_written:
        print(f"Team summary page written: {title!r} (space PM)")
    if result.problems:
        print(f"{len(result.problems)} problem(s) reported, e.g. {result.problems[0]}")


SHOWN_REMINDERS = 8


def print_reminders(result: CycleResult, url: str) -> None:
    """What the second cycle sent: one reminder comment per open, overdue issue."""
    from sync.models import Owner

    sent = result.applied.reminded if result.applied else []
    print(f"Reminders: the next cycle commented on {len(sent)} overdue issue(s), mentioning the assignee.")
    for reminder in sorted(sent, key=lambda r: int(r.issue_key.split("-")[1]))[:SHOWN_REMINDERS]:
        named = [f"@{p.display or p.account_id or p.username}" for p in reminder.comment if isinstance(p, Owner)]
        step = "final reminder" if reminder.final else f"reminder {reminder.step}"
        print(f"  {url}/browse/{reminder.issue_key}  {step} to {', '.join(named) or 'nobody (unassigned)'}")
    if len(sent) > SHOWN_REMINDERS:
        print(f"  ... and {len(sent) - SHOWN_REMINDERS} more")
