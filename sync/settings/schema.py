"""The root of the configuration schema: its tables, the rules across them, and which source wins."""

from __future__ import annotations

import base64

from pydantic import Field, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from sync.settings.confluence import ConfluenceSettings
from sync.settings.credentials import check_credentials
from sync.settings.daemon import DaemonSettings, RetrySettings, SyncSettings
from sync.settings.jira import JiraSettings
from sync.settings.quality import QualitySettings
from sync.settings.reminders import RemindersSettings
from sync.settings.sources import FileSource
from sync.settings.summaries import ScopedSummaryPage, ThemeSettings
from sync.templates import TemplateSpec

ENV_PREFIX = "PMSYNC_"
ENV_DELIMITER = "__"


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
    reminders: RemindersSettings = Field(
        default_factory=RemindersSettings, description="Comments on overdue issues (follow-up reminders)."
    )
    templates: tuple[TemplateSpec, ...] = Field(
        (), description="Custom postmortem templates ([[templates]] tables), tried before the built-ins."
    )
    daemon: DaemonSettings = Field(default_factory=DaemonSettings, description="Metrics endpoint and logging.")
    themes: ThemeSettings = Field(default_factory=ThemeSettings, description="Themes of postmortems and recurrence.")
    summary_pages: tuple[ScopedSummaryPage, ...] = Field(
        (), description="More summary pages ([[summary_pages]] tables), each for a scope of postmortems (a team's)."
    )
    quality: QualitySettings = Field(default_factory=QualitySettings, description="Postmortem quality findings.")

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The TOML file arrives as init kwargs; the environment overrides it, a secret's file included.
        return env_settings, FileSource(settings_cls, init_settings)

    @field_validator("confluence")
    @classmethod
    def _confluence_credentials_work(cls, confluence: ConfluenceSettings, info: ValidationInfo) -> ConfluenceSettings:
        jira = info.data.get("jira")
        if jira is not None:  # else Jira's problems are reported, and these wait for them
            check_confluence_credentials(jira, confluence)
        return confluence

    @field_validator("templates")
    @classmethod
    def _template_names_unique(cls, templates: tuple[TemplateSpec, ...]) -> tuple[TemplateSpec, ...]:
        names = [template.name for template in templates]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise ValueError(f"duplicate template names {duplicates}")
        return templates

    @field_validator("summary_pages")
    @classmethod
    def _summary_page_titles_unique(cls, pages: tuple[ScopedSummaryPage, ...]) -> tuple[ScopedSummaryPage, ...]:
        keys = [(page.space, page.title) for page in pages]
        duplicates = sorted({title for space, title in keys if keys.count((space, title)) > 1})
        if duplicates:
            raise ValueError(f"duplicate summary page titles {duplicates}")
        return pages

    def secret_values(self) -> tuple[str, ...]:
        """Every configured secret as it could appear on the wire, for redaction (never log this)."""
        jira, confluence = self.jira, self.confluence
        secrets = [secret for secret in (jira.api_token, jira.pat, confluence.api_token, confluence.pat) if secret]
        values = [secret.get_secret_value() for secret in secrets]
        # Basic auth as the adapters send it: Confluence pairs whatever it lacks with Jira's.
        for email, token in ((jira.email, jira.api_token),
                             (confluence.email or jira.email, confluence.api_token or jira.api_token)):
            if email and token:
                pair = f"{email}:{token.get_secret_value()}"
                values.append(base64.b64encode(pair.encode()).decode())
        return tuple(dict.fromkeys(value for value in values if value))


def check_confluence_credentials(jira: JiraSettings, confluence: ConfluenceSettings) -> None:
    """Raise ValueError when Confluence's credentials, after falling back to Jira's, cannot work."""
    deployment = confluence_deployment(jira, confluence)
    # The adapters pair each Confluence credential that is not set with Jira's, so check the pairs they use.
    effective = {
        "deployment": deployment,
        "email": confluence.email or jira.email,
        "api_token": confluence.api_token or jira.api_token,
    }
    check_credentials(effective, confluence.pat or jira.pat, required=False)
    # With deployment auto this can only be known once Data Center is detected: the adapters then refuse
    # to connect without confluence.pat (they never send Jira's token to Confluence).
    if deployment == "datacenter" and jira.pat and not confluence.pat:
        raise ValueError(
            "pat is required on Data Center when jira.pat is set: personal access tokens are per product, so "
            "Confluence would refuse Jira's; set confluence.pat or confluence.pat_file "
            "(env PMSYNC_CONFLUENCE__PAT or PMSYNC_CONFLUENCE__PAT_FILE)"
        )


def confluence_deployment(jira: JiraSettings, confluence: ConfluenceSettings) -> str:
    """Confluence's configured deployment: its own, or Jira's when it is auto (may still be auto)."""
    return jira.deployment if confluence.deployment == "auto" else confluence.deployment
