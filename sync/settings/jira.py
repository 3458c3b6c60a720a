"""The [jira] table: where and how action-item issues are created."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr, ValidationInfo, field_validator

from sync.settings.credentials import check_credentials
from sync.settings.section import BaseUrl, Deployment, Label, Section, check_api_url, upper

ProjectKey = Annotated[str, BeforeValidator(upper), Field(pattern=r"^[A-Z][A-Z0-9_]+$")]


class EpicSettings(Section):
    """Grouping of a postmortem's issues under one epic."""

    enabled: bool = Field(False, description="Create one epic per postmortem and put its issues under it.")
    issue_type: str = Field("Epic", description="Issue type name used for those epics.")


class SprintSettings(Section):
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


class JiraSettings(Section):
    """Where and how Jira issues are created."""

    url: BaseUrl = Field(description="Jira base URL as users know it, e.g. https://acme.atlassian.net.")
    deployment: Deployment = Field(
        "auto", description="cloud, datacenter, or auto (detected from serverInfo deploymentType; remembered in "
                            "the state per URL, asked again when the URL changes or Jira refuses the credentials)."
    )
    api_url: BaseUrl | None = Field(
        None,
        description="Where REST calls go, when not to url: for a scoped API token, Atlassian's API gateway "
                    "https://api.atlassian.com/ex/jira/{cloudId} (cloudId: https://<site>.atlassian.net/_edge/"
                    "tenant_info). Links people click keep using url.",
    )
    email: str | None = Field(None, description="Cloud: account email for basic auth (with api_token).")
    api_token: SecretStr | None = Field(None, description="Cloud: API token for basic auth (with email).")
    pat: SecretStr | None = Field(
        None, validate_default=True, description="Data Center: personal access token (Bearer)."
    )
    project: str = Field(pattern=r"^[A-Z][A-Z0-9_]+$", description="Key of the project issues are created in.")
    managed_projects: tuple[ProjectKey, ...] = Field(
        (), description="Keys of the projects whose issues pages may name and the daemon may adopt and write to; "
        "jira.project is always one of them. Default: [jira.project]. An issue elsewhere is shown, never written to."
    )
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
    done_resolution: str = Field(
        "Done", min_length=1, description="Resolution set when the done transition's screen requires one (workflows "
        "that put a screen with a required Resolution on their Done transition)."
    )
    removed_transition: str | None = Field(
        None, description="Transition applied when an item is removed from its page; default: none."
    )
    removed_resolution: str | None = Field(
        None, description="Resolution set when the removed transition's screen requires one; default: "
                          "jira.done_resolution."
    )
    verify_ssl: bool = Field(True, description="Verify TLS certificates of Jira and Confluence.")

    @field_validator("project", mode="before")
    @classmethod
    def _project_upper(cls, value: Any) -> Any:
        return upper(value)

    @property
    def managed(self) -> tuple[str, ...]:
        """The projects whose issues may be adopted and written to: jira.project and managed_projects."""
        return tuple(dict.fromkeys((self.project, *self.managed_projects)))

    @field_validator("api_url")
    @classmethod
    def _api_url_fits(cls, api_url: str | None, info: ValidationInfo) -> str | None:
        return check_api_url(api_url, "jira", info.data.get("deployment"))

    @field_validator("pat")
    @classmethod
    def _credentials_match_deployment(cls, pat: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        check_credentials(info.data, pat, required=True)
        return pat
