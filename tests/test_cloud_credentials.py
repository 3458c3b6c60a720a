"""What each Confluence Cloud credential gets, end to end through `postmortem-sync once`, and what a
quiet `once` costs now that the deployment is remembered in the state.

- a classic API token on the site: v2 for pages and the lease, v1 for write-back, which stays a minor
  edit (no notification to the page's watchers);
- a scoped API token through the API gateway, where v1 content answers 410: everything on v2, so
  write-back is a major edit; the 410 is met once and remembered;
- either way, a `once` after the first sync has settled sends exactly the CQL and the JQL page.

The sandbox's clocks run half an hour behind the daemon's, so the pages the first run writes back are
already outside the next run's window (what `once` every few minutes sees after the overlap).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from sandbox import running_sandbox
from sync.cli import main
from sync.state import State
from tests.harness import write_site_config

USERS = Path(__file__).resolve().parents[1] / "sandbox" / "examples" / "users.json"
OWNER = "557058:ab022da7-c106-c2e7-4d21-c55521b87c0b"
QUIET = {"GET /wiki/rest/api/content/search", "GET /rest/api/3/search/jql"}


def seed(folder: Path) -> Path:
    folder.mkdir()
    (folder / "users.json").write_text(USERS.read_text())
    for n in range(3):
        rows = "".join(f'<tr><td>Item {i} of incident {n}</td><td><ac:link><ri:user ri:account-id="{OWNER}" />'
                       "</ac:link></td><td>2099-01-01</td></tr>" for i in range(2))
        (folder / f"{n}.xml").write_text(f"<title>Postmortem {n}</title>\n<h2>Action items</h2><table><tbody>"
                                         f"<tr><th>Action</th><th>Owner</th><th>Due</th></tr>{rows}</tbody></table>")
    return folder


@contextmanager
def cloud_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, *, gateway: bool):
    """A Cloud sandbox behind the daemon's clock and a configuration for it (with gateway: a scoped token's)."""
    with running_sandbox(flavor="cloud", seed_dir=seed(tmp_path / "seed"), port=0, v1_content_gone=gateway) as sb:
        behind = timedelta(minutes=-30)
        sb.state.confluence.clock = sb.state.jira.clock = lambda: datetime.now(UTC) + behind
        if gateway:
            monkeypatch.setenv("PMSYNC_JIRA__API_URL", sb.gateway_jira_url)
            monkeypatch.setenv("PMSYNC_CONFLUENCE__API_URL", sb.gateway_confluence_url.removesuffix("/wiki"))
        yield sb, write_site_config(tmp_path / "config.toml", sb.url, tmp_path / "state.sqlite3")


@pytest.fixture(params=["classic token on the site", "scoped token through the gateway, v1 gone"])
def cloud(request, tmp_path, monkeypatch):
    gateway = "gateway" in request.param
    with cloud_site(tmp_path, monkeypatch, gateway=gateway) as (sb, config):
        yield sb, config, gateway


def once(sb, config: Path) -> dict:
    sb.reset_stats()
    assert main(["once", "--config", str(config)]) == 0
    return sb.stats()["by_route"]


def written_back(sb) -> list[tuple[int, bool]]:
    """(version, minor edit) of each postmortem's latest version."""
    with sb.state.lock:
        pages = [p for p in sb.state.confluence.pages.values() if p.title in {f"Postmortem {n}" for n in range(3)}]
        return [(p.current.number, p.current.minor_edit) for p in pages]


def test_write_back_is_a_minor_edit_where_v1_works_and_a_major_one_where_it_is_gone(cloud):
    sb, config, gateway = cloud
    first = once(sb, config)
    assert written_back(sb) == [(2, not gateway)] * 3  # v2 cannot suppress notifications
    assert "GET /wiki/rest/api/content/{id}/property/{key}" not in first  # the lease is a v2 page property
    assert first["GET /wiki/api/v2/pages/{page-id}/properties"] >= 1
    if gateway:
        # tried, 410, then v2 for the rest: once, or once per write-back already under way (sync.concurrency)
        assert 1 <= first["PUT /wiki/rest/api/content/{id}"] <= 3
        assert first["PUT /wiki/api/v2/pages/{id}"] == 4  # three write-backs and the summary page
        assert "GET /rest/api/2/serverInfo" not in first  # only Cloud is behind the gateway: nothing to detect
    else:
        assert first["PUT /wiki/rest/api/content/{id}"] == 4 and "PUT /wiki/api/v2/pages/{id}" not in first
        assert first["GET /rest/api/2/serverInfo"] == 1  # answered anonymously, as Cloud does


def test_a_quiet_once_costs_two_requests_detection_included(cloud, tmp_path):
    sb, config, gateway = cloud
    once(sb, config)
    quiet = once(sb, config)
    assert sum(quiet.values()) == 2 and set(quiet) == QUIET, quiet
    state = State.open(tmp_path / "state.sqlite3")
    remembered = {name: json.loads(value) for name, value in state.meta().items() if name.startswith("site ")}
    state.close()
    if gateway:  # the v1 retirement, per REST base URL; no deployment to remember
        assert remembered == {f"site {sb.gateway_confluence_url}": {"confluence_v1": "gone"}}
    else:
        assert remembered == {f"site {sb.url}": {"deployment": "cloud"}}


def test_a_site_that_refuses_the_credentials_is_asked_again_next_run(tmp_path, monkeypatch):
    with cloud_site(tmp_path, monkeypatch, gateway=False) as (sb, config):
        once(sb, config)
        sb.inject_fault(match="GET /rest/api/3/search/jql", status=401)
        assert main(["once", "--config", str(config)]) == 1
        assert once(sb, config)["GET /rest/api/2/serverInfo"] == 1  # detected again, then remembered
        assert "GET /rest/api/2/serverInfo" not in once(sb, config)
