"""Configuration: a frozen, validated schema read from a TOML file plus PMSYNC_* environment overrides.

Precedence, highest first: `PMSYNC_*` environment variables (nested with `__`, e.g.
`PMSYNC_JIRA__URL`), then the TOML file, then the defaults below. Any secret can also be read from
a file: `api_token_file = "/run/secrets/jira"` in TOML or `PMSYNC_JIRA__API_TOKEN_FILE=...`.
"""

from __future__ import annotations

import base64
import functools
import json
import os
import tomllib
import types
import typing
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict, SettingsError

from sync.templates import TemplateSpec

DEFAULT_CONFIG_PATH = Path("config/postmortem-sync.toml")
CONFIG_PATH_ENV = "PMSYNC_CONFIG"
ENV_PREFIX = "PMSYNC_"
ENV_DELIMITER = "__"
SECRET_FILE_SUFFIX = "_file"

Deployment = Literal["auto", "cloud", "datacenter"]
LogFormat = Literal["auto", "json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds every reason, each naming a setting."""

    def __init__(self, problems: Sequence[str], source: Path | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid configuration{where} ({len(self.problems)} problem(s)):\n{lines}")


def _base_url(value: str) -> str:
    """An http(s) base URL without credentials, query or trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://acme.atlassian.net")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials; use email/api_token or pat instead")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query or fragment")
    return value.strip().rstrip("/")


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _as_text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


BaseUrl = Annotated[str, BeforeValidator(lambda v: _base_url(v) if isinstance(v, str) else v)]
PageId = Annotated[str, BeforeValidator(_as_text), Field(pattern=r"^\d+$")]
Label = Annotated[str, Field(pattern=r"^[^\s]+$")]


class _SecretFile:
    """A `<secret>_file` reference seen before validation; read when its secret field is validated."""

    def __init__(self, path: Any, *, conflict: bool = False) -> None:
        self.path, self.conflict = path, conflict


def _secret_fields(model: type[BaseModel]) -> Iterator[str]:
    for name, info in model.model_fields.items():
        if SecretStr in (info.annotation, *typing.get_args(info.annotation)):
            yield name


class _Section(BaseModel):
    """Shared behaviour of every configuration table: frozen, unknown keys rejected, secret files read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _collect_secret_files(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for name in _secret_fields(cls):
            path = data.pop(name + SECRET_FILE_SUFFIX, None)
            if path is not None:
                data[name] = _SecretFile(path, conflict=name in data)
        return data

    @field_validator("*", mode="before")
    @classmethod
    def _read_secret_file(cls, value: Any, info: ValidationInfo) -> Any:
        if not isinstance(value, _SecretFile):
            return value
        name = info.field_name
        if value.conflict:
            raise ValueError(f"set either {name} or {name}{SECRET_FILE_SUFFIX}, not both")
        try:
            secret = Path(value.path).read_text(encoding="utf-8").strip()
        except (OSError, TypeError, ValueError) as exc:
            reason = getattr(exc, "strerror", None) or type(exc).__name__
            raise ValueError(f"cannot read {name}{SECRET_FILE_SUFFIX} {str(value.path)!r}: {reason}") from None
        if not secret:
            raise ValueError(f"{name}{SECRET_FILE_SUFFIX} {str(value.path)!r} is empty")
        return secret


class EpicSettings(_Section):
    """Grouping of a postmortem's issues under one epic."""

    enabled: bool = Field(False, description="Create one epic per postmortem and put its issues under it.")
    issue_type: str = Field("Epic", description="Issue type name used for those epics.")


class SprintSettings(_Section):
    """Adding new issues to the active sprint of a board."""

    enabled: bool = Field(False, description="Add newly created issues to the board's active sprint.")
    board_id: int | None = Field(
        None, ge=1, validate_default=True, description="Board whose active sprint receives new issues."
    )

    @field_validator("board_id")
    @classmethod
    def _board_when_enabled(cls, board_id: int | None, info: ValidationInfo) -> int | None:
        if info.data.get("enabled") and board_id is None:
            raise ValueError("board_id is required when sprint.enabled is true")
        return board_id


class JiraSettings(_Section):
    """Where and how Jira issues are created."""

    url: BaseUrl = Field(description="Jira base URL as users know it, e.g. https://acme.atlassian.net.")
    deployment: Deployment = Field(
        "auto", description="cloud, datacenter, or auto (detected from serverInfo deploymentType)."
    )
    email: str | None = Field(None, description="Cloud: account email for basic auth (with api_token).")
    api_token: SecretStr | None = Field(None, description="Cloud: API token for basic auth (with email).")
    pat: SecretStr | None = Field(
        None, validate_default=True, description="Data Center: personal access token (Bearer)."
    )
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$", description="Key of the project issues are created in.")
    issue_type: str = Field("Task", description="Issue type name for action-item issues.")
    labels: tuple[Label, ...] = Field((), description="Extra labels put on every created issue.")
    priority_map: dict[str, str] = Field(
        default_factory=dict, description="Item priority or type -> Jira priority name, e.g. {P1 = \"High\"}."
    )
    default_priority: str | None = Field(None, description="Jira priority when priority_map has no match.")
    components: tuple[str, ...] = Field((), description="Component names set on every created issue.")
    epic: EpicSettings = Field(default_factory=EpicSettings, description="Epic per postmortem.")
    sprint: SprintSettings = Field(default_factory=SprintSettings, description="Active-sprint placement.")
    done_transition: str | None = Field(
        None, description="Transition used to close issues; default: any transition into a done status."
    )
    removed_transition: str | None = Field(
        None, description="Transition applied when an item is removed from its page; default: none."
    )
    verify_ssl: bool = Field(True, description="Verify TLS certificates of Jira and Confluence.")

    @field_validator("project", mode="before")
    @classmethod
    def _project_upper(cls, value: Any) -> Any:
        return _upper(value)

    @field_validator("pat")
    @classmethod
    def _credentials_match_deployment(cls, pat: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        check_credentials(info.data, pat, required=True)
        return pat


def check_credentials(earlier: dict[str, Any], pat: SecretStr | None, *, required: bool) -> None:
    """Raise ValueError when the credentials (validated so far, plus pat) cannot work for the deployment."""
    if not {"deployment", "email", "api_token"} <= earlier.keys():
        return  # one of them is already reported as invalid
    deployment, email, api_token = earlier["deployment"], earlier["email"], earlier["api_token"]
    if bool(email) != bool(api_token):
        raise ValueError("email and api_token must be set together (Cloud basic auth)")
    if deployment == "cloud" and pat and not email:
        raise ValueError("Cloud needs email and api_token; pat is for Data Center")
    if required and not (email or pat):
        raise ValueError("set email and api_token (Cloud) or pat (Data Center)")


class SummaryPageSettings(_Section):
    """The Confluence page that reports completion rates."""

    enabled: bool = Field(True, description="Write the summary page.")
    space: str | None = Field(None, description="Space key of the summary page; default: first of confluence.spaces.")
    title: str = Field("Postmortem action items", min_length=1, description="Title of the summary page.")
    parent_id: PageId | None = Field(None, description="Page id the summary page is created under.")


class ConfluenceSettings(_Section):
    """Where postmortem pages are found and written back."""

    deployment: Deployment = Field("auto", description="cloud, datacenter, or auto (follow Jira's).")
    url: BaseUrl = Field(
        description="Confluence base URL: https://acme.atlassian.net/wiki on Cloud, the base URL on Data Center."
    )
    email: str | None = Field(None, description="Cloud basic-auth email; default: jira.email.")
    api_token: SecretStr | None = Field(None, description="Cloud API token; default: jira.api_token.")
    pat: SecretStr | None = Field(
        None, validate_default=True, description="Data Center personal access token; default: jira.pat."
    )
    spaces: tuple[str, ...] = Field((), description="Space keys searched for postmortems; empty: all spaces.")
    labels: tuple[Label, ...] = Field(("postmortem",), description="Page labels that mark a postmortem (any of).")
    parent_pages: tuple[PageId, ...] = Field((), description="Only pages below these page ids (any of).")
    cql: str | None = Field(None, description="Raw CQL selecting postmortem pages; replaces spaces/labels/parents.")
    summary_page: SummaryPageSettings = Field(
        default_factory=SummaryPageSettings, validate_default=True, description="The completion summary page."
    )

    @field_validator("url")
    @classmethod
    def _cloud_url_has_wiki(cls, url: str, info: ValidationInfo) -> str:
        parts = urlsplit(url)
        is_cloud = info.data.get("deployment") == "cloud" or (parts.hostname or "").endswith(".atlassian.net")
        if is_cloud and not parts.path.endswith("/wiki"):
            raise ValueError("on Cloud it ends with /wiki, e.g. https://acme.atlassian.net/wiki")
        return url

    @field_validator("pat")
    @classmethod
    def _credentials_consistent(cls, pat: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        check_credentials(info.data, pat, required=False)
        return pat

    @field_validator("summary_page")
    @classmethod
    def _summary_space_known(cls, page: SummaryPageSettings, info: ValidationInfo) -> SummaryPageSettings:
        if page.enabled and not page.space and not info.data.get("spaces"):
            raise ValueError("space is required when the summary page is enabled and confluence.spaces is empty")
        return page

    @property
    def summary_space(self) -> str | None:
        """The space of the summary page after defaults."""
        return self.summary_page.space or (self.spaces[0] if self.spaces else None)


class SyncSettings(_Section):
    """How often and how much the daemon syncs."""

    interval_minutes: float = Field(5, gt=0, le=1440, description="Minutes between incremental cycles.")
    full_reconcile_every: int = Field(12, ge=1, description="Every Nth cycle re-reads everything.")
    overlap_minutes: int = Field(
        2, ge=0, le=10, description="Minutes the incremental watermark is moved back (CQL has minute precision)."
    )
    write_back: bool = Field(True, description="Write Jira keys back into postmortem pages.")
    lease_minutes: float = Field(
        15, ge=0, le=1440,
        description="Term of the write lease that keeps two instances from both writing (a content property "
                    "of the summary page); 0 turns it off: then run exactly one instance.",
    )
    state_path: Path = Field(Path("state/postmortem-sync.sqlite3"), description="SQLite cache and intent journal.")
    concurrency: int = Field(4, ge=1, le=16, description="Parallel requests per cycle.")
    max_requests_per_second: float = Field(
        10, gt=0, le=100, description="Client-side pace shared by Jira and Confluence calls."
    )
    request_timeout_seconds: int = Field(30, ge=1, le=600, description="Timeout of one HTTP request in seconds.")
    dry_run: bool = Field(False, description="Plan and log, but write nothing.")
    max_creates_per_cycle: int = Field(
        500, ge=0, description="Refuse a cycle that would create more issues than this (override needed)."
    )
    max_flags_per_cycle: int = Field(
        50, ge=0, description="Refuse a cycle that would flag more issues as removed than this."
    )


class RetrySettings(_Section):
    """The single retry policy for 429, 5xx and connection errors."""

    max_attempts: int = Field(5, ge=1, le=20, description="Attempts per request, the first included.")
    max_total_seconds: float = Field(
        120, gt=0, le=3600, description="Give up when waiting would exceed this many seconds in total."
    )
    backoff_cap_seconds: float = Field(60, gt=0, le=600, description="Longest backoff between attempts.")


class DaemonSettings(_Section):
    """Process-level settings of the daemon."""

    metrics_host: str = Field("127.0.0.1", description="Address of the health and Prometheus endpoint.")
    metrics_port: int = Field(9464, ge=0, le=65535, description="Port of the health and Prometheus endpoint.")
    log_format: LogFormat = Field("auto", description="json, console, or auto (console on a TTY, else json).")
    log_level: LogLevel = Field("INFO", description="DEBUG, INFO, WARNING or ERROR.")

    @field_validator("log_level", mode="before")
    @classmethod
    def _level_upper(cls, value: Any) -> Any:
        return _upper(value)


class Settings(BaseSettings):
    """Everything postmortem-sync needs to run; frozen after loading."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        env_ignore_empty=True,
        extra="forbid",
        frozen=True,
    )

    jira: JiraSettings = Field(description="Jira connection and issue defaults.")
    confluence: ConfluenceSettings = Field(description="Confluence connection and page selection.")
    sync: SyncSettings = Field(default_factory=SyncSettings, description="Cycle timing and safety limits.")
    retry: RetrySettings = Field(default_factory=RetrySettings, description="Retry policy for HTTP calls.")
    templates: tuple[TemplateSpec, ...] = Field(
        (), description="Custom postmortem templates ([[templates]] tables), tried before the built-ins."
    )
    daemon: DaemonSettings = Field(default_factory=DaemonSettings, description="Metrics endpoint and logging.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment overrides it.
        return env_settings, init_settings

    @field_validator("templates")
    @classmethod
    def _template_names_unique(cls, templates: tuple[TemplateSpec, ...]) -> tuple[TemplateSpec, ...]:
        names = [template.name for template in templates]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate template names {duplicates}")
        return templates

    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret as it could appear on the wire, for redaction (never log this)."""
        values: list[str] = []
        for section in (self.jira, self.confluence):
            for secret in (section.api_token, section.pat):
                if secret is not None:
                    values.append(secret.get_secret_value())
            if section.email and section.api_token:
                pair = f"{section.email}:{section.api_token.get_secret_value()}"
                values.append(base64.b64encode(pair.encode()).decode())
        return tuple(dict.fromkeys(value for value in values if value))


def config_path(path: Path | str | None = None) -> Path | None:
    """The configuration file to read: the argument, else $PMSYNC_CONFIG, else the default if present."""
    if path is not None:
        return Path(path)
    if os.environ.get(CONFIG_PATH_ENV):
        return Path(os.environ[CONFIG_PATH_ENV])
    return DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.is_file() else None


def load_settings(path: Path | str | None = None) -> Settings:
    """Read, merge and validate the configuration; raise ConfigError listing every problem."""
    source = config_path(path)
    data = read_toml(source) if source is not None else {}
    hidden = sorted(key for key in data if key.startswith("_"))
    if hidden:
        raise ConfigError([f"{key}: unknown key" for key in hidden], source)
    try:
        return Settings(**data)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc), source) from None
    except SettingsError as exc:  # an environment value that should be JSON (a list or table) is not
        hint = f"lists and tables in {ENV_PREFIX}* variables are JSON, e.g. {ENV_PREFIX}JIRA__LABELS='[\"a\"]'"
        raise ConfigError([f"{exc}; {hint}"], source) from None


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at path; ConfigError when it is missing or malformed."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError([f"configuration file {path} does not exist"], path) from None
    except OSError as exc:
        raise ConfigError([f"cannot read {path}: {exc.strerror}"], path) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"not valid TOML: {exc}"], path) from None


def describe_errors(error: ValidationError) -> list[str]:
    """One actionable line per validation problem: setting path, message, env name; never the input."""
    return [_describe(item) for item in error.errors(include_url=False, include_input=False, include_context=False)]


def _describe(item: Any) -> str:
    loc = tuple(item["loc"])
    path = ".".join(str(part) for part in loc) or "(top level)"
    if item["type"] == "missing":
        message = "is required"
    elif item["type"] == "extra_forbidden":
        message = "unknown key; check the spelling against the configuration reference"
    else:
        message = item["msg"].removeprefix("Value error, ")
    if loc in _leaf_paths():
        message += f" (env {env_name(loc)})"
    return f"{path}: {message}"


@functools.cache
def _leaf_paths() -> frozenset[tuple[str, ...]]:
    return frozenset(path for path, info in iter_fields() if _nested_section(info.annotation) is None)


def env_name(path: Sequence[str]) -> str:
    """The environment variable that sets a setting path, e.g. PMSYNC_JIRA__URL."""
    return ENV_PREFIX + ENV_DELIMITER.join(part.upper() for part in path)


# --- configuration reference -----------------------------------------------------------------------

SettingPath = tuple[str, ...]


def iter_fields(model: type[BaseModel] = Settings, prefix: SettingPath = ()) -> Iterator[tuple[SettingPath, FieldInfo]]:
    """Every setting as (path, field), depth first; nested tables are yielded before their keys."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        yield path, info
        nested = _nested_section(info.annotation)
        if nested is not None:
            yield from iter_fields(nested, path)


def _nested_section(annotation: Any) -> type[_Section] | None:
    return annotation if isinstance(annotation, type) and issubclass(annotation, _Section) else None


def settings_reference() -> str:
    """The configuration reference in Markdown, generated from the schema."""
    lines = [
        "# postmortem-sync configuration reference",
        "",
        f"Settings come from a TOML file (`--config`, `${CONFIG_PATH_ENV}`, or `{DEFAULT_CONFIG_PATH}`) and",
        f"`{ENV_PREFIX}*` environment variables, which win. Secrets can also be read from a file:",
        "add `_file` to the key (`api_token_file = \"/run/secrets/jira\"`) or `_FILE` to the variable.",
        "",
        "| Setting | Type | Default | Environment | Description |",
        "|---|---|---|---|---|",
    ]
    for path, info in iter_fields():
        if _nested_section(info.annotation) is not None:
            continue
        env = env_name(path)
        if SecretStr in (info.annotation, *typing.get_args(info.annotation)):
            env += f", {env}_FILE"
        row = (".".join(path), _type_name(info.annotation), _default_text(info), env, info.description or "")
        lines.append("| " + " | ".join(f"`{cell}`" if i in (0, 3) else cell for i, cell in enumerate(row)) + " |")
    return "\n".join(lines) + "\n"


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f'"{arg}"' for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in args if arg is not type(None)) + " (optional)"
    if origin is Annotated:
        return _type_name(args[0])
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    names = {SecretStr: "secret", Path: "path", str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def _default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default is PydanticUndefined else info.default  # type: ignore[call-arg,misc]
    if value is None:
        return "—"
    return f"`{json.dumps(list(value) if isinstance(value, tuple) else value, default=str)}`"
