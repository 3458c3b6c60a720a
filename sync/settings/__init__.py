"""Configuration: a frozen, validated schema read from a TOML file plus PMSYNC_* environment overrides.

Precedence, highest first: `PMSYNC_*` environment variables (nested with `__`, e.g.
`PMSYNC_JIRA__URL`), then the TOML file, then the defaults. Any secret can also be read from
a file: `api_token_file = "/run/secrets/jira"` in TOML or `PMSYNC_JIRA__API_TOKEN_FILE=...`; a secret
in the environment, either way, replaces the file's, given either way.

The package: `section` (what every table shares), `secret_files`, `credentials`, one module per
table (`jira`, `confluence`, `daemon`, `quality`), `schema` (the root `Settings`), `sources` (which source wins),
`paths` (setting paths and their variables), `loading` (file + environment -> Settings or ConfigError)
and `reference` (docs/configuration.md; regenerate with `python -m sync.settings > docs/configuration.md`).
"""

from __future__ import annotations

from sync.settings.confluence import ConfluenceSettings, SummaryPageSettings
from sync.settings.credentials import check_credentials
from sync.settings.daemon import DaemonSettings, LogFormat, LogLevel, RetrySettings, SyncSettings
from sync.settings.jira import EpicSettings, JiraSettings, SprintSettings
from sync.settings.loading import (
    CONFIG_PATH_ENV,
    DEFAULT_CONFIG_PATH,
    ConfigError,
    config_path,
    describe_errors,
    load_settings,
    read_toml,
)
from sync.settings.paths import SettingPath, env_name, iter_fields
from sync.settings.quality import QualitySettings
from sync.settings.reference import settings_reference
from sync.settings.reminders import RemindersSettings
from sync.settings.schema import ENV_DELIMITER, ENV_PREFIX, Settings
from sync.settings.secret_files import SECRET_FILE_SUFFIX
from sync.settings.section import Deployment, Section, nested_section
from sync.settings.summaries import ScopedSummaryPage, ThemeSettings

__all__ = [
    "CONFIG_PATH_ENV",
    "DEFAULT_CONFIG_PATH",
    "ENV_DELIMITER",
    "ENV_PREFIX",
    "SECRET_FILE_SUFFIX",
    "ConfigError",
    "ConfluenceSettings",
    "DaemonSettings",
    "Deployment",
    "EpicSettings",
    "JiraSettings",
    "LogFormat",
    "LogLevel",
    "QualitySettings",
    "RemindersSettings",
    "RetrySettings",
    "ScopedSummaryPage",
    "Section",
    "SettingPath",
    "Settings",
    "SprintSettings",
    "SummaryPageSettings",
    "SyncSettings",
    "ThemeSettings",
    "check_credentials",
    "config_path",
    "describe_errors",
    "env_name",
    "iter_fields",
    "load_settings",
    "nested_section",
    "read_toml",
    "settings_reference",
]
