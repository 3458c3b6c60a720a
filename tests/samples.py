"""The sample postmortem pages and their expected extractions, both kept in the repository.

The pages are the demo's seed pages (sandbox/examples); what the parser must make of each is in
tests/fixtures/samples/<page>.expected.json. The rules behind the expectations: docs/extraction-rules.md.
A missing file is a test failure that names it, never a skip.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PAGES = REPO / "sandbox" / "examples"
EXPECTED = REPO / "tests" / "fixtures" / "samples"
SAMPLES = sorted(PAGES.glob("*.xml"))


def expected_file(page: Path) -> Path:
    return EXPECTED / f"{page.stem}.expected.json"


def expected_extraction(page: Path) -> dict:
    """The expected extraction of a sample page; fails the test, naming the file, when it is missing."""
    path = expected_file(page)
    if not path.is_file():
        pytest.fail(f"missing fixture {path.relative_to(REPO)} (the expected extraction of {page.name})")
    return json.loads(path.read_text(encoding="utf-8"))
