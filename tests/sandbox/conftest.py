"""Fixtures for the sandbox tests: a fresh sandbox per test and atlassian-python-api clients whose
every request and response is validated against the official OpenAPI specs as it happens."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

import pytest
import requests

from sandbox import Sandbox, running_sandbox
from tests.openapi_contract import Exchange, recording
from tests.sandbox.sandbox_helpers import authorized_session


@dataclass
class Clients:
    """Library clients and a plain session, all recorded and validated; `raw` is neither, for
    deliberately invalid requests (the contract check would refuse to let them through)."""

    jira: object
    confluence: object
    http: requests.Session
    raw: requests.Session
    recorded: list[list[Exchange]]

    @property
    def exchanges(self) -> list[Exchange]:
        return [exchange for log in self.recorded for exchange in log]


@pytest.fixture
def cloud() -> Iterator[Sandbox]:
    with running_sandbox(flavor="cloud") as sandbox:
        yield sandbox


@pytest.fixture
def datacenter() -> Iterator[Sandbox]:
    with running_sandbox(flavor="datacenter") as sandbox:
        yield sandbox


@pytest.fixture(params=["cloud", "datacenter"])
def sandbox(request) -> Iterator[Sandbox]:
    """Runs the test once per deployment flavour."""
    with running_sandbox(flavor=request.param) as running:
        yield running


@pytest.fixture
def connect() -> Iterator[Callable[..., Clients]]:
    """connect(sandbox, allow_status=()) → Clients recording (and validating) all traffic."""
    stack = ExitStack()

    def open_clients(sandbox: Sandbox, allow_status: tuple[int, ...] = ()) -> Clients:
        jira, confluence = sandbox.jira_client(), sandbox.confluence_client()
        http, raw = authorized_session(sandbox), authorized_session(sandbox)
        stack.callback(http.close)
        stack.callback(raw.close)
        logs = [stack.enter_context(recording(c, allow_status=allow_status)) for c in (jira, confluence, http)]
        return Clients(jira, confluence, http, raw, logs)

    yield open_clients
    stack.close()
