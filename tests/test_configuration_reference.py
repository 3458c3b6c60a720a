"""The configuration reference in docs/ is generated from the settings model and must not drift."""

from pathlib import Path

from sync.settings import iter_fields, settings_reference

DOC = Path(__file__).resolve().parents[1] / "docs" / "configuration.md"


def test_reference_document_matches_the_settings_model():
    assert DOC.read_text() == settings_reference() + "\n", (
        "docs/configuration.md is stale: regenerate it with "
        "python -c 'from sync.settings import settings_reference; print(settings_reference())' > docs/configuration.md"
    )


def test_every_setting_is_described():
    undocumented = [".".join(path) for path, info in iter_fields() if not (info.description or "").strip()]
    assert undocumented == []
