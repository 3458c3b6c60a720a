"""`postmortem-sync check` against sandboxes set up wrong on purpose: each failure is named by its check, in
words an administrator can act on, in the CLI's lines and in `--json`, with exit code 1; a good
configuration passes every check (exit 0). Both flavours unless a behaviour is Cloud's only.

The checks of this module (sync/checks/): deployment and the credentials it takes, the servers' clocks,
the account's time zone, Confluence's API generation, Jira's search endpoint, the sprint board, the
configured CQL's page count, the write lease. Other checks have their own tests (tests/test_permissions.py).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from sandbox import Sandbox, running_sandbox
from sync.cli import main
from tests.harness import EXAMPLES, FLAVORS, merged, running_world, site_config, write_config

OUR_CHECKS = ("deployment", "credentials", "confluence api", "server clock", "time zone", "jira search",
              "sprint board", "postmortem pages", "write lease")


@pytest.fixture(params=FLAVORS)
def flavor(request) -> str:
    return request.param


@contextmanager
def sandbox(flavor: str, **options: Any) -> Iterator[Sandbox]:
    """A sandbox of the flavour, seeded with the bundled examples such a site could hold (flavour_examples)."""
    with tempfile.TemporaryDirectory() as folder:
        options.setdefault("seed_dir", flavour_examples(flavor, Path(folder) / "seed"))
        with running_sandbox(flavor=flavor, **options) as sb:
            yield sb


def config(sb: Sandbox, folder: Path, *, drop: dict[str, tuple[str, ...]] | None = None,
           **sections: dict[str, Any]) -> Path:
    """The site's CLI config with the sprint board on, `sections` merged over it, `drop` keys removed."""
    gateway = sb.options.v1_content_gone
    base = merged(site_config(sb.url, folder / "state.sqlite3", gateway=gateway),
                  {"jira": {"sprint": {"enabled": True, "board_id": 1}}})
    built = merged(base, sections)
    for section, keys in (drop or {}).items():
        for key in keys:
            built[section].pop(key, None)
    return write_config(folder / "check.toml", built)


def run_check(path: Path, capsys) -> tuple[int, list[str], dict[str, dict]]:
    """Exit code, the text lines, and the --json results by name (both runs must agree on the exit code)."""
    code = main(["check", "--config", str(path)])
    lines = capsys.readouterr().out.splitlines()
    json_code = main(["check", "--config", str(path), "--json"])
    results = json.loads(capsys.readouterr().out)
    assert json_code == code
    by_name: dict[str, dict] = {}
    for result in results:  # a group may say several things; a failure wins
        if result["name"] not in by_name or not result["passed"]:
            by_name[result["name"]] = result
    return code, lines, by_name


def failed(lines: list[str], name: str) -> str:
    """The text of the FAIL line of check `name`."""
    found = [line for line in lines if line.startswith("FAIL") and line[5:].startswith(name + " ")]
    assert found, (name, lines)
    return found[0]


def flavour_examples(flavor: str, folder: Path) -> Path | None:
    """The bundled examples a site of this flavour could hold: on Data Center, only pages written there
    (a Cloud page's account-id mentions name nobody on Data Center, which `check` rightly reports)."""
    if flavor == "cloud":
        return None
    folder.mkdir()
    for path in [*EXAMPLES.glob("*-dc.xml"), EXAMPLES / "users.json"]:
        shutil.copy(path, folder / path.name)
    return folder


def test_a_good_configuration_passes_every_check(flavor, tmp_path, capsys):
    pages = len(list(EXAMPLES.glob("*.xml" if flavor == "cloud" else "*-dc.xml")))
    with sandbox(flavor) as sb:
        code, lines, results = run_check(config(sb, tmp_path), capsys)
    assert code == 0, lines
    assert not [line for line in lines if line.startswith("FAIL")]
    assert set(OUR_CHECKS) <= set(results)
    assert all(result["passed"] for result in results.values())
    kind = "Cloud" if flavor == "cloud" else "Data Center"
    assert f"is {kind}" in results["deployment"]["message"]
    search = "/rest/api/3/search/jql" if flavor == "cloud" else "/rest/api/2/search"
    assert search in results["jira search"]["message"]
    assert f"{pages} postmortem page(s)" in results["postmortem pages"]["message"]
    assert "active sprint (id 1)" in results["sprint board"]["message"]
    assert "America/Los_Angeles" in results["time zone"]["message"]
    api = results["confluence api"]["message"]
    assert ("REST v2 answers" in api and "v1 content too" in api) if flavor == "cloud" else "REST v1 answers" in api


