"""The state file is a cache that knows its site and scope: opened, checked, set aside or refused.

- A corrupt file (garbage, truncated) is moved aside with a warning and rebuilt.
- A location that cannot be written (a read-only folder, a path under a file) is a configuration
  error: exit 2, naming `sync.state_path` and the fix, never a traceback.
- A state kept from another site is set aside with a warning and rebuilt.
- A changed scope (which pages and issues are selected) makes the next cycle a full reconcile.

Unit tests call `open_state` directly; the end-to-end ones run `postmortem-sync once` as a subprocess
against sandboxes, in both flavours where the site matters.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from sandbox import running_sandbox
from sync.models import ItemRecord
from sync.settings import ConfigError, load_settings
from sync.state import State
from sync.state_file import open_state, scope_of, site_of
from tests.harness import write_site_config

REPO = Path(__file__).resolve().parents[1]
USERS = REPO / "sandbox" / "examples" / "users.json"
SITE, OTHER_SITE = "jira=https://a.example confluence=https://a.example/wiki", "jira=https://b.example confluence=x"
SCOPE = "scope-1"
# A folder nobody may create files in, not even root (chmod does not stop root; sysfs refuses everyone).
READ_ONLY_FOLDER = Path("/sys/kernel")


def record(key: str, summary: str) -> ItemRecord:
    return ItemRecord(item_key=key, page_id="1", origin="row", issue_key=None, summary=summary)


def filled_state(path: Path, items: int = 400) -> None:
    """A state file of several SQLite pages, recorded for SITE and SCOPE."""
    state = open_state(path, site=SITE, scope=SCOPE)
    with state.transaction():
        state.save_items(record(f"k{n}", f"Item {n} " + "x" * 200) for n in range(items))
        state.set_meta(confluence_since="2026-11-01T00:00:00+00:00", instance_id="host/1234")
    state.close()


def set_aside(folder: Path, reason: str) -> list[Path]:
    """The files set aside for `reason` (not SQLite's side files)."""
    return sorted(p for p in folder.iterdir() if f".{reason}-" in p.name and not p.name.endswith(("-wal", "-shm")))


# --- unit: open_state ---------------------------------------------------------------------------------

def test_a_garbage_file_is_moved_aside_and_rebuilt(tmp_path):
    path = tmp_path / "state.sqlite3"
    path.write_bytes(b"this is not a database\n" * 100)
    with capture_logs() as events:
        state = open_state(path, site=SITE, scope=SCOPE)
    assert state.items() == {} and state.meta()["site"] == SITE
    (aside,) = set_aside(tmp_path, "corrupt")
    assert aside.read_bytes().startswith(b"this is not a database")
    (warning,) = [e for e in events if e["event"] == "state_set_aside"]
    assert warning["reason"] == "corrupt" and warning["log_level"] == "warning" and warning["moved_to"] == str(aside)


def test_a_truncated_file_is_moved_aside_and_rebuilt(tmp_path):
    path = tmp_path / "state.sqlite3"
    filled_state(path)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    state = open_state(path, site=SITE, scope=SCOPE)
    assert state.items() == {} and len(set_aside(tmp_path, "corrupt")) == 1
    state.save_items([record("new", "works")])  # usable at once


def test_a_sound_file_is_kept_as_it_is(tmp_path):
    path = tmp_path / "state.sqlite3"
    filled_state(path)
    state = open_state(path, site=SITE, scope=SCOPE)
    assert len(state.items()) == 400 and state.meta()["confluence_since"].startswith("2026-11-01")
    assert list(tmp_path.iterdir()) == [path] or not set_aside(tmp_path, "corrupt")


@pytest.mark.parametrize("where", ["under-a-file", "read-only-folder"])
def test_a_location_that_cannot_be_written_is_a_configuration_error(tmp_path, where):
    if where == "under-a-file":
        (tmp_path / "plain-file").write_text("x")
        path = tmp_path / "plain-file" / "state.sqlite3"
    else:
        path = READ_ONLY_FOLDER / "pmsync-state.sqlite3"
    with pytest.raises(ConfigError) as raised:
        open_state(path, site=SITE, scope=SCOPE)
    message = str(raised.value)
    assert "sync.state_path" in message and str(path) in message and "PMSYNC_SYNC__STATE_PATH" in message


def test_a_state_of_another_site_is_set_aside_and_rebuilt(tmp_path):
    path = tmp_path / "state.sqlite3"
    filled_state(path)
    with capture_logs() as events:
        state = open_state(path, site=OTHER_SITE, scope=SCOPE)
    assert state.items() == {} and state.meta()["site"] == OTHER_SITE and "confluence_since" not in state.meta()
    (aside,) = set_aside(tmp_path, "other-site")
    assert len(State.open(aside).items()) == 400  # kept whole, should the configuration go back
    (warning,) = [e for e in events if e["event"] == "state_set_aside"]
    assert warning["reason"] == "other-site" and warning["recorded_site"] == SITE and warning["site"] == OTHER_SITE


def test_a_state_without_a_site_is_adopted(tmp_path):
    """A state written before sites were recorded: nothing tells it apart, so it is kept (an upgrade costs nothing)."""
    path = tmp_path / "state.sqlite3"
    legacy = State.open(path)
    legacy.save_items([record("k", "s")])
    legacy.close()
    state = open_state(path, site=SITE, scope=SCOPE)
    assert list(state.items()) == ["k"] and state.meta()["site"] == SITE


def test_a_changed_scope_drops_the_page_watermark_so_the_next_cycle_is_full(tmp_path):
    path = tmp_path / "state.sqlite3"
    filled_state(path)
    same = open_state(path, site=SITE, scope=SCOPE)
    assert "confluence_since" in same.meta()
    same.close()
    with capture_logs() as events:
        widened = open_state(path, site=SITE, scope="scope-2")
    meta = widened.meta()
    assert "confluence_since" not in meta and meta["scope"] == "scope-2" and len(widened.items()) == 400
    assert any(e["event"] == "scope_changed" for e in events)


def test_the_scope_fingerprint_follows_what_selects_pages_and_issues(tmp_path):
    def settings(**confluence):
        body = "\n".join(f"{k} = {json.dumps(v)}" for k, v in confluence.items())
        config = write_site_config(tmp_path / "c.toml", "http://127.0.0.1:1", tmp_path / "s.sqlite3")
        config.write_text(config.read_text().replace('labels = ["postmortem"]', body or 'labels = ["postmortem"]'))
        return load_settings(config)

    base = settings()
    assert scope_of(base) == scope_of(settings(labels=["postmortem"]))
    assert scope_of(base) != scope_of(settings(labels=["retro"]))
    assert scope_of(base) != scope_of(settings(labels=["postmortem"], parent_pages=["42"]))
    assert scope_of(base) != scope_of(base.model_copy(update={"jira": base.jira.model_copy(update={"project": "X"})}))
    assert site_of(base) != site_of(base.model_copy(update={"jira": base.jira.model_copy(
        update={"url": "http://127.0.0.1:2"})}))


# --- end to end: `postmortem-sync once` ---------------------------------------------------------------

def seed(folder: Path, tag: str, pages: int = 6, items: int = 3) -> Path:
    folder.mkdir()
    (folder / "users.json").write_text(USERS.read_text())
    due = (date.today() + timedelta(days=20)).isoformat()
    for n in range(pages):
        rows = "".join(f"<tr><td>{tag} action {i} of incident {n}</td><td>owner</td><td>{due}</td></tr>"
                       for i in range(items))
        (folder / f"{n:02d}.xml").write_text(f"<title>{tag} postmortem {n}</title>\n<h2>Action items</h2><table>"
                                             f"<tbody><tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}"
                                             "</tbody></table>")
    return folder


def config(path: Path, url: str, state: Path, *, labels: tuple[str, ...] = ("postmortem",)) -> Path:
    written = write_site_config(path, url, state, sync={"overlap_minutes": 0}, daemon={"log_format": "json"})
    written.write_text(written.read_text().replace('labels = ["postmortem"]', f"labels = {json.dumps(list(labels))}"))
    return written


def once(config_path: Path) -> tuple[int, list[dict], str]:
    done = subprocess.run([sys.executable, "-m", "sync", "once", "--config", str(config_path)], cwd=REPO,
                          capture_output=True, text=True, timeout=180)
    events = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done.returncode, events, done.stderr


def managed(sb) -> dict[str, object]:
    with sb.state.lock:
        return {i.summary: i for i in sb.state.jira.issues.values() if "pmsync" in i.labels}


def test_once_rebuilds_a_corrupt_state_and_exits_0(tmp_path):
    with running_sandbox(flavor="cloud", seed_dir=seed(tmp_path / "seed", "A"), port=0) as sb:
        state = tmp_path / "state" / "state.sqlite3"
        state.parent.mkdir()
        state.write_bytes(b"\x00garbage" * 512)
        code, events, err = once(config(tmp_path / "c.toml", sb.url, state))
        assert code == 0, err
        assert any(e["event"] == "state_set_aside" and e["reason"] == "corrupt" for e in events), events
        assert len(managed(sb)) == 18 and "Traceback" not in err


@pytest.mark.parametrize("where", ["under-a-file", "read-only-folder"])
def test_once_exits_2_naming_the_setting_when_the_state_cannot_be_written(tmp_path, where):
    if where == "under-a-file":
        (tmp_path / "plain-file").write_text("x")
        state = tmp_path / "plain-file" / "state.sqlite3"
    else:
        state = READ_ONLY_FOLDER / "pmsync-state.sqlite3"
    code, _, err = once(config(tmp_path / "c.toml", "http://127.0.0.1:9", state))
    assert code == 2, err
    assert "sync.state_path" in err and "Traceback" not in err


@pytest.mark.parametrize("flavor", ["cloud", "datacenter"])
def test_a_state_kept_from_another_site_is_set_aside_and_the_site_synced_in_full(tmp_path, flavor):
    state = tmp_path / "state" / "state.sqlite3"
    with running_sandbox(flavor=flavor, seed_dir=seed(tmp_path / "seed-a", "A"), port=0) as a:
        assert once(config(tmp_path / "a.toml", a.url, state))[0] == 0
        assert len(managed(a)) == 18
    with running_sandbox(flavor=flavor, seed_dir=seed(tmp_path / "seed-b", "B", pages=4), port=0) as b:
        jira = b.jira_client()
        unrelated = [jira.issue_create(fields={"project": {"key": "OPS"}, "issuetype": {"name": "Task"},
                                               "summary": f"Unrelated {n}"})["key"] for n in range(6)]
        code, events, err = once(config(tmp_path / "b.toml", b.url, state))
        assert code == 0, err
        assert any(e["event"] == "state_set_aside" and e["reason"] == "other-site" for e in events), events
        issues = managed(b)
        assert sorted(issues) == sorted(f"B action {i} of incident {n}" for n in range(4) for i in range(3))
        with b.state.lock:
            untouched = [b.state.jira.issue(key) for key in unrelated]
        assert all(i.labels == [] and i.assignee is None and not i.comments for i in untouched)
        assert not any("pmsync-removed" in i.labels for i in issues.values())


@pytest.mark.parametrize("flavor", ["cloud", "datacenter"])
def test_widening_the_labels_syncs_the_newly_selected_pages_at_once(tmp_path, flavor):
    state = tmp_path / "state.sqlite3"
    with running_sandbox(flavor=flavor, seed_dir=seed(tmp_path / "seed", "A"), port=0) as sb:
        with sb.state.lock:  # two existing postmortems carry another label: not selected at first
            retro = [p for p in sb.state.confluence.pages.values() if p.title in ("A postmortem 1", "A postmortem 4")]
            for page in retro:
                sb.state.confluence.remove_label(page.id, "postmortem")
                sb.state.confluence.add_labels(page.id, [("global", "retro")])
        assert once(config(tmp_path / "c.toml", sb.url, state))[0] == 0
        assert len(managed(sb)) == 12
        code, events, err = once(config(tmp_path / "c.toml", sb.url, state, labels=("postmortem", "retro")))
        assert code == 0, err
        finished = next(e for e in events if e["event"] == "cycle_finished")
        assert finished["full"] is True and finished["creates"] == 6, finished
        assert len(managed(sb)) == 18
