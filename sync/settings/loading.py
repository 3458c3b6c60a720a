"""Loading: find the file, read its TOML, validate it with the environment, report every problem at once."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from sync.settings.paths import env_name, leaf_paths
from sync.settings.schema import ENV_PREFIX, Settings

DEFAULT_CONFIG_PATH = Path("config/postmortem-sync.toml")
CONFIG_PATH_ENV = "PMSYNC_CONFIG"


class ConfigError(Exception):
    """The configuration cannot be used; `problems` holds every reason, each naming a setting."""

    def __init__(self, problems: Sequence[str], source: Path | None = None) -> None:
        self.problems = tuple(problems)
        self.source = source
        where = f" in {source}" if source else ""
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"invalid configuration{where} ({len(self.problems)} problem(s)):\n{lines}")


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
    if loc in leaf_paths():
        message += f" (env {env_name(loc)})"
    return f"{path}: {message}"

