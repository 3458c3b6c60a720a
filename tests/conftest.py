"""Fixtures for every test: worlds (a seeded sandbox, the daemon against it, its users); see tests/harness.py.

    def test_x(world): ...                      # a cloud sandbox with the bundled example postmortems
    @pytest.mark.parametrize("flavor", FLAVORS)  # ... once per deployment flavour
    def test_y(world): ...
    def test_z(make_world):                     # a world of your own: pages, flavour, daemon options
        world = make_world(item_pages(2, 3), flavor="datacenter", sprint=False, sync={"lease_minutes": 0})

A module whose tests share a kind of world defines its own `world` fixture from `make_world` (and
`flavor`, to run them in both flavours). A module that sets `BOTH_PROCESSES = True` runs each test that
makes a world twice: with the daemon as `run` keeps its state (decoded in memory between cycles) and as
`once` reads it (from the file each cycle, decoding only what the cycle uses).
The repository root is importable (pyproject's `pythonpath`), so tests import `tests.harness`.
Long scenarios are marked `slow`: `python -m pytest -q -m "not slow"` is the fast run (tests/README.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from pathlib import Path

import pytest

from tests.harness import World, running_world


@pytest.fixture
def flavor() -> str:
    """The deployment the test's worlds run as: cloud, unless the test parametrizes `flavor`."""
    return "cloud"


PROCESSES = ("run", "once")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if getattr(metafunc.module, "BOTH_PROCESSES", False) and "process" in metafunc.fixturenames:
        metafunc.parametrize("process", PROCESSES)


@pytest.fixture
def process() -> str:
    """How the daemon holds its state between cycles: as `run` does, unless the module runs both (above)."""
    return "run"


@pytest.fixture
def make_world(tmp_path: Path, process: str) -> Iterator[Callable[..., World]]:
    """make_world(pages=None, **options) -> a running World in its own folder of tmp_path; `options` as for
    `running_world` (flavor, latency_ms, credentials, the daemon's settings). Every world stops after the test."""
    with ExitStack() as stack:
        made: list[World] = []

        def make(pages: Mapping[str, str] | None = None, **options) -> World:
            folder = tmp_path / f"world-{len(made)}"
            options.setdefault("process", process)
            made.append(stack.enter_context(running_world(folder, pages, **options)))
            return made[-1]

        yield make


@pytest.fixture
def world(make_world: Callable[..., World], flavor: str) -> World:
    """A sandbox of the `flavor` seeded with the bundled example postmortems, and the daemon against it."""
    return make_world(flavor=flavor)
