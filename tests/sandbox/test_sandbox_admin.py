"""Agile, credentials, statistics, fault injection, reset, latency and the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from requests import HTTPError

from sandbox import running_sandbox
from tests.sandbox.sandbox_helpers import new_task, search_url

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_board_and_active_sprint(sandbox, connect):
    clients = connect(sandbox)
    boards = clients.http.get(f"{sandbox.url}/rest/agile/1.0/board", params={"projectKeyOrId": "OPS"}).json()
    assert [(b["id"], b["type"], b["location"]["projectKey"]) for b in boards["values"]] == [(1, "scrum", "OPS")]
    active = clients.jira.get_all_sprints_from_board(1, state="active")
    assert [(s["id"], s["state"]) for s in active["values"]] == [(1, "active")]
    key = clients.jira.issue_create(new_task())["key"]
    clients.jira.add_issues_to_sprint(1, [key])
    sprint_field = clients.jira.issue(key)["fields"]["customfield_10020"]
    assert [s["id"] for s in sprint_field] == [1]
    found = clients.http.get(search_url(sandbox), params={"jql": "sprint = 1", "fields": "key"}).json()
    assert [i["key"] for i in found["issues"]] == [key]


def test_sprint_moves_are_limited_to_fifty(cloud, connect):
    clients = connect(cloud, allow_status=(400,))
    with pytest.raises(HTTPError) as too_many:
        clients.jira.add_issues_to_sprint(1, [f"OPS-{i}" for i in range(1, 52)])
    assert too_many.value.response.status_code == 400
    assert "At most 50" in too_many.value.response.json()["errorMessages"][0]


@pytest.mark.parametrize("flavor, credentials, body_start", [
    ("cloud", {"auth": ("sandbox@example.com", "wrong")}, "Basic authentication with passwords is deprecated."),
    ("cloud", {}, "Client must be authenticated to access this resource."),
    ("cloud", {"headers": {"Authorization": "Bearer sandbox-pat"}}, "Client must be authenticated"),
    ("datacenter", {"headers": {"Authorization": "Bearer wrong"}}, "<!doctype html>"),
    ("datacenter", {"auth": ("sandbox@example.com", "sandbox-token")}, "<!doctype html>"),
])
def test_wrong_credentials_get_401(flavor, credentials, body_start):
    with running_sandbox(flavor=flavor) as sb:
        for path in ("/rest/api/2/myself", "/wiki/rest/api/content/search?cql=type=page"):
            response = requests.get(sb.url + path, **credentials)
            assert response.status_code == 401 and response.text.startswith(body_start)
            assert response.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"


def test_bodies_must_be_json(cloud, connect):
    clients = connect(cloud)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    response = clients.raw.post(f"{cloud.url}/rest/api/2/issue", data="summary=x", headers=form)
    assert response.status_code == 415 and response.json()["errorMessages"]


def test_stats_count_api_requests_by_route_template(cloud, connect):
    clients = connect(cloud)
    page_id = cloud.state.confluence.spaces["PM"].homepage_id
    clients.confluence.get_page_by_id(page_id)
    clients.confluence.get_page_by_id(page_id)
    clients.jira.create_issues([{"fields": new_task()}])
    clients.jira.enhanced_jql("project = OPS", fields="key")
    requests.get(cloud.url + "/_sandbox/health")
    requests.get(f"{cloud.confluence_url}/spaces/PM/pages/{page_id}")
    stats = requests.get(cloud.url + "/_sandbox/stats").json()
    assert stats == {"total": 4, "by_route": {
        "GET /rest/api/3/search/jql": 1, "GET /wiki/rest/api/content/{id}": 2, "POST /rest/api/2/issue/bulk": 1,
    }}
    assert requests.post(cloud.url + "/_sandbox/stats/reset").json() == {"total": 0, "by_route": {}}
    assert cloud.stats()["total"] == 0


def test_fault_429_carries_atlassians_rate_limit_headers(cloud, connect):
    clients = connect(cloud)
    spec = {"match": "GET /rest/api/3/search/jql", "status": 429, "headers": {"Retry-After": "2"}, "count": 2}
    fault = requests.post(cloud.url + "/_sandbox/faults", json=spec).json()
    assert fault["count"] == 2
    for _ in range(2):
        limited = clients.http.get(f"{cloud.url}/rest/api/3/search/jql", params={"jql": "project = OPS"})
        assert limited.status_code == 429
        assert limited.headers["Retry-After"] == "2" and limited.headers["RateLimit-Reason"] == "jira-burst-based"
        assert {"X-RateLimit-Limit", "X-RateLimit-Remaining", "X-RateLimit-Reset"} <= set(limited.headers)
        assert limited.json()["errorMessages"] == ["Rate limit exceeded."]
    assert clients.http.get(f"{cloud.url}/rest/api/3/search/jql", params={"jql": "project = OPS"}).status_code == 200
    assert cloud.stats()["by_route"]["GET /rest/api/3/search/jql"] == 3


def test_fault_matching_by_prefix_and_template_with_5xx(sandbox, connect):
    clients = connect(sandbox)
    sandbox.inject_fault(match="/wiki/", status=503, count=1)
    sandbox.inject_fault(match="PUT /wiki/rest/api/content/{id}", status=500)
    page = next(iter(sandbox.state.confluence.pages.values()))
    with pytest.raises(HTTPError) as unavailable:
        clients.confluence.get_page_by_id(page.id)
    assert unavailable.value.response.status_code == 503
    assert unavailable.value.response.json()["reason"] == "Service Unavailable"
    update = {"id": page.id, "type": "page", "title": page.title, "version": {"number": 2}}
    with pytest.raises(HTTPError) as failed:
        clients.confluence.put(f"rest/api/content/{page.id}", data=update)
    assert failed.value.response.status_code == 500
    assert clients.confluence.put(f"rest/api/content/{page.id}", data=update)["version"]["number"] == 2


def test_fault_reset_closes_the_connection_and_delay_slows_down(cloud, connect):
    clients = connect(cloud)
    cloud.inject_fault(match="GET /rest/api/2/serverInfo", reset=True)
    with pytest.raises(requests.ConnectionError):
        clients.jira.get_server_info()
    assert clients.jira.get_server_info()["deploymentType"] == "Cloud"
    cloud.inject_fault(match="/rest/api/2/myself", delay_ms=150)
    started = time.monotonic()
    clients.jira.myself()
    assert time.monotonic() - started >= 0.15
    assert requests.delete(cloud.url + "/_sandbox/faults").status_code == 204


def test_library_retries_once_on_429_with_retry_after(cloud):
    jira = cloud.jira_client(retry_with_header=True)
    cloud.inject_fault(match="/rest/api/2/myself", status=429, headers={"Retry-After": "0"}, count=1)
    assert jira.myself()["emailAddress"] == "sandbox@example.com"
    assert cloud.stats()["by_route"]["GET /rest/api/2/myself"] == 2


def test_bad_fault_descriptions_are_refused(cloud):
    assert requests.post(cloud.url + "/_sandbox/faults", json={"status": 200}).status_code == 400
    assert requests.post(cloud.url + "/_sandbox/faults", json={"match": "/rest"}).status_code == 400


def test_reset_goes_back_to_the_seed(cloud, connect):
    clients = connect(cloud)
    page = next(iter(cloud.state.confluence.pages.values()))
    clients.jira.issue_create(new_task())
    clients.confluence.set_page_label(page.id, "touched")
    summary = requests.post(cloud.url + "/_sandbox/reset").json()
    assert summary["issues"] == 0 and summary["pages"] == 14
    assert [label.name for label in cloud.state.confluence.page(page.id).labels] == []
    assert cloud.stats() == {"total": 0, "by_route": {}}
    assert requests.get(cloud.url + "/_sandbox/state").json()["issue_keys"] == []


def test_latency_applies_to_api_requests_only():
    with running_sandbox(latency_ms=120) as slow:
        started = time.monotonic()
        requests.get(slow.url + "/_sandbox/health")
        assert time.monotonic() - started < 0.1
        started = time.monotonic()
        requests.get(slow.url + "/rest/api/2/serverInfo", auth=("sandbox@example.com", "sandbox-token"))
        assert time.monotonic() - started >= 0.12


def test_custom_seed_dir_and_users(tmp_path):
    (tmp_path / "a.xml").write_bytes("<title>Only page &amp; more</title>\n<p>caf\u00e9 &nbsp;</p>".encode())
    (tmp_path / "users.json").write_text(json.dumps([{
        "accountId": "557058:x", "username": "x", "userkey": "k", "displayName": "Ex",
        "emailAddress": "x@example.com", "active": True,
    }]))
    with running_sandbox(seed_dir=tmp_path) as sb:
        pages = sb.state.confluence.pages.values()
        assert [(p.title, p.body) for p in pages][1:] == [("Only page & more", "<p>caf\u00e9 &nbsp;</p>")]
        assert sb.state.directory.by_username("x").display_name == "Ex"


def test_command_line_serves_until_terminated():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sync", "sandbox", "--port", "0", "--flavor", "datacenter", "--search-lag-ms", "5"],
        cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        first_line = process.stdout.readline()
        assert "postmortem-sync sandbox (datacenter) listening on http://127.0.0.1:" in first_line
        url = first_line.rsplit(" ", 1)[-1].strip()
        assert requests.get(url + "/_sandbox/health", timeout=5).json()["flavor"] == "datacenter"
        banner = "".join(process.stdout.readline() for _ in range(6))
        assert "bearer personal access token: sandbox-pat" in banner
    finally:
        process.terminate()
        output, errors = process.communicate(timeout=10)
    assert process.returncode == 0, errors
    assert "sandbox stopped" in output
