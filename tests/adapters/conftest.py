"""Fixtures for the adapter tests: the HTTP boundary mocked with `responses`, no PMSYNC_* variables, recorded sleeps."""

from __future__ import annotations

import os

import pytest
import responses


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("PMSYNC_"):
            monkeypatch.delenv(name)


@pytest.fixture
def http():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


@pytest.fixture
def sleeps() -> list[float]:
    return []
