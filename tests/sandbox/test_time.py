"""Time as the real products keep it: date literals in the account's (JQL) or site's/user's (CQL) zone,
Jira timestamps in the caller's zone, the `Date` header, the sandbox clock, and search-index lag."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from zoneinfo import ZoneInfo

import pytest
import requests

from sandbox import running_sandbox
from sandbox.options import DEFAULT_SITE_TIMEZONE, DEFAULT_TIMEZONE, SandboxOptions
from tests.sandbox.sandbox_helpers import new_task, search_url

UTC = UTC


def wall(moment: datetime, zone: str) -> str:
    """A JQL/CQL date literal naming `moment` as wall time in `zone`."""
    return moment.astimezone(ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def keys(clients, sandbox, jql: str) -> list[str]:
    answer = clients.http.get(search_url(sandbox), params={"jql": jql, "fields": "key"}).json()
    return [issue["key"] for issue in answer["issues"]]


def titles(clients, cql: str) -> list[str]:
    return [page["title"] for page in clients.confluence.get("rest/api/content/search", params={"cql": cql})["results"]]


def test_defaults_are_not_utc_and_the_account_shows_its_zone(sandbox, connect):
    assert (SandboxOptions().timezone, SandboxOptions().site_timezone) == (DEFAULT_TIMEZONE, DEFAULT_SITE_TIMEZONE)
    assert "UTC" not in DEFAULT_TIMEZONE + DEFAULT_SITE_TIMEZONE
    clients = connect(sandbox)
    assert clients.jira.myself()["timeZone"] == DEFAULT_TIMEZONE
    assert clients.http.get(f"{sandbox.url}/rest/api/2/serverInfo").json()["serverTimeZone"] == DEFAULT_SITE_TIMEZONE


@pytest.mark.parametrize("zone", ["Etc/GMT+8", "Asia/Kolkata", "Pacific/Kiritimati"])
def test_jql_date_literals_are_wall_time_in_the_accounts_zone(zone, connect):
    with running_sandbox(flavor="cloud", timezone=zone) as sandbox:
        clients = connect(sandbox)
        key = clients.jira.issue_create(new_task())["key"]
        updated = datetime.fromisoformat(clients.jira.issue(key)["fields"]["updated"])
        assert updated.utcoffset() == datetime.now(ZoneInfo(zone)).utcoffset()  # written in the caller's zone
        minute = updated.replace(second=0, microsecond=0)
        assert keys(clients, sandbox, f'updated >= "{wall(minute, zone)}"') == [key]
        assert keys(clients, sandbox, f'updated >= "{wall(minute + timedelta(minutes=1), zone)}"') == []
        # The same minute written as UTC wall time is hours off: west of UTC it is read as hours later
        # (a watermark in UTC asks for the future and misses the edit), east of UTC as hours earlier.
        west = zone == "Etc/GMT+8"
        assert keys(clients, sandbox, f'updated >= "{wall(minute, "UTC")}"') == ([] if west else [key])
        assert keys(clients, sandbox, f'updated < "{wall(minute, "UTC")}"') == ([key] if west else [])


def test_relative_dates_and_epoch_milliseconds_need_no_zone(cloud, connect):
    clients = connect(cloud)
    key = clients.jira.issue_create(new_task())["key"]
    assert keys(clients, cloud, 'updated >= "-2m"') == [key]
    assert keys(clients, cloud, "updated >= -2m") == [key]
    millis = int((cloud.now() - timedelta(minutes=1)).timestamp() * 1000)
    assert keys(clients, cloud, f"updated >= {millis}") == [key]
    assert keys(clients, cloud, f"updated < {millis}") == []


@pytest.mark.parametrize("cql_timezone, literal_zone", [("site", "Asia/Kolkata"), ("user", "Etc/GMT+8")])
def test_cql_date_literals_use_the_zone_chosen(cql_timezone, literal_zone, connect):
    with running_sandbox(flavor="cloud", timezone="Etc/GMT+8", site_timezone="Asia/Kolkata",
                         cql_timezone=cql_timezone) as sandbox:
        clients = connect(sandbox)
        newest = {"cql": "type = page order by lastmodified desc", "limit": 1, "expand": "version"}
        page = clients.confluence.get("rest/api/content/search", params=newest)["results"][0]
        when = datetime.fromisoformat(page["version"]["when"].replace("Z", "+00:00"))
        assert when.utcoffset() == timedelta(0)  # Confluence writes UTC
        minute = when.replace(second=0, microsecond=0)
        assert page["title"] in titles(clients, f'lastmodified >= "{wall(minute, literal_zone)}"')
        next_minute = wall(minute + timedelta(minutes=1), literal_zone)
        assert page["title"] not in titles(clients, f'lastmodified >= "{next_minute}"')
        assert page["title"] in titles(clients, 'lastmodified >= now("-30d")')


def test_the_date_header_and_every_timestamp_follow_the_sandbox_clock(cloud, connect):
    clients = connect(cloud)
    before = parsedate_to_datetime(requests.get(f"{cloud.url}/_sandbox/health").headers["Date"])
    moved = requests.post(f"{cloud.url}/_sandbox/clock", json={"seconds": 3 * 3600}).json()
    assert moved["offset_seconds"] == 3 * 3600
    assert requests.post(f"{cloud.url}/_sandbox/clock", json={"seconds": -1}).status_code == 400
    response = clients.http.get(f"{cloud.url}/rest/api/2/myself")
    assert parsedate_to_datetime(response.headers["Date"]) - before >= timedelta(hours=3)
    wiki = clients.http.get(f"{cloud.url}/wiki/rest/api/space/PM")
    assert parsedate_to_datetime(wiki.headers["Date"]) - before >= timedelta(hours=3)
    key = clients.jira.issue_create(new_task())["key"]
    created = datetime.fromisoformat(clients.jira.issue(key)["fields"]["created"])
    assert created - before >= timedelta(hours=3)
    assert keys(clients, cloud, 'created >= "-1m"') == [key]


def test_search_lag_runs_on_the_sandbox_clock_for_jql_and_cql(connect):
    with running_sandbox(flavor="cloud", search_lag_ms=5 * 60_000) as lagging:
        clients = connect(lagging)
        key = clients.jira.issue_create(new_task(labels=["pmsync"]))["key"]
        assert keys(clients, lagging, "labels = pmsync") == []
        assert clients.jira.issue(key)["fields"]["labels"] == ["pmsync"]  # reads by key are immediate
        page = clients.confluence.get("rest/api/content/search", params={
            "cql": "type = page order by lastmodified desc", "limit": 1, "expand": "body.storage,version"})["results"]
        assert page  # the seed was written long before the lag
        page = page[0]
        body = page["body"]["storage"]["value"] + "<p>lagging edit</p>"
        clients.confluence.put(f"rest/api/content/{page['id']}", data={
            "id": page["id"], "type": "page", "title": page["title"],
            "version": {"number": page["version"]["number"] + 1},
            "body": {"storage": {"value": body, "representation": "storage"}}})
        assert titles(clients, 'text ~ "lagging"') == []  # the index still has the version before
        lagging.advance_clock(timedelta(minutes=4))
        assert keys(clients, lagging, "labels = pmsync") == [] and titles(clients, 'text ~ "lagging"') == []
        lagging.advance_clock(timedelta(minutes=1, seconds=1))
        assert keys(clients, lagging, "labels = pmsync") == [key]
        found = clients.confluence.get("rest/api/content/search", params={"cql": 'text ~ "lagging"',
                                                                          "expand": "body.storage"})["results"]
        assert [p["title"] for p in found] == [page["title"]] and "lagging edit" in found[0]["body"]["storage"]["value"]


def test_an_unknown_zone_is_refused():
    with pytest.raises(ValueError, match="unknown time zone"):
        SandboxOptions(timezone="Mars/Olympus_Mons")
    with pytest.raises(ValueError):
        SandboxOptions(cql_timezone="server")


def test_the_clock_can_start_behind_or_ahead_of_the_machines():
    with running_sandbox(flavor="cloud", clock_offset_s=-300) as behind:
        date = parsedate_to_datetime(requests.get(f"{behind.url}/_sandbox/health").headers["Date"])
        assert timedelta(minutes=4) < datetime.now(UTC) - date < timedelta(minutes=6)
        assert requests.get(f"{behind.url}/_sandbox/clock").json()["offset_seconds"] == -300
