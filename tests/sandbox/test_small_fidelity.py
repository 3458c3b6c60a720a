"""Small gaps between the sandbox and the real products, closed: label case in JQL, anonymous serverInfo."""

from __future__ import annotations

import pytest
import requests

from tests.openapi_contract import recording
from tests.sandbox.sandbox_helpers import new_task, search_url


def test_jql_compares_labels_case_insensitively_and_stores_them_verbatim(sandbox, connect):
    clients = connect(sandbox)
    mixed = clients.jira.issue_create(new_task("mixed", labels=["MixedCase"]))["key"]
    lower = clients.jira.issue_create(new_task("lower", labels=["mixedcase"]))["key"]
    other = clients.jira.issue_create(new_task("other", labels=["unrelated"]))["key"]

    def keys(jql: str) -> list[str]:
        found = clients.http.get(search_url(sandbox), params={"jql": jql + " ORDER BY key", "fields": "labels"})
        return [issue["key"] for issue in found.json()["issues"]]

    assert keys("labels = MixedCase") == keys("labels = mixedcase") == keys("labels = MIXEDCASE") == [mixed, lower]
    assert keys("labels in (MIXEDcase, nothing)") == [mixed, lower]
    assert keys("project = OPS and labels != MixedCase") == [other]
    assert clients.jira.issue(mixed)["fields"]["labels"] == ["MixedCase"]  # case-preserving storage


@pytest.mark.parametrize("version", ["2", "3"])
def test_cloud_serverinfo_answers_anonymous_callers(cloud, version):
    with requests.Session() as anonymous, recording(anonymous) as exchanges:  # validated against the spec
        info = anonymous.get(f"{cloud.url}/rest/api/{version}/serverInfo", timeout=5).json()
    assert info["deploymentType"] == "Cloud" and info["version"].startswith("1001.")
    assert [e.response.status_code for e in exchanges] == [200]


def test_datacenter_serverinfo_answers_anonymous_callers_as_server(datacenter):
    info = requests.get(f"{datacenter.url}/rest/api/2/serverInfo", timeout=5).json()
    assert info["deploymentType"] == "Server"


def test_serverinfo_still_refuses_wrong_credentials_and_other_routes_stay_closed(cloud):
    wrong = requests.get(f"{cloud.url}/rest/api/2/serverInfo", auth=("sandbox@example.com", "wrong"), timeout=5)
    assert wrong.status_code == 401
    assert requests.get(f"{cloud.url}/rest/api/2/myself", timeout=5).status_code == 401