def test_a_pat_against_cloud_is_named_before_the_refused_credentials(tmp_path, capsys):
    with sandbox("cloud") as sb:
        code, lines, results = run_check(config(sb, tmp_path, drop={"jira": ("email", "api_token")}), capsys)
    assert code == 1
    assert "is Cloud, which does not take a personal access token" in failed(lines, "deployment")
    assert not results["deployment"]["passed"] and not results["credentials"]["passed"]


@pytest.mark.parametrize("flavor", FLAVORS)
def test_a_configured_deployment_that_is_not_the_sites_is_named(flavor, tmp_path, capsys):
    wrong = "datacenter" if flavor == "cloud" else "cloud"
    with sandbox(flavor) as sb:
        # Cloud as Data Center: basic auth still works, so the retired search is met and named too
        drop = {"jira": ("pat",)} if flavor == "cloud" else None
        code, lines, results = run_check(config(sb, tmp_path, drop=drop, jira={"deployment": wrong}), capsys)
    assert code == 1
    site = "Cloud" if flavor == "cloud" else "Data Center"
    assert f"jira.deployment is {wrong}, but Jira at" in failed(lines, "deployment")
    assert f"says it is {site}" in results["deployment"]["message"]
    if flavor == "cloud":
        assert "410 Gone on /rest/api/2/search" in failed(lines, "jira search")
        assert "set jira.deployment = cloud" in results["jira search"]["message"]


def test_a_server_clock_far_from_ours_is_named(flavor, tmp_path, capsys):
    with sandbox(flavor, clock_offset_s=900) as sb:
        code, lines, results = run_check(config(sb, tmp_path), capsys)
    assert code == 1
    line = failed(lines, "server clock")
    assert "Jira's clock is 15 min ahead of ours" in line and "Confluence's clock is 15 min ahead" in line
    assert "synchronise this host's clock" in results["server clock"]["message"]
    assert [name for name, result in results.items() if not result["passed"]] == ["server clock"]


def test_the_accounts_time_zone_is_reported(flavor, tmp_path, capsys):
    with sandbox(flavor, timezone="Asia/Kolkata", site_timezone="Europe/Berlin") as sb:
        code, _, results = run_check(config(sb, tmp_path), capsys)
    assert code == 0
    message = results["time zone"]["message"]
    assert "Asia/Kolkata" in message and "site default Europe/Berlin" in message and "sends none" in message


def test_a_confluence_url_without_its_api_is_named(flavor, tmp_path, capsys):
    with sandbox(flavor) as sb:
        code, lines, _ = run_check(config(sb, tmp_path, confluence={"url": sb.url + "/nowiki"}), capsys)
    assert code == 1
    assert "no Confluence REST API answers at" in failed(lines, "confluence api")


def test_retired_v1_content_through_the_gateway_passes_and_says_edits_notify(tmp_path, capsys):
    with sandbox("cloud", v1_content_gone=True) as sb:
        code, _, results = run_check(config(sb, tmp_path), capsys)
    assert code == 0
    assert "through Atlassian's API gateway" in results["deployment"]["message"]
    message = results["confluence api"]["message"]
    assert "v1 content routes are retired for this credential" in message and "notify watchers" in message


def test_a_missing_board_and_a_board_without_active_sprint_are_named(flavor, tmp_path, capsys):
    with sandbox(flavor) as sb:
        code, lines, _ = run_check(config(sb, tmp_path, jira={"sprint": {"board_id": 99}}), capsys)
        assert code == 1
        assert "Jira board 99 does not exist, or the account cannot see it" in failed(lines, "sprint board")
        with sb.state.lock:
            sprint = sb.state.jira.sprints[1]
            sb.state.jira.sprints[1] = dataclasses.replace(sprint, state="closed")
        code, lines, results = run_check(config(sb, tmp_path), capsys)
    assert code == 1 and "Jira board 1 has no active sprint" in failed(lines, "sprint board")
    assert [name for name, result in results.items() if not result["passed"]] == ["sprint board"]


