"""The configuration reference in docs/ is generated from the settings model and must not drift."""

import subprocess
import sys
from pathlib import Path

from sync.settings import iter_fields, settings_reference

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "configuration.md"
REGENERATE = "python -m sync.settings > docs/configuration.md"


def test_reference_document_matches_the_settings_model():
    assert DOC.read_text() == settings_reference() + "\n", (
        f"docs/configuration.md is stale: regenerate it with {REGENERATE}"
    )


def test_the_regeneration_command_writes_the_document():
    command = REGENERATE.split(" > ")[0].replace("python", sys.executable, 1).split()
    printed = subprocess.run(command, capture_output=True, text=True, check=True, timeout=60, cwd=ROOT)
    assert printed.stdout == DOC.read_text() and printed.stderr == ""


def test_every_setting_is_described():
    undocumented = [".".join(path) for path, info in iter_fields() if not (info.description or "").strip()]
    assert undocumented == []
