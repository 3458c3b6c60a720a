"""The test harness: a sandbox seeded with a test's pages, the daemon against it, and its users.

A `World` is one running sandbox (either flavour) with:
  * `world.daemon`: one instance of the daemon (its settings, its state file, one pair of adapters as a
    process has), made on first use; `world.add_daemon(name)` makes another one against the same site;
  * `world.cycle()` (must succeed) and `world.attempt()` (whatever comes of it) run one cycle of it;
  * `world.clock`: the time of both sides, which a test moves forward (`world.clock.offset += ...`);
  * the users' side: `world.jira_client` and `world.confluence_client` (the sandbox's own clients, never the
    daemon's), `edit_page`, `transition_done`, and readers of what the sandbox holds (`issue`,
    `managed`, `body`, ...);
  * `world.write_config(path)`: a TOML file pointing at the world, for tests that run the CLI.

Tests get worlds from the fixtures in tests/conftest.py (`world`, `make_world`, `flavor`), or from
`running_world` where a fixture does not fit (a module-scoped run, a new sandbox per table row).
The settings are built here, from the sandbox's documented credentials; nothing comes from a
production module.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sandbox import SANDBOX_API_TOKEN, SANDBOX_CONFLUENCE_PAT, SANDBOX_EMAIL, SANDBOX_PAT, Sandbox, running_sandbox
from sandbox.options import SANDBOX_CLOUD_ID
from sync.atlassian import make_adapters, retry_policy
from sync.clock import passed_for_all
from sync.cycle import CycleResult, run_cycle
from sync.lease import release
from sync.settings import Settings
from sync.state import State

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "sandbox" / "examples"
USERS = EXAMPLES / "users.json"
FLAVORS = ("cloud", "datacenter")
SUMMARY_TITLE = "Postmortem action items"
DUE = (date.today() + timedelta(days=30)).isoformat()
KEY_PARAMETER = '<ac:parameter ac:name="key">'
MANAGED = "pmsync"


# --- settings ------------------------------------------------------------------------------------


def site_config(url: str, state_path: Path | str, *, token: str = SANDBOX_API_TOKEN, pat: str = SANDBOX_PAT,
                project: str = "OPS", gateway: bool = False,
                confluence_pat: str = SANDBOX_CONFLUENCE_PAT) -> dict[str, Any]:
    """What every test daemon needs: Jira and Confluence at `url` with the sandbox's credentials (a PAT per
    product, as Data Center has them), the postmortems (space PM, label postmortem), the summary page, the
    state file, no client-side pacing; with `gateway`, the daemon's REST calls take the API gateway form
    (the sandbox serves both)."""
    config = {
        "jira": {"url": url, "email": SANDBOX_EMAIL, "api_token": token, "pat": pat, "project": project},
        "confluence": {"url": f"{url}/wiki", "pat": confluence_pat, "spaces": ["PM"], "labels": ["postmortem"],
                       "summary_page": {"space": "PM", "title": SUMMARY_TITLE}},
        "sync": {"state_path": str(state_path), "max_requests_per_second": 100},
    }
    if gateway:  # REST calls through the API gateway form, as a scoped API token's are; links stay on `url`
        config["jira"]["api_url"] = f"{url}/ex/jira/{SANDBOX_CLOUD_ID}"
        config["confluence"]["api_url"] = f"{url}/ex/confluence/{SANDBOX_CLOUD_ID}/wiki"
    return config


def daemon_config(url: str, state_path: Path | str, *, epics: bool = False, write_back: bool = True,
                  sprint: bool = True, token: str = SANDBOX_API_TOKEN, pat: str = SANDBOX_PAT, gateway: bool = False,
                  confluence_pat: str = SANDBOX_CONFLUENCE_PAT, **sections: dict[str, Any]) -> dict[str, Any]:
    """`site_config` plus what in-process tests run with (priorities, the board's sprint, epics,
    write-back, quiet logs), then `sections` merged over it: daemon_config(..., sync={"lease_minutes": 0}).

    Overdue reminders are off here, so that a test of the sync's own writes counts only those (the bundled
    examples are long overdue); tests/test_reminders.py turns them on: daemon_config(..., reminders={...})."""
    site = site_config(url, state_path, token=token, pat=pat, gateway=gateway, confluence_pat=confluence_pat)
    config = merged(site, {
        "jira": {"priority_map": {"P1": "High", "P2": "Medium", "P3": "Low"},
                 "sprint": {"enabled": sprint, "board_id": 1}, "epic": {"enabled": epics}},
        "sync": {"write_back": write_back},
        "reminders": {"enabled": False},
        "daemon": {"log_format": "console", "log_level": "WARNING"},
    })
    return merged(config, sections)


def daemon_settings(url: str, state_path: Path | str, **options: Any) -> Settings:
    """Validated Settings from `daemon_config`."""
    return Settings(**daemon_config(url, state_path, **options))


def replaced(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """A copy with fields of the named sections replaced: replaced(settings, sync={"lease_minutes": 0})."""
    return settings.model_copy(update={name: getattr(settings, name).model_copy(update=changes)
                                       for name, changes in sections.items()})


def merged(base: Mapping[str, Any], changes: Mapping[str, Any]) -> dict[str, Any]:
    """`base` with `changes` merged in, tables recursively."""
    out = dict(base)
    for key, value in changes.items():
        both_tables = isinstance(value, Mapping) and isinstance(out.get(key), Mapping)
        out[key] = merged(out[key], value) if both_tables else value
    return out


def write_config(path: Path, config: Mapping[str, Any]) -> Path:
    """`config` as a TOML file, for tests that run the CLI as users do."""
    path.write_text("\n".join(_toml_table((), config)) + "\n")
    return path


def write_site_config(path: Path, url: str, state_path: Path | str, **sections: dict[str, Any]) -> Path:
    """A CLI config file for the site at `url` (`site_config`), with `sections` merged over it."""
    return write_config(path, merged(site_config(url, state_path), sections))


def _toml_table(name: tuple[str, ...], table: Mapping[str, Any]) -> list[str]:
    lines = [f"[{'.'.join(name)}]"] if name else []
    lines += [f"{key} = {_toml_value(value)}" for key, value in table.items() if not isinstance(value, Mapping)]
    for key, value in table.items():
        if isinstance(value, Mapping):
            lines += ["", *_toml_table((*name, key), value)]
    return lines


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)  # a JSON string is a TOML basic string
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    if isinstance(value, Mapping):  # an inline table: how a list of tables ([[summary_pages]]) fits on one line
        return "{" + ", ".join(f"{key} = {_toml_value(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


# --- seeds ---------------------------------------------------------------------------------------


def item_text(page: int, item: int) -> str:
    """The summary of item `item` of postmortem `page` in `mixed_pages`."""
    return f"Action {item} of incident {page}"


def mixed_pages(pages: int, items: int, owner: str, due: str) -> dict[str, str]:
    """`pages` postmortems of `items` items each, all owned by the account `owner` and due on `due`:
    the even ones a table, the odd ones a task list (both shapes in one crash or lag scenario)."""
    mention = f'<ac:link><ri:user ri:account-id="{owner}" /></ac:link>'
    out = {}
    for n in range(pages):
        if n % 2:
            tasks = "".join(f"<ac:task><ac:task-id>{i + 1}</ac:task-id><ac:task-status>incomplete</ac:task-status>"
                            f'<ac:task-body>{item_text(n, i)} {mention} <time datetime="{due}" /></ac:task-body>'
                            "</ac:task>" for i in range(items))
            section = f"<h2>Follow-up actions</h2><ac:task-list>{tasks}</ac:task-list>"
        else:
            rows = "".join(f'<tr><td>{item_text(n, i)}</td><td>{mention}</td><td><time datetime="{due}" /></td></tr>'
                           for i in range(items))
            section = ("<h2>Action items</h2><table><tbody><tr><th>Action</th><th>Owner</th><th>Due</th></tr>"
                       f"{rows}</tbody></table>")
        out[f"{n:02d}.xml"] = f"<title>Postmortem {n:02d}</title>\n<p>Incident {n}.</p>{section}"
    return out


def archive_pages(pages: int, items: int, owner: str) -> dict[str, str]:
    """An archive of `pages` postmortems with `items` table rows each, all owned by `owner` (an account id) and
    due in 20 days (file name -> storage format)."""
    due = (date.today() + timedelta(days=20)).isoformat()
    archive = {}
    for n in range(pages):
        rows = "".join(f'<tr><td>Action {i} of incident {n}</td><td><ac:link><ri:user ri:account-id="{owner}" />'
                       f'</ac:link></td><td><time datetime="{due}" /></td></tr>' for i in range(items))
        archive[f"{n:03d}.xml"] = (f"<title>Postmortem {n:03d}</title>\n<h2>Action items</h2><table><tbody>"
                                   f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")
    return archive


def seed(folder: Path, pages: Mapping[str, str]) -> Path:
    """A sandbox seed folder: the bundled users plus one storage-format file per page (file name -> XHTML)."""
    folder.mkdir(parents=True)
    (folder / "users.json").write_text(USERS.read_text())
    for name, body in pages.items():
        (folder / name).write_text(body)
    return folder


def table_row(summary: str, owner: str = "owner", due: str = DUE) -> str:
    return f"<tr><td>{summary}</td><td>{owner}</td><td>{due}</td></tr>"


def table_page(title: str, summaries: list[str], *, owner: str = "owner", due: str = DUE, before: str = "",
               rows: str = "") -> str:
    """A postmortem whose Action items table (Action, Owner, Due) has a row per summary, then `rows`."""
    body = "".join(table_row(summary, owner, due) for summary in summaries) + rows
    return (f"<title>{title}</title>\n{before}<h2>Action items</h2><table><tbody>"
            f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{body}</tbody></table>")


def item_pages(pages: int, items: int, *, owner: str = "owner") -> dict[str, str]:
    """Pages "Postmortem n" with items "Item i of page n"; `owner` may name the page as "{n}"."""
    return {f"{n}.xml": table_page(f"Postmortem {n}", [f"Item {i} of page {n}" for i in range(items)],
                                   owner=owner.format(n=n)) for n in range(pages)}


# --- time ----------------------------------------------------------------------------------------


class Clock:
    """Wall time plus an offset a test moves forward; a world's sandbox and daemons share one."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


