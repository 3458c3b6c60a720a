"""Every sample page parses to its expected extraction, field by field (all fields except `template`)."""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

import pytest

from sync.cli import main
from sync.parser import parse_file
from sync.templates import TemplateSpec
from tests.samples import EXPECTED, PAGES, SAMPLES, expected_extraction, expected_file

ITEM_FIELDS = ("summary", "owner", "due", "type", "priority", "jira_key", "done")


def test_the_sample_corpus_is_present_and_every_page_has_its_expectation():
    assert len(SAMPLES) >= 12, f"expected at least twelve sample pages under {PAGES}"
    missing = [str(expected_file(page)) for page in SAMPLES if not expected_file(page).is_file()]
    assert not missing, f"sample pages without an expected extraction: {missing}"
    orphans = sorted(path.name for path in EXPECTED.glob("*.expected.json")
                     if not (PAGES / path.name.replace(".expected.json", ".xml")).is_file())
    assert not orphans, f"expectations without a sample page in {PAGES}: {orphans}"


@pytest.mark.parametrize("page", SAMPLES, ids=[page.stem for page in SAMPLES])
def test_sample_page_matches_expected_extraction(page: Path):
    expected = expected_extraction(page)
    actual = parse_file(page).to_json()

    assert actual["page_title"] == expected["page_title"], f"{page.name}: page_title"
    got_items, want_items = actual["action_items"], expected["action_items"]
    got_summaries = [item["summary"] for item in got_items]
    assert len(got_items) == len(want_items), f"{page.name}: item count; got summaries {got_summaries}"
    for index, (got, want) in enumerate(zip(got_items, want_items, strict=True), start=1):
        for field in ITEM_FIELDS:
            assert got[field] == want[field], (
                f"{page.name}: item {index} ({want['summary'][:40]!r}) field {field!r}: "
                f"got {got[field]!r}, want {want[field]!r}"
            )
    assert actual["problems"] == expected["problems"], f"{page.name}: problems"


@pytest.mark.parametrize("page", SAMPLES, ids=[page.stem for page in SAMPLES])
def test_sample_items_carry_unique_origins(page: Path):
    items = parse_file(page).items
    origins = [item.origin for item in items]
    assert all(origin.startswith(("row:", "task:")) for origin in origins), origins
    assert len(set(origins)) == len(origins), f"{page.name}: duplicate origins {origins}"


def test_task_items_carry_their_cloud_uuid():
    items = parse_file(PAGES / "02-tls-cert-expiry-fpdr.xml").items
    assert [item.origin for item in items[:2]] == ["task:1", "task:2"]
    assert items[0].task_uuid == "3b7e9d21-6c4a-4f8b-9e2d-1a5c7b3f9e01"


def test_page_meta_is_read_from_the_page_properties_macro():
    meta = parse_file(PAGES / "01-db-failover-atlassian.xml").meta
    assert meta.incident_date.isoformat() == "2026-02-11"
    assert meta.severity == "SEV 2"
    assert meta.status == "IN REVIEW"
    assert meta.service == "orders-api, orders-db (PostgreSQL 15), checkout"
    assert meta.owner.account_id == "557058:3f0c8a2e-5d4b-4f7e-9a61-2b7c0d9e4a11"


def test_cli_json_for_one_file_is_one_object(capsys):
    page = SAMPLES[0]
    assert main(["parse", "--json", str(page)]) == 0
    printed = json.loads(capsys.readouterr().out)
    expected = expected_extraction(page)
    expected.pop("template")
    assert printed == expected


def test_cli_json_for_a_folder_is_a_list_in_file_order(capsys):
    assert main(["parse", "--json", str(PAGES)]) == 0
    printed = json.loads(capsys.readouterr().out)
    titles = [expected_extraction(page)["page_title"] for page in SAMPLES]
    assert [document["page_title"] for document in printed] == titles


def test_cli_keeps_non_ascii_unescaped(capsys):
    assert main(["parse", "--json", str(PAGES / "10-search-index-emoji.xml")]) == 0
    assert "🔁" in capsys.readouterr().out


def test_cli_table_lists_items_and_problems(capsys):
    assert main(["parse", str(PAGES / "03-config-push-sre.xml")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "Flag-service config push disabled rate limiting globally (incident #2291)"
    assert "CFG-1042" in out and "agarcia" in out
    assert "problems: missing-due:1" in out


def test_cli_reports_unreadable_files_and_continues(tmp_path, capsys):
    latin1 = tmp_path / "latin1.xml"
    latin1.write_bytes("<h2>Action items</h2><p>caf\xe9</p>".encode("latin-1"))
    missing = tmp_path / "missing.xml"
    assert main(["parse", "--json", str(missing), str(latin1), str(SAMPLES[0])]) == 2
    captured = capsys.readouterr()
    assert "missing.xml" in captured.err and "latin1.xml" in captured.err and "not UTF-8" in captured.err
    assert len(json.loads(captured.out)) == 1


def test_cli_config_adds_custom_templates(tmp_path, monkeypatch, capsys):
    custom = TemplateSpec(name="de", section_headings=[r"^maßnahmen$"], columns={"summary": ["Aufgabe"]})
    settings = types.SimpleNamespace(load_settings=lambda path: types.SimpleNamespace(templates=[custom]))
    monkeypatch.setitem(sys.modules, "sync.settings", settings)
    page = tmp_path / "de.xml"
    page.write_text("<title>Störung</title>\n<h2>Maßnahmen</h2><table><tr><th>Aufgabe</th></tr>"
                    "<tr><td>Backups prüfen</td></tr></table>", encoding="utf-8")
    assert main(["parse", "--json", "--config", str(tmp_path / "pmsync.toml"), str(page)]) == 0
    assert json.loads(capsys.readouterr().out)["action_items"][0]["summary"] == "Backups prüfen"


def test_cli_config_without_settings_module_is_a_clear_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "sync.settings", None)
    assert main(["parse", "--config", str(tmp_path / "x.toml"), str(SAMPLES[0])]) == 2
    assert "sync.settings" in capsys.readouterr().err
