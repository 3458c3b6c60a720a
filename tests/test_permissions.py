"""Bad configuration and missing permissions: `check` and the cycle say exactly what is wrong, and
nothing is half-written (no ticket without its due date, no write without the lease)."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sandbox.demo import sandbox_settings
from sync.atlassian import make_adapters
from sync.cli import main
from sync.cycle import run_cycle
from sync.problems import ProblemKind
from sync.state import State
from tests.sandbox_config import write_sandbox_config

USERS = Path(__file__).resolve().parents[1] / "sandbox" / "examples" / "users.json"
DUE = (date.today() + timedelta(days=30)).isoformat()
SUMMARY = "Postmortem action items"


@pytest.fixture(params=["cloud", "datacenter"])
def sb(request, tmp_path):
    seed = tmp_path / "seed"
    seed.mkdir()
    (seed / "users.json").write_text(USERS.read_text())
    for n in range(2):
        rows = "".join(f"<tr><td>Item {i} of page {n}</td><td>owner</td><td>{DUE}</td></tr>" for i in range(3))
        (seed / f"{n}.xml").write_text(f"<title>Postmortem {n}</title>\n<h2>Action items</h2><table><tbody>"
                                       f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")
    with running_sandbox(flavor=request.param, seed_dir=seed, port=0) as sandbox:
        yield sandbox


def write_config(path: Path, url: str, *, project: str = "OPS", token: str = "sandbox-token",
                 pat: str = "sandbox-pat", lease_minutes: float = 15) -> Path:
    return write_sandbox_config(path, url, path.parent / "state.sqlite3", token=token, pat=pat, project=project,
                                sync={"lease_minutes": lease_minutes, "full_reconcile_every": 1})


def check(config: Path, capsys) -> tuple[int, list[str]]:
    code = main(["check", "--config", str(config)])
    return code, capsys.readouterr().out.splitlines()


def failures(lines: list[str]) -> list[str]:
    return [line for line in lines if line.startswith("FAIL")]


def test_check_passes_on_a_healthy_site(sb, tmp_path, capsys):
    code, lines = check(write_config(tmp_path / "ok.toml", sb.url), capsys)
    assert code == 0 and failures(lines) == [], lines
    assert any("create screen of OPS/Task" in line for line in lines)


def test_check_names_a_wrong_token_and_a_missing_project(sb, tmp_path, capsys):
    code, lines = check(write_config(tmp_path / "token.toml", sb.url, token="wrong", pat="wrong"), capsys)
    assert code == 1 and "HTTP 401" in failures(lines)[0] and "check the email and API token" in failures(lines)[0]
    code, lines = check(write_config(tmp_path / "project.toml", sb.url, project="NOPE"), capsys)
    assert code == 1
    assert any("project NOPE" in line for line in failures(lines)), lines


def test_duedate_off_the_create_screen_is_named_by_check_and_no_ticket_is_created_without_it(sb, tmp_path, capsys):
    sb.hide_field("OPS", "duedate")
    config = write_config(tmp_path / "c.toml", sb.url)
    code, lines = check(config, capsys)
    assert code == 1
    assert [line for line in failures(lines) if "duedate not on the create screen of OPS/Task" in line], lines
    assert main(["once", "--config", str(config)]) == 0  # the cycle itself completes, and reports
    with sb.state.lock:
        assert [i for i in sb.state.jira.issues.values() if "pmsync" in i.labels] == []  # nothing half-made
        bodies = [p.body for p in sb.state.confluence.pages.values() if p.title.startswith("Postmortem ")]
    assert not any('ac:name="jira"' in body for body in bodies)
    settings = sandbox_settings(sb.url, tmp_path / "state.sqlite3", sprint=False)  # the same instance as `once`
    settings = settings.model_copy(update={"sync": settings.sync.model_copy(update={"full_reconcile_every": 1})})
    jira, confluence = make_adapters(settings)
    state = State.open(settings.sync.state_path)
    rejected = run_cycle(settings, jira, confluence, state, force=True)
    reasons = [str(p) for p in rejected.problems if p.kind is ProblemKind.CREATE_REJECTED]
    assert len(reasons) == 6 and all("duedate" in p and "not on the appropriate screen" in p for p in reasons)
    with sb.state.lock:
        sb.state.hidden_fields_by_project.clear()  # the admin fixes the screen
    fixed = run_cycle(settings, jira, confluence, state)
    assert fixed.ok and len(fixed.applied.created) == 6, fixed.problems


def test_a_summary_page_the_account_cannot_edit_blocks_writes_and_says_why(sb, tmp_path, capsys):
    wiki = sb.confluence_client()
    page = wiki.post("rest/api/content", data={"type": "page", "title": SUMMARY, "space": {"key": "PM"},
                                               "body": {"storage": {"value": "<p>old</p>", "representation": "storage"}}})
    sb.restrict_page_edit(page["id"])
    config = write_config(tmp_path / "c.toml", sb.url)
    code, lines = check(config, capsys)
    assert code == 1
    assert [line for line in failures(lines) if "cannot edit the summary page" in line and page["id"] in line], lines
    settings = sandbox_settings(sb.url, tmp_path / "state.sqlite3", sprint=False)
    jira, confluence = make_adapters(settings)
    state = State.open(settings.sync.state_path)
    blocked = run_cycle(settings, jira, confluence, state)
    assert not blocked.ok and any(p.kind is ProblemKind.LEASE_DENIED and "HTTP 403" in str(p) for p in blocked.problems)
    with sb.state.lock:
        assert [i for i in sb.state.jira.issues.values() if "pmsync" in i.labels] == []
        assert sb.state.confluence.pages[page["id"]].body == "<p>old</p>"
    # Without the lease (a single instance), tickets sync and only the summary is reported.
    single = settings.model_copy(update={"sync": settings.sync.model_copy(update={"lease_minutes": 0})})
    alone = run_cycle(single, jira, confluence, state)
    assert len(alone.applied.created) == 6
    assert any(p.kind is ProblemKind.SUMMARY_FAILED and "403" in str(p) for p in alone.problems), alone.problems