# --- the daemon ----------------------------------------------------------------------------------


class Daemon:
    """One instance of the daemon: settings, a state file, and one pair of adapters, as one process has.

    With `record_waits`, the retry policy's waits are appended to `waits` instead of slept: the
    request sequence is the same, without the real seconds (tests assert the waits instead).
    """

    def __init__(self, settings: Settings, clock: Clock, *, record_waits: bool = False, process: str = "run") -> None:
        self.clock = clock
        self.waits: list[float] | None = [] if record_waits else None
        self.keeps_decoded = process == "run"  # as `run` does (sync.cli); `once` reads the file each cycle
        self.state = self._open(settings.sync.state_path)
        self.restart(settings)

    def _open(self, path: Path | str) -> State:
        state = State.open(path)
        if self.keeps_decoded:
            state.keep_decoded()  # cycles read the decoded state kept in memory
        return state

    def restart(self, settings: Settings | None = None) -> None:
        """New adapters, optionally with new settings; the same state file (a restarted process)."""
        self.settings = settings or self.settings
        self.state.reload()
        policy = retry_policy(self.settings.retry)
        if self.waits is not None:
            policy = dataclasses.replace(policy, sleep=self.waits.append)
        self.jira, self.confluence = make_adapters(self.settings, policy=policy)

    def attempt(self, **kwargs: Any) -> CycleResult:
        """One cycle, whatever comes of it; at the shared clock's time unless `now` is given."""
        return run_cycle(self.settings, self.jira, self.confluence, self.state, **{"now": self.clock, **kwargs})

    def cycle(self, **kwargs: Any) -> CycleResult:
        """One cycle that must succeed."""
        result = self.attempt(**kwargs)
        assert result.ok, result.problems
        return result

    def stop(self) -> None:
        """Shut down as on SIGTERM: release the write lease (at a time on Jira's clock, as `run` does)."""
        release(self.confluence, self.state, passed_for_all(self.jira, self.clock()))

    def forget_state(self) -> None:
        """Lose the state file (and SQLite's side files), then start on a new one: a new instance."""
        self.state.close()
        path = Path(self.settings.sync.state_path)
        for file in path.parent.glob(path.name + "*"):
            file.unlink()
        self.state = self._open(path)

    def close(self) -> None:
        self.state.close()


