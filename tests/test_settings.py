"""Settings: TOML + PMSYNC_* environment, secrets from files, every error at once, nothing secret printed."""

from __future__ import annotations

import base64
import os
import re
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from sync import settings as settings_module
from sync.settings import (
    ConfigError,
    Settings,
    config_path,
    env_name,
    iter_fields,
    load_settings,
    settings_reference,
)

REPO = Path(__file__).resolve().parents[1]
TOKEN = "tok-SUPERSECRET-4242"
PAT = "pat-SUPERSECRET-9999"

MINIMAL = """
[jira]
url = "https://acme.atlassian.net/"
email = "bot@example.com"
api_token = "{token}"
project = "ops"

[confluence]
url = "https://acme.atlassian.net/wiki"
spaces = ["PM"]
"""


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No PMSYNC_* variables from the developer's shell, and a cwd without config/."""
    for name in list(os.environ):
        if name.upper().startswith("PMSYNC_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


def write(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def minimal(tmp_path: Path, extra: str = "", token: str = TOKEN) -> Path:
    return write(tmp_path, MINIMAL.format(token=token) + textwrap.dedent(extra))


def test_minimal_file_gets_documented_defaults(tmp_path: Path) -> None:
    settings = load_settings(minimal(tmp_path))
    assert settings.jira.url == "https://acme.atlassian.net"  # trailing slash dropped
    assert settings.jira.project == "OPS"
    assert settings.jira.deployment == "auto"
    assert settings.jira.issue_type == "Task"
    assert settings.confluence.labels == ("postmortem",)
    assert settings.confluence.summary_space == "PM"
    sync = settings.sync
    assert (sync.interval_minutes, sync.full_reconcile_every, sync.overlap_minutes) == (1, 60, 15)
    assert sync.search_lag_grace_minutes == 15
    assert (settings.sync.concurrency, settings.sync.max_requests_per_second) == (4, 10)
    assert (settings.sync.max_creates_per_cycle, settings.sync.max_flags_per_cycle) == (500, 50)
    assert settings.sync.state_path == Path("state/postmortem-sync.sqlite3")
    assert (settings.daemon.metrics_host, settings.daemon.metrics_port) == ("127.0.0.1", 9464)
    assert settings.templates == ()


def test_environment_overrides_file_with_nested_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = minimal(tmp_path, "\n[sync]\nconcurrency = 2\ndry_run = false\n")
    monkeypatch.setenv("PMSYNC_JIRA__URL", "https://other.atlassian.net")
    monkeypatch.setenv("PMSYNC_SYNC__DRY_RUN", "true")
    monkeypatch.setenv("PMSYNC_JIRA__SPRINT__ENABLED", "true")
    monkeypatch.setenv("PMSYNC_JIRA__SPRINT__BOARD_ID", "7")
    monkeypatch.setenv("PMSYNC_JIRA__PRIORITY_MAP", '{"P1": "Highest"}')
    monkeypatch.setenv("PMSYNC_DAEMON__LOG_LEVEL", "debug")
    settings = load_settings(path)
    assert settings.jira.url == "https://other.atlassian.net"
    assert settings.jira.email == "bot@example.com"  # untouched keys keep the file's value
    assert settings.sync.dry_run is True
    assert settings.sync.concurrency == 2
    assert settings.jira.sprint.board_id == 7
    assert settings.jira.priority_map == {"P1": "Highest"}
    assert settings.daemon.log_level == "DEBUG"


def test_environment_alone_is_enough(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "PMSYNC_JIRA__URL": "https://jira.corp.example",
        "PMSYNC_JIRA__PAT": PAT,
        "PMSYNC_JIRA__PROJECT": "OPS",
        "PMSYNC_CONFLUENCE__URL": "https://wiki.corp.example",
        "PMSYNC_CONFLUENCE__SUMMARY_PAGE__SPACE": "PM",
    }.items():
        monkeypatch.setenv(name, value)
    settings = load_settings()
    assert settings.jira.pat.get_secret_value() == PAT
    assert settings.confluence.summary_space == "PM"


def test_secret_from_file_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "jira_token"
    secret_file.write_text(TOKEN + "-from-file\n")
    monkeypatch.setenv("PMSYNC_JIRA__API_TOKEN_FILE", str(secret_file))
    text = MINIMAL.format(token="x").replace('api_token = "x"\n', "")
    settings = load_settings(write(tmp_path, text))
    assert settings.jira.api_token.get_secret_value() == TOKEN + "-from-file"


def test_secret_from_file_key_in_toml(tmp_path: Path) -> None:
    secret_file = tmp_path / "pat"
    secret_file.write_text(PAT)
    text = MINIMAL.format(token=TOKEN).replace('project = "ops"', f'project = "ops"\npat_file = "{secret_file}"')
    settings = load_settings(write(tmp_path, text))
    assert settings.jira.pat.get_secret_value() == PAT


def test_unreadable_or_doubled_secret_file_is_reported_on_the_secret(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PMSYNC_JIRA__PAT_FILE", str(tmp_path / "missing"))
    monkeypatch.setenv("PMSYNC_JIRA__API_TOKEN_FILE", str(tmp_path / "also-missing"))
    monkeypatch.setenv("PMSYNC_JIRA__API_TOKEN", TOKEN)  # the environment wins over the file, so double it there
    with pytest.raises(ConfigError) as caught:
        load_settings(minimal(tmp_path))
    problems = "\n".join(caught.value.problems)
    assert "jira.pat: cannot read pat_file" in problems
    assert "jira.api_token: set either api_token or api_token_file, not both" in problems
    assert TOKEN not in str(caught.value)


def test_unknown_keys_are_rejected_in_file_and_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMSYNC_JIRA__URLL", "https://typo.example")
    path = minimal(tmp_path, "\n[sync]\nintervall_minutes = 3\n\n[surprise]\nx = 1\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = caught.value.problems
    assert any(p.startswith("sync.intervall_minutes: unknown key") for p in problems)
    assert any(p.startswith("surprise: unknown key") for p in problems)
    assert any(p.startswith("jira.urll: unknown key") for p in problems)


def test_every_error_is_reported_at_once_without_secret_values(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        [jira]
        url = "ftp://acme"
        api_token = "{TOKEN}"
        project = "ops team"
        deployment = "cloudy"

        [confluence]
        url = "https://acme.atlassian.net"

        [sync]
        overlap_minutes = 1000
        concurrency = 0

        [daemon]
        log_format = "xml"
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    problems = caught.value.problems
    paths = {problem.split(":", 1)[0] for problem in problems}
    assert {"jira.url", "jira.project", "jira.deployment", "sync.overlap_minutes", "sync.concurrency",
            "daemon.log_format"} <= paths
    assert len(problems) >= 6
    assert "(env PMSYNC_SYNC__OVERLAP_MINUTES)" in str(caught.value)
    assert str(path) in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_cross_field_rules(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        [jira]
        url = "https://acme.atlassian.net"
        email = "bot@example.com"
        project = "OPS"

        [jira.sprint]
        enabled = true

        [confluence]
        url = "https://acme.atlassian.net"
        """,
    )
    with pytest.raises(ConfigError) as caught:
        load_settings(path)
    text = str(caught.value)
    assert "email and api_token must be set together" in text
    assert "board_id is required when sprint.enabled" in text
    assert "confluence.summary_page: space is required" in text


def test_cloud_confluence_url_needs_wiki(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL.format(token=TOKEN).replace("atlassian.net/wiki", "atlassian.net"))
    with pytest.raises(ConfigError, match=re.escape("confluence.url: on Cloud it ends with /wiki")):
        load_settings(path)


def test_no_credentials_at_all_is_an_error(tmp_path: Path) -> None:
    text = MINIMAL.format(token=TOKEN).replace('email = "bot@example.com"\n', "")
    text = text.replace(f'api_token = "{TOKEN}"\n', "")
    with pytest.raises(ConfigError, match=r"set email and api_token \(Cloud\) or pat \(Data Center\)"):
        load_settings(write(tmp_path, text))


def test_url_with_credentials_is_rejected_without_echoing_them(tmp_path: Path) -> None:
    with_credentials = f"https://bot:{TOKEN}@acme.atlassian.net\""
    text = MINIMAL.format(token=TOKEN).replace("https://acme.atlassian.net/\"", with_credentials)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert "jira.url: must not contain credentials" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_secrets_never_appear_in_repr_str_or_dump(tmp_path: Path) -> None:
    text = MINIMAL.format(token=TOKEN).replace('project = "ops"', f'project = "ops"\npat = "{PAT}"')
    settings = load_settings(write(tmp_path, text))
    for rendering in (repr(settings), str(settings), settings.model_dump_json(), repr(settings.jira)):
        assert TOKEN not in rendering and PAT not in rendering
    assert isinstance(settings.jira.api_token, SecretStr)
    assert TOKEN in settings.secret_values() and PAT in settings.secret_values()


def test_wrongly_typed_secret_is_not_echoed(tmp_path: Path) -> None:
    path = minimal(tmp_path).read_text().replace(f'api_token = "{TOKEN}"', f"api_token = [\"{TOKEN}\"]")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, path))
    assert "jira.api_token" in str(caught.value)
    assert TOKEN not in str(caught.value)


def test_settings_are_frozen(tmp_path: Path) -> None:
    settings = load_settings(minimal(tmp_path))
    with pytest.raises(ValidationError):
        settings.jira.project = "OTHER"  # type: ignore[misc]


def test_config_path_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert config_path() is None  # nothing in cwd, no variable
    (tmp_path / "config").mkdir()
    default = minimal(tmp_path / "config", token=TOKEN)
    default.rename(tmp_path / "config" / "postmortem-sync.toml")
    assert config_path() == Path("config/postmortem-sync.toml")
    assert load_settings().jira.project == "OPS"
    monkeypatch.setenv("PMSYNC_CONFIG", str(tmp_path / "elsewhere.toml"))
    assert config_path() == tmp_path / "elsewhere.toml"
    assert config_path(tmp_path / "explicit.toml") == tmp_path / "explicit.toml"


def test_missing_or_malformed_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_settings(tmp_path / "absent.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(write(tmp_path, "[jira\nurl = 1\n"))


def test_custom_templates_load_as_template_specs(tmp_path: Path) -> None:
    path = minimal(
        tmp_path,
        """
        [[templates]]
        name = "acme-rca"
        section_headings = ['\\bcountermeasures\\b']
        columns = { summary = ["countermeasure"], owner = ["dri"] }
        """,
    )
    settings = load_settings(path)
    assert [template.name for template in settings.templates] == ["acme-rca"]
    assert settings.templates[0].opens_section("Countermeasures")


def test_shipped_configs_are_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox = load_settings(REPO / "config" / "sandbox.toml")
    assert sandbox.jira.url == "http://127.0.0.1:8990"
    assert sandbox.confluence.url == "http://127.0.0.1:8990/wiki"
    assert sandbox.jira.email == "sandbox@example.com"
    assert sandbox.jira.api_token.get_secret_value() == "sandbox-token"
    assert sandbox.jira.pat.get_secret_value() == "sandbox-pat"
    assert (sandbox.jira.project, sandbox.jira.sprint.board_id) == ("OPS", 1)
    assert sandbox.confluence.spaces == ("PM",) and sandbox.confluence.labels == ("postmortem",)
    token_file = tmp_path / "token"
    token_file.write_text("t")
    monkeypatch.setenv("PMSYNC_JIRA__API_TOKEN_FILE", str(token_file))
    example = load_settings(REPO / "config" / "postmortem-sync.example.toml")
    assert example.jira.priority_map["P1"] == "High"


def all_models(model: type[BaseModel] = Settings) -> list[type[BaseModel]]:
    found = [model]
    for _, info in iter_fields(model):
        nested = settings_module.nested_section(info.annotation)
        if nested is not None and nested not in found:
            found.append(nested)
    return found


def test_every_setting_has_a_description() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in all_models()
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    assert not missing, f"settings without a description: {missing}"


def test_reference_lists_every_setting_with_its_env_name() -> None:
    reference = settings_reference()
    for path, info in iter_fields():
        if settings_module.nested_section(info.annotation) is None:
            assert f"| `{'.'.join(path)}` |" in reference
            assert env_name(path) in reference
    assert "PMSYNC_JIRA__API_TOKEN_FILE" in reference
    assert "| `sync.overlap_minutes` | integer | `15` |" in reference
    assert "| `jira.url` | string | required |" in reference


def test_malformed_environment_json_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMSYNC_JIRA__LABELS", "not-json")
    with pytest.raises(ConfigError, match="are JSON"):
        load_settings(minimal(tmp_path))


# --- reported configuration bugs -------------------------------------------------------------------

CANARY = "CANARY-7c1e9f40b2d84a63"
WITHOUT_TOKEN = MINIMAL.format(token=TOKEN).replace(f'api_token = "{TOKEN}"\n', "")


def secret_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text + "\n")
    return path


@pytest.mark.parametrize("section", ["jira", "confluence"])
def test_environment_secret_wins_over_a_secret_file_in_toml(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, section: str
) -> None:
    from_file = secret_file(tmp_path, "token", "token-from-toml-file")
    text = WITHOUT_TOKEN.replace(f"[{section}]\n", f'[{section}]\napi_token_file = "{from_file}"\n')
    if section == "confluence":
        text = text.replace("[confluence]\n", '[confluence]\nemail = "wiki@example.com"\n')
    monkeypatch.setenv("PMSYNC_JIRA__API_TOKEN", TOKEN)
    monkeypatch.setenv(f"PMSYNC_{section.upper()}__API_TOKEN", TOKEN + "-env")
    settings = load_settings(write(tmp_path, text))
    assert getattr(settings, section).api_token.get_secret_value() == TOKEN + "-env"


def test_environment_secret_file_wins_over_a_literal_in_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PMSYNC_JIRA__API_TOKEN_FILE", str(secret_file(tmp_path, "token", "token-from-env-file")))
    monkeypatch.setenv("PMSYNC_JIRA__PAT_FILE", str(secret_file(tmp_path, "pat", "pat-from-env-file")))
    text = MINIMAL.format(token=TOKEN).replace('project = "ops"', f'project = "ops"\npat = "{PAT}"')
    settings = load_settings(write(tmp_path, text))
    assert settings.jira.api_token.get_secret_value() == "token-from-env-file"
    assert settings.jira.pat.get_secret_value() == "pat-from-env-file"


def test_a_secret_and_its_file_in_the_same_source_are_still_an_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = MINIMAL.format(token=TOKEN).replace("[jira]\n", f'[jira]\napi_token_file = "{tmp_path / "t"}"\n')
    message = "jira.api_token: set either api_token or api_token_file, not both"
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_settings(write(tmp_path, both))
    monkeypatch.setenv("PMSYNC_CONFLUENCE__PAT", PAT)
    monkeypatch.setenv("PMSYNC_CONFLUENCE__PAT_FILE", str(secret_file(tmp_path, "pat", PAT)))
    with pytest.raises(ConfigError, match=re.escape("confluence.pat: set either pat or pat_file, not both")) as caught:
        load_settings(minimal(tmp_path))
    assert PAT not in str(caught.value)


def test_secret_file_setting_holding_the_secret_itself_is_not_echoed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    empty = secret_file(tmp_path, f"{CANARY}-empty", "")
    text = WITHOUT_TOKEN.replace("[jira]\n", f'[jira]\napi_token_file = "{CANARY}"\npat_file = "{empty}"\n')
    monkeypatch.setenv("PMSYNC_CONFLUENCE__PAT_FILE", CANARY + "-pat")
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert CANARY not in str(caught.value) and CANARY not in repr(caught.value)
    problems = "\n".join(caught.value.problems)
    assert "jira.api_token: cannot read api_token_file" in problems
    assert "confluence.pat: cannot read pat_file" in problems
    assert "jira.pat: pat_file names an empty file" in problems


@pytest.mark.parametrize("cql", [
    'type = page and label = "postmortem" ORDER BY created DESC',
    "space = PM order   by lastmodified",
    "label = pm\nOrder\nBy title",
])
def test_cql_with_order_by_is_rejected_when_loading(tmp_path: Path, cql: str) -> None:
    text = MINIMAL.format(token=TOKEN).replace('spaces = ["PM"]\n', f'spaces = ["PM"]\ncql = """{cql}"""\n')
    with pytest.raises(ConfigError, match=r"confluence.cql: must not contain ORDER BY: the daemon orders"):
        load_settings(write(tmp_path, text))


def test_cql_mentioning_order_by_in_a_quoted_string_is_accepted(tmp_path: Path) -> None:
    cql = 'type = page and title ~ "order by" and text ~ \'ORDER BY\''
    text = MINIMAL.format(token=TOKEN).replace('spaces = ["PM"]\n', f'spaces = ["PM"]\ncql = """{cql}"""\n')
    assert load_settings(write(tmp_path, text)).confluence.cql == cql


DATACENTER = """
[jira]
url = "https://jira.corp.example"
deployment = "{jira_deployment}"
pat = "{pat}"
project = "OPS"

[confluence]
url = "https://wiki.corp.example"
deployment = "{confluence_deployment}"
spaces = ["PM"]
"""


@pytest.mark.parametrize("jira_deployment,confluence_deployment", [("datacenter", "auto"), ("auto", "datacenter")])
def test_explicit_datacenter_confluence_needs_its_own_pat(
    tmp_path: Path, jira_deployment: str, confluence_deployment: str
) -> None:
    text = DATACENTER.format(jira_deployment=jira_deployment, confluence_deployment=confluence_deployment, pat=PAT)
    with pytest.raises(ConfigError) as caught:
        load_settings(write(tmp_path, text))
    assert "confluence: pat is required on Data Center" in str(caught.value)
    assert "PMSYNC_CONFLUENCE__PAT" in str(caught.value)
    assert PAT not in str(caught.value)
    own = text.replace('spaces = ["PM"]\n', 'spaces = ["PM"]\npat = "confluence-pat"\n')
    settings = load_settings(write(tmp_path, own))
    assert settings.confluence.pat.get_secret_value() == "confluence-pat"
    assert settings.jira.pat.get_secret_value() == PAT


def test_auto_deployment_keeps_the_confluence_pat_optional(tmp_path: Path) -> None:
    text = DATACENTER.format(jira_deployment="auto", confluence_deployment="auto", pat=PAT)
    assert load_settings(write(tmp_path, text)).confluence.pat is None


def test_confluence_credentials_are_checked_after_falling_back_to_jiras(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The Kubernetes Deployment sets only PMSYNC_CONFLUENCE__API_TOKEN_FILE; the email is Jira's.
    monkeypatch.setenv("PMSYNC_CONFLUENCE__API_TOKEN_FILE", str(secret_file(tmp_path, "wiki", "wiki-token")))
    settings = load_settings(minimal(tmp_path))
    assert settings.confluence.api_token.get_secret_value() == "wiki-token"
    assert base64.b64encode(b"bot@example.com:wiki-token").decode() in settings.secret_values()
    pat_only = WITHOUT_TOKEN.replace('email = "bot@example.com"\n', f'pat = "{PAT}"\n')
    with pytest.raises(ConfigError, match="confluence: email and api_token must be set together"):
        load_settings(write(tmp_path, pat_only))


# --- every configuration we ship loads --------------------------------------------------------------


def shipped_configurations() -> list[tuple[str, str]]:
    """(name, TOML text) of config/*.toml and of every TOML file embedded in a ConfigMap under deploy/."""
    found = [(str(path.relative_to(REPO)), path.read_text()) for path in sorted((REPO / "config").glob("*.toml"))]
    for manifest in sorted((REPO / "deploy" / "kubernetes").rglob("*.yaml")):
        for document in yaml.safe_load_all(manifest.read_text()):
            if document and document.get("kind") == "ConfigMap":
                found += [(f"{manifest.relative_to(REPO)}:{key}", text)
                          for key, text in document["data"].items() if key.endswith(".toml")]
    return found


def deployment_environment(tmp_path: Path) -> dict[str, str]:
    """The Deployment's PMSYNC_* environment, each *_FILE pointing at a placeholder secret file."""
    manifest = yaml.safe_load((REPO / "deploy" / "kubernetes" / "base" / "deployment.yaml").read_text())
    (container,) = manifest["spec"]["template"]["spec"]["containers"]
    environment = {}
    for variable in container["env"]:
        name, value = variable["name"], variable["value"]
        if name.endswith("_FILE"):
            value = str(secret_file(tmp_path, name.lower(), f"placeholder-{name.lower()}"))
        environment[name] = value
    return environment


@pytest.mark.parametrize("name,text", shipped_configurations(), ids=[name for name, _ in shipped_configurations()])
def test_every_shipped_configuration_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, text: str
) -> None:
    environment = deployment_environment(tmp_path)
    assert "PMSYNC_JIRA__API_TOKEN_FILE" in environment
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    settings = load_settings(write(tmp_path, text, "shipped.toml"))
    assert settings.jira.api_token.get_secret_value() == "placeholder-pmsync_jira__api_token_file"
    assert settings.jira.project and settings.confluence.summary_space


def test_configmap_marks_the_values_to_replace() -> None:
    configmaps = [text for name, text in shipped_configurations() if name.startswith("deploy/")]
    assert configmaps
    for text in configmaps:
        for key in ("project", "spaces"):
            (line,) = [line for line in text.splitlines() if line.startswith(f"{key} =")]
            assert "# REPLACE:" in line, f"{key} in the ConfigMap is not marked as a value to replace"
