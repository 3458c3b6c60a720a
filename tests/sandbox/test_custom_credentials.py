"""A sandbox started with its own API token or PAT: clients built by the sandbox use it, the documented
default is then refused with the real 401, and neither the banner nor the options' repr shows it."""

from __future__ import annotations

import pytest
import requests
from requests import HTTPError

from sandbox import SANDBOX_API_TOKEN, SANDBOX_EMAIL, SANDBOX_PAT, SandboxOptions, banner, running_sandbox
from tests.openapi_contract import recording

TOKEN = "canary-token-7f3a9c"
PAT = "canary-pat-51d2e8"


@pytest.fixture(params=["cloud", "datacenter"])
def custom(request):
    with running_sandbox(flavor=request.param, api_token=TOKEN, pat=PAT) as sandbox:
        yield sandbox


def test_clients_of_the_sandbox_carry_its_custom_credentials(custom, connect):
    expected = {"username": SANDBOX_EMAIL, "password": TOKEN} if custom.options.is_cloud else {"token": PAT}
    assert custom.auth_kwargs() == expected
    clients = connect(custom)
    assert clients.jira.myself()["emailAddress"] == SANDBOX_EMAIL
    assert clients.confluence.get("rest/api/user/current")["displayName"] == "Sandbox Automation"


def test_the_documented_default_is_refused_with_the_real_401(custom):
    if custom.options.is_cloud:
        wrong = {"auth": (SANDBOX_EMAIL, SANDBOX_API_TOKEN)}
        body_start = "Basic authentication with passwords is deprecated.  For more information, see: https://"
    else:
        wrong = {"headers": {"Authorization": f"Bearer {SANDBOX_PAT}"}}
        body_start = "<!doctype html><html lang=\"en\"><head><title>HTTP Status 401 – Unauthorized</title>"
    for path in ("/rest/api/2/myself", "/wiki/rest/api/user/current"):
        response = requests.get(custom.url + path, timeout=5, **wrong)
        assert response.status_code == 401 and response.text.startswith(body_start)
        assert response.headers["X-Seraph-LoginReason"] == "AUTHENTICATED_FAILED"


def test_a_library_client_with_the_default_token_gets_401(custom):
    defaults = {"username": SANDBOX_EMAIL, "password": SANDBOX_API_TOKEN} if custom.options.is_cloud else {
        "token": SANDBOX_PAT}
    jira = custom.jira_client(**defaults)
    with recording(jira) as exchanges, pytest.raises(HTTPError):
        jira.myself()
    assert [e.response.status_code for e in exchanges] == [401]


@pytest.mark.parametrize("flavor, shown, hidden", [
    ("cloud", f"basic auth: {SANDBOX_EMAIL} / custom API token (not shown)", TOKEN),
    ("datacenter", "bearer personal access token: custom PAT (not shown)", PAT),
])
def test_the_banner_never_prints_a_custom_token(flavor, shown, hidden):
    with running_sandbox(flavor=flavor, api_token=TOKEN, pat=PAT) as sandbox:
        text = banner(sandbox)
    assert shown in text and TOKEN not in text and PAT not in text, text
    assert hidden not in repr(sandbox.options)


@pytest.mark.parametrize("flavor, shown", [
    ("cloud", f"basic auth: {SANDBOX_EMAIL} / API token {SANDBOX_API_TOKEN}"),
    ("datacenter", f"bearer personal access token: {SANDBOX_PAT}"),
])
def test_the_banner_prints_the_documented_defaults(flavor, shown):
    with running_sandbox(flavor=flavor) as sandbox:
        assert shown in banner(sandbox)


def test_only_the_credential_the_flavour_checks_counts_as_custom():
    assert SandboxOptions("cloud", pat=PAT).custom_token is False
    assert SandboxOptions("datacenter", api_token=TOKEN).custom_token is False
    assert SandboxOptions("cloud", api_token=TOKEN).custom_token and SandboxOptions("datacenter", pat=PAT).custom_token


def test_an_empty_token_is_refused_without_echoing_anything():
    with pytest.raises(ValueError, match="api_token and pat must not be empty"):
        SandboxOptions(api_token="")
    with pytest.raises(ValueError, match="api_token and pat must not be empty"):
        SandboxOptions(pat="")