# --- the world -----------------------------------------------------------------------------------


class World:
    """A running sandbox, the daemon(s) against it and the users' side; see the module docstring."""

    def __init__(self, sb: Sandbox, folder: Path, *, record_waits: bool = False, process: str = "run",
                 **options: Any) -> None:
        self.sb, self.folder, self.flavor, self.process = sb, folder, sb.flavor, process
        self.options = {"token": sb.options.api_token, "pat": sb.options.pat,
                        "confluence_pat": sb.options.confluence_pat, **options}
        self.record_waits = record_waits
        self.clock = Clock()
        sb.state.confluence.clock = sb.state.jira.clock = self.clock
        self.jira_client, self.confluence_client = sb.jira_client(), sb.confluence_client()
        self.daemons: dict[str, Daemon] = {}

    @property
    def url(self) -> str:
        return self.sb.url

    def settings_for(self, name: str = "daemon", **options: Any) -> Settings:
        """The settings of daemon `name` (state file `<name>.sqlite3`), `options` over the world's."""
        return daemon_settings(self.url, self.state_path(name), **merged(self.options, options))

    def state_path(self, name: str = "daemon") -> Path:
        return self.folder / f"{name}.sqlite3"

    def add_daemon(self, name: str, **options: Any) -> Daemon:
        """Another instance against this site: its own state file, adapters and connections."""
        assert name not in self.daemons, f"daemon {name} exists"
        self.daemons[name] = Daemon(self.settings_for(name, **options), self.clock, record_waits=self.record_waits,
                                    process=self.process)
        return self.daemons[name]

    @property
    def daemon(self) -> Daemon:
        """The world's daemon, started on first use (so a CLI run before it sees no open state)."""
        return self.daemons.get("daemon") or self.add_daemon("daemon")

    @property
    def settings(self) -> Settings:
        return self.daemon.settings

    @property
    def state(self) -> State:
        return self.daemon.state

    def cycle(self, **kwargs: Any) -> CycleResult:
        """One cycle of the world's daemon that must succeed."""
        return self.daemon.cycle(**kwargs)

    def attempt(self, **kwargs: Any) -> CycleResult:
        """One cycle of the world's daemon, whatever comes of it."""
        return self.daemon.attempt(**kwargs)

    def write_config(self, path: Path, *, state: Path | None = None, **sections: dict[str, Any]) -> Path:
        """A TOML config for the CLI: this site, its credentials and `state` (the world daemon's state
        file by default), then `sections`; `jira={"api_token": ...}` overrides a credential."""
        base = site_config(self.url, state or self.state_path(), token=self.options["token"], pat=self.options["pat"],
                           gateway=self.options.get("gateway", False), confluence_pat=self.options["confluence_pat"])
        return write_config(path, merged(base, sections))

    # --- the users' side: through the API, as people work ---------------------------------------

    def page(self, title: str) -> dict:
        """The page's JSON with its storage body and version, found by CQL."""
        found = self.confluence_client.get("rest/api/content/search", params={
            "cql": f'space = PM and title = "{title}"', "expand": "body.storage,version"})
        return found["results"][0]

    def edit_page(self, title: str, edit: Callable[[str], str]) -> None:
        """Save the page with its body passed through `edit`, as the next version."""
        page = self.page(title)
        self.confluence_client.put(f"rest/api/content/{page['id']}", data={
            "id": page["id"], "type": "page", "title": page["title"],
            "version": {"number": page["version"]["number"] + 1},
            "body": {"storage": {"value": edit(page["body"]["storage"]["value"]), "representation": "storage"}}})

    def search(self, jql: str, fields: str = "summary", limit: int = 100) -> list[dict]:
        """Issues as Jira's search answers them, on the flavour's search route."""
        path = "rest/api/3/search/jql" if self.flavor == "cloud" else "rest/api/2/search"
        return self.jira_client.get(path, params={"jql": jql, "fields": fields, "maxResults": limit})["issues"]

    def transition_done(self, key: str) -> None:
        """Move the issue to Done, as a user does in Jira (choosing the resolution Done where the screen asks)."""
        transitions = self.jira_client.get(f"rest/api/2/issue/{key}/transitions",
                                           params={"expand": "transitions.fields"})["transitions"]
        done = next(t for t in transitions if t["to"]["statusCategory"]["key"] == "done")
        fields = {"resolution": {"name": "Done"}} if "resolution" in done.get("fields", {}) else {}
        self.jira_client.post(f"rest/api/2/issue/{key}/transitions",
                              data={"transition": {"id": done["id"]}, **({"fields": fields} if fields else {})})

    # --- what the sandbox holds (read under its lock) -------------------------------------------

    def issue(self, summary: str):
        """The one sandbox issue with this summary."""
        with self.sb.state.lock:
            found = [i for i in self.sb.state.jira.issues.values() if i.summary == summary]
        assert len(found) == 1, (summary, [i.key for i in found])
        return found[0]

    def managed(self) -> list:
        """Sandbox issues carrying the daemon's label."""
        with self.sb.state.lock:
            return [i for i in self.sb.state.jira.issues.values() if MANAGED in i.labels]

    def page_id(self, title: str) -> str:
        with self.sb.state.lock:
            return next(p.id for p in self.sb.state.confluence.pages.values() if p.title == title)

    def body(self, title: str) -> str:
        with self.sb.state.lock:
            return next(p.body for p in self.sb.state.confluence.pages.values() if p.title == title)

    def bodies(self, prefix: str = "Postmortem ") -> list[str]:
        """The bodies of the pages whose title starts with `prefix`."""
        with self.sb.state.lock:
            return [p.body for p in self.sb.state.confluence.pages.values() if p.title.startswith(prefix)]

    def summary_pages(self) -> list[str]:
        """The bodies of the pages titled like the summary page (one, once written)."""
        with self.sb.state.lock:
            return [p.body for p in self.sb.state.confluence.pages.values() if p.title == SUMMARY_TITLE]

    def written_keys(self, prefix: str = "Postmortem ") -> list[str]:
        """Every Jira key written back into the pages whose title starts with `prefix`, once per occurrence."""
        return [key for body in self.bodies(prefix) for key in body.split(KEY_PARAMETER)[1:]]

    def close(self) -> None:
        for daemon in self.daemons.values():
            daemon.close()


@contextmanager
def running_world(folder: Path, pages: Mapping[str, str] | None = None, *, flavor: str = "cloud",
                  latency_ms: int = 0, api_token: str = SANDBOX_API_TOKEN, pat: str = SANDBOX_PAT,
                  record_waits: bool = False, v1_content_gone: bool = False, process: str = "run",
                  **options: Any) -> Iterator[World]:
    """A world for the block: a sandbox seeded with `pages` (the bundled examples when None) in
    `folder`, with the sandbox credentials given; `options` are the daemon's (see `daemon_config`).

    `v1_content_gone`: Confluence Cloud as a scoped API token meets it: v1 content routes answer 410
    through the API gateway, and the daemon goes through the gateway (`gateway=True` unless given)."""
    if v1_content_gone:
        options.setdefault("gateway", True)
    folder.mkdir(parents=True, exist_ok=True)
    seed_dir = seed(folder / "seed", pages) if pages is not None else None
    with running_sandbox(flavor=flavor, seed_dir=seed_dir, latency_ms=latency_ms, port=0, api_token=api_token,
                         pat=pat, v1_content_gone=v1_content_gone) as sb:
        world = World(sb, folder, record_waits=record_waits, process=process, **options)
        try:
            yield world
        finally:
            world.close()