def test_sprints_off_is_a_passing_line(tmp_path, capsys):
    with sandbox("cloud") as sb:
        code, _, results = run_check(config(sb, tmp_path, jira={"sprint": {"enabled": False}}), capsys)
    assert code == 0 and "sprint placement is off" in results["sprint board"]["message"]


def test_a_selection_of_no_page_is_named(flavor, tmp_path, capsys):
    with sandbox(flavor) as sb:
        code, lines, results = run_check(config(sb, tmp_path, confluence={"labels": ["no-such-label"]}), capsys)
    assert code == 1
    assert "the configuration selects no page" in failed(lines, "postmortem pages")
    assert 'label in ("no-such-label")' in results["postmortem pages"]["message"]


def test_an_archived_postmortem_is_not_counted(flavor, tmp_path, capsys):
    with sandbox(flavor) as sb:
        sb.archive_page(next(p.id for p in sb.state.confluence.pages.values() if p.labels))
        code, _, results = run_check(config(sb, tmp_path), capsys)
    seeded = len(list(EXAMPLES.glob("*.xml" if flavor == "cloud" else "*-dc.xml")))
    assert code == 0 and f"{seeded - 1} postmortem page(s)" in results["postmortem pages"]["message"]


def test_the_write_lease_says_who_holds_it_and_until_when(flavor, tmp_path, capsys):
    pages = None if flavor == "cloud" else {path.name: path.read_text() for path in EXAMPLES.glob("*-dc.xml")}
    with running_world(tmp_path / "world", pages, flavor=flavor, sprint=False) as world:
        world.cycle()  # creates the summary page and takes the lease
        holder = json.loads(world.state.meta()["lease"])["holder"]
        path = world.write_config(tmp_path / "c.toml", state=tmp_path / "other.sqlite3")
        code, _, results = run_check(path, capsys)
        assert code == 0
        message = results["write lease"]["message"]
        assert f"held by {holder} until" in message and "another instance only reads" in message
        world.daemon.stop()  # a clean shutdown releases it
        code, _, results = run_check(path, capsys)
    assert code == 0 and f"free (last held by {holder}" in results["write lease"]["message"]


def test_before_the_first_cycle_the_lease_is_free_to_take(tmp_path, capsys):
    with sandbox("datacenter") as sb:
        _, _, results = run_check(config(sb, tmp_path), capsys)
    assert "the first cycle creates it and takes the write lease" in results["write lease"]["message"]


def test_a_cloud_search_route_missing_on_the_site_names_data_center(tmp_path):
    """Jira Data Center has no /rest/api/3/search/jql (404): reached only when the credentials work both ways,
    which the sandbox's do not, so the adapter's answer is stood in for here."""
    from sync.checks import Probe
    from sync.checks.endpoints import jira_search
    from sync.ports import NotFound
    from sync.settings import Settings

    class Jira:
        deployment = "cloud"

        def search(self, jql, *, fields=()):
            raise NotFound("null for uri: /rest/api/3/search/jql", status=404)

    settings = Settings(**site_config("https://jira.example.com", tmp_path / "s.sqlite3"))
    [check] = jira_search(Probe(settings, Jira(), None))  # type: ignore[arg-type]
    assert not check.passed and "this is Jira Data Center" in check.message
    assert "set jira.deployment = datacenter" in check.message


def test_cloud_mentions_on_a_data_center_site_are_named_as_such(tmp_path, capsys):
    """Pages carried over from Cloud mention account ids, which name nobody on Data Center."""
    with running_sandbox(flavor="datacenter") as sb:  # all bundled examples, Cloud pages among them
        code, lines, _ = run_check(config(sb, tmp_path), capsys)
    assert code == 1
    assert "a Cloud account id: Data Center knows people by userkey and username" in failed(lines, "owners")
