"""A recognisable token never appears in a log line, error, exception, page, Jira field or the state.

The daemon runs as a user runs it (`postmortem-sync once` / `check` / `plan` in a subprocess, DEBUG
logs) against a sandbox that accepts only the canary credentials, through the fault scenarios of the
suite: a normal sync, a wrong token, 401/403/429/5xx, connection resets, hostile pages. Then every
byte the daemon produced or wrote is searched for the canary and its base64 forms.
"""

from __future__ import annotations

import base64
import os
import sqlite3
import subprocess
import sys
from dataclasses import fields, is_dataclass
from pathlib import Path

import pytest

from sync.atlassian import make_adapters
from sync.cycle import run_cycle
from sync.settings import Settings
from sync.state import State
from tests.harness import FLAVORS, World, item_pages, merged, site_config, table_page, table_row

CANARY_TOKEN = "canary-TOKEN-7f3a9c51e2d84b06"
CANARY_PAT = "canary-PAT-0b9d4e6a1c7f2358"
EMAIL = "sandbox@example.com"


def forms(secret: str) -> set[str]:
    """The secret and the ways it travels (basic-auth base64, bearer)."""
    return {secret, base64.b64encode(f"{EMAIL}:{secret}".encode()).decode(), secret[6:20]}


def config(world: World, path: Path, state: Path, *, token: str, pat: str) -> Path:
    return world.write_config(path, state=state, jira={"api_token": token, "pat": pat},
                              retry={"backoff_cap_seconds": 0.05}, daemon={"log_format": "json", "log_level": "DEBUG"})


def cli(*args: str) -> str:
    """Run the CLI as a user would; everything it printed, both streams."""
    done = subprocess.run([sys.executable, "-m", "sync", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return done.stdout + done.stderr


def everything_written(sb, state_path: Path) -> str:
    """Every page body and title, every Jira field, comment, link and property, and the state file."""
    chunks = []
    with sb.state.lock:
        for page in sb.state.confluence.pages.values():
            chunks += [page.title, page.body]
        for issue in sb.state.jira.issues.values():
            chunks.append(repr(issue))
        chunks.append(repr(getattr(sb.state.confluence, "properties", "")))
    if state_path.exists():
        with sqlite3.connect(state_path) as db:
            for table in ("items", "pages", "issues", "intents", "meta"):
                chunks += [repr(row) for row in db.execute(f"SELECT * FROM {table}")]
    return "\n".join(chunks)


def assert_no_secret(text: str, *secrets: str) -> None:
    for secret in secrets:
        for form in forms(secret):
            at = text.find(form)
            assert form not in text, f"a secret form leaked: ...{text[max(0, at - 200):at + 50]}"


@pytest.fixture(params=FLAVORS)
def site(request, make_world, tmp_path):
    """A sandbox that accepts only the canary credentials; page 0 has a hostile row that starts like the token."""
    hostile = f'Rotate {CANARY_TOKEN[:6]} " OR project = X <script>x</script> ]]&gt;'
    pages = item_pages(3, 3)
    pages["0.xml"] = table_page("Postmortem 0", [f"Item {i} of page 0" for i in range(3)],
                                rows=table_row(hostile.replace("<", "&lt;").replace(">", "&gt;"), "x"))
    return make_world(pages, flavor=request.param, api_token=CANARY_TOKEN, pat=CANARY_PAT), tmp_path


@pytest.mark.slow
def test_the_canary_token_appears_nowhere_across_fault_scenarios(site):
    world, tmp = site
    sb = world.sb
    state = tmp / "state.sqlite3"
    good = config(world, tmp / "good.toml", state, token=CANARY_TOKEN, pat=CANARY_PAT)
    wrong = config(world, tmp / "wrong.toml", tmp / "other.sqlite3",
                   token=CANARY_TOKEN + "-wrong", pat=CANARY_PAT + "-wrong")
    output = [cli("check", "--config", str(wrong)), cli("once", "--config", str(wrong))]
    assert "HTTP 401" in output[0] and "HTTP 401" in output[1]  # the failure is stated, the token is not
    output.append(cli("once", "--config", str(good)))  # a whole first sync: creates, write-backs, summary
    with sb.state.lock:
        assert any(i.summary.startswith("Item 0 of page 0") for i in sb.state.jira.issues.values()), output[-1]
    for fault in ({"match": "POST /rest/api/2/issue/bulk", "status": 500},
                  {"match": "GET /wiki/rest/api/content/search", "status": 429, "headers": {"Retry-After": "1"}},
                  {"match": "PUT /wiki/rest/api/content/{id}", "reset": True, "count": 5},
                  {"match": "POST /wiki/rest/api/content", "status": 403},
                  {"match": "GET /rest/api/2/serverInfo", "status": 503, "count": 9}):
        sb.inject_fault(**fault)
        output.append(cli("once", "--config", str(good), "--force"))
        sb.clear_faults()
    output += [cli("once", "--config", str(good)), cli("plan", "--config", str(good)),
               cli("check", "--config", str(good)), cli("report", "--config", str(good))]
    joined = "\n".join(output)
    assert '"event": "cycle_finished"' in joined  # the logs are really there to search
    assert_no_secret(joined, CANARY_TOKEN, CANARY_PAT)
    assert_no_secret(everything_written(sb, state), CANARY_TOKEN, CANARY_PAT)


def test_exceptions_and_problems_of_a_failing_cycle_carry_no_secret(site):
    world, tmp = site
    sb = world.sb
    settings = Settings(**merged(site_config(sb.url, tmp / "state.sqlite3", token=CANARY_TOKEN, pat=CANARY_PAT),
                                 {"retry": {"backoff_cap_seconds": 0.05, "max_attempts": 2}}))
    jira, confluence = make_adapters(settings)
    state = State.open(settings.sync.state_path)
    sb.inject_fault(status=500, count=100)  # every API call fails
    result = run_cycle(settings, jira, confluence, state)
    sb.clear_faults()
    assert not result.ok and result.problems
    texts = [repr(result), *map(str, result.problems)]
    for call in (lambda: jira.get_issue("OPS-999"), lambda: confluence.get_page("999999")):
        try:
            call()
        except Exception as exc:  # noqa: BLE001 - the point is what any exception says
            texts += [str(exc), repr(exc), repr(exc.__cause__), repr(exc.__context__)]
    assert_no_secret("\n".join(texts) + "\n" + "\n".join(_walk(result)), CANARY_TOKEN, CANARY_PAT)


def _walk(value, depth: int = 0) -> list[str]:
    """Every string inside a result (dataclasses, lists, dicts), to be searched."""
    if depth > 6:
        return []
    if isinstance(value, str):
        return [value]
    if is_dataclass(value):
        return [s for f in fields(value) for s in _walk(getattr(value, f.name), depth + 1)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _walk(k, depth + 1) + _walk(v, depth + 1)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [s for v in value for s in _walk(v, depth + 1)]
    return []
