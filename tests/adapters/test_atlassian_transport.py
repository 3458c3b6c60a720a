"""Adapter construction, deployment detection and authentication, error mapping and secret scrubbing (`responses`)."""

from __future__ import annotations

import io
import logging
from urllib.parse import urlsplit

import pytest
import requests
import responses
import structlog

from sync.atlassian import make_adapters
from sync.logs import configure_logging
from sync.ports import AtlassianError, AuthFailed, NotFound, PermissionDenied, RateLimited, VersionConflict
from tests.adapters.adapter_helpers import CLOUD, DC_JIRA, DC_WIKI, PAT, TOKEN, adapters, content, issue, settings

# --- construction and deployment -------------------------------------------------------------------


def test_constructors_do_no_io(http: responses.RequestsMock) -> None:
    jira, confluence = make_adapters(settings("auto"))
    assert len(http.calls) == 0
    assert jira.request_count == confluence.request_count == 0


def test_auto_deployment_asks_server_info_once_then_uses_cloud_search(http: responses.RequestsMock) -> None:
    http.get(CLOUD + "/rest/api/2/serverInfo", json={"deploymentType": "Cloud", "version": "1001.0.0"})
    http.get(CLOUD + "/rest/api/3/search/jql", json={"issues": [issue("OPS-1")]})
    jira, _confluence = adapters("auto")
    assert [snapshot.key for snapshot in jira.search("project = OPS")] == ["OPS-1"]
    assert jira.deployment == "cloud"
    assert "Authorization" not in http.calls[0].request.headers  # detection sends no credentials first
    assert http.calls[1].request.headers["Authorization"].startswith("Basic ")
    assert [urlsplit(call.request.url).path for call in http.calls].count("/rest/api/2/serverInfo") == 1


def test_auto_deployment_retries_detection_with_credentials_when_anonymous_is_refused(
    http: responses.RequestsMock,
) -> None:
    http.get(DC_JIRA + "/rest/api/2/serverInfo", status=401, json={"errorMessages": ["login required"]})
    http.get(DC_JIRA + "/rest/api/2/serverInfo", json={"deploymentType": "DataCenter"})
    jira, confluence = adapters("auto", site="datacenter")
    assert jira.deployment == "datacenter"
    assert confluence._connection.deployment == "datacenter"  # Confluence follows Jira
    # Not an atlassian.net host: the PAT is tried first, so the Cloud API token never travels there.
    assert http.calls[1].request.headers["Authorization"] == f"Bearer {PAT}" and len(http.calls) == 2


def test_datacenter_uses_bearer_pat_and_cloud_uses_basic(http: responses.RequestsMock) -> None:
    http.get(DC_JIRA + "/rest/api/2/serverInfo", json={"deploymentType": "DataCenter"})
    http.get(DC_WIKI + "/rest/api/content/1", json=content("1"))
    jira, confluence = adapters("datacenter")
    jira.server_info()
    confluence.get_page("1")
    assert {call.request.headers["Authorization"] for call in http.calls} == {f"Bearer {PAT}"}

# --- errors and secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [(401, AuthFailed), (403, PermissionDenied), (404, NotFound),
                                               (409, VersionConflict), (400, AtlassianError)])
def test_http_errors_map_to_port_exceptions(http: responses.RequestsMock, status: int, error: type) -> None:
    http.get(CLOUD + "/rest/api/2/serverInfo", status=status, json={"errorMessages": [f"nope {status}"]})
    jira, _ = adapters("cloud")
    with pytest.raises(error) as caught:
        jira.server_info()
    assert caught.value.status == status


def test_persistent_429_becomes_rate_limited(http: responses.RequestsMock, sleeps: list[float]) -> None:
    http.get(CLOUD + "/rest/api/2/serverInfo", status=429, headers={"Retry-After": "2"}, json={})
    jira, _ = adapters("cloud", sleeps)
    with pytest.raises(RateLimited) as caught:
        jira.server_info()
    assert len(http.calls) == 5 and len(sleeps) == 4 and min(sleeps) >= 2  # default max_attempts
    assert caught.value.retry_after == 2


def test_library_retries_are_off(http: responses.RequestsMock) -> None:
    jira, confluence = adapters("cloud")
    for client in (jira._connection.client, confluence._connection.client):
        assert client.backoff_and_retry is False and client.retry_with_header is False
    assert type(confluence._connection.client).__name__ == "Server"  # the v1 server class, also on Cloud
    assert len(http.calls) == 0


@pytest.fixture
def log_output():
    """Logging configured as in production (JSON, DEBUG) into a buffer; restored afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    stream = io.StringIO()
    configure_logging(log_format="json", level="DEBUG", secrets=settings().secret_values(), stream=stream)
    yield stream
    structlog.reset_defaults()
    root.handlers[:], root.level = handlers, level


def test_no_token_in_exceptions_or_logs(http: responses.RequestsMock, log_output: io.StringIO) -> None:
    echo = {"errorMessages": [f"bad credentials {TOKEN} / {PAT}"]}
    http.get(CLOUD + "/rest/api/2/serverInfo", status=401, json=echo)
    http.get(CLOUD + "/rest/api/2/issue/OPS-1", status=503, json=echo)
    http.get(CLOUD + "/rest/api/2/issue/OPS-1", body=requests.ConnectionError(f"reset; auth was {TOKEN}"))
    http.get(CLOUD + "/rest/api/2/issue/OPS-1", status=400, json=echo)
    jira, _ = adapters("cloud")
    errors = []
    for call in (jira.server_info, lambda: jira.get_issue("OPS-1")):
        with pytest.raises(AtlassianError) as caught:
            call()
        errors.append(caught.value)
    http.get(CLOUD + "/rest/api/2/issue/OPS-2", body=requests.ConnectionError(f"reset; auth was {TOKEN}"))
    with pytest.raises(AtlassianError) as caught:
        jira.get_issue("OPS-2")
    errors.append(caught.value)
    structlog.get_logger("test").error("sync_failed", error=str(errors[0]), detail=f"token {TOKEN}")
    logged = log_output.getvalue()
    assert "request_retried" in logged and "sync_failed" in logged
    for text in [*(str(e) for e in errors), *(repr(e) for e in errors), logged]:
        assert TOKEN not in text and PAT not in text
    assert all(e.__cause__ is None and e.__suppress_context__ for e in errors)
