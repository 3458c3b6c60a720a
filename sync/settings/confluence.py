"""The [confluence] table: where postmortem pages are found, and the summary page."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator

from sync.settings.section import BaseUrl, Deployment, Label, PageId, Section, check_api_url, gateway_product

_QUOTED = re.compile(r""""(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'""", re.DOTALL)
_ORDER_BY = re.compile(r"\border\s+by\b", re.IGNORECASE)


def has_order_by(cql: str) -> bool:
    """Whether CQL has an ORDER BY clause (outside its quoted strings)."""
    return _ORDER_BY.search(_QUOTED.sub('""', cql)) is not None


class SummaryPageSettings(Section):
    """The Confluence page that reports completion rates."""

    enabled: bool = Field(True, description="Write the summary page.")
    space: str | None = Field(None, description="Space key of the summary page; default: first of confluence.spaces.")
    title: str = Field("Postmortem action items", min_length=1, description="Title of the summary page.")
    parent_id: PageId | None = Field(None, description="Page id the summary page is created under.")


class ConfluenceSettings(Section):
    """Where postmortem pages are found and written back."""

    deployment: Deployment = Field("auto", description="cloud, datacenter, or auto (follow Jira's).")
    url: BaseUrl = Field(
        description="Confluence base URL: https://acme.atlassian.net/wiki on Cloud, the base URL on Data Center."
    )
    api_url: BaseUrl | None = Field(
        None,
        description="Where REST calls go, when not to url: for a scoped API token, Atlassian's API gateway "
                    "https://api.atlassian.com/ex/confluence/{cloudId} (/wiki is added). Links on the summary page "
                    "and in Jira keep using url.",
    )
    email: str | None = Field(None, description="Cloud basic-auth email; default: jira.email.")
    api_token: SecretStr | None = Field(None, description="Cloud API token; default: jira.api_token.")
    pat: SecretStr | None = Field(
        None,
        description="Data Center personal access token for Confluence (they are per product, so jira.pat is never "
                    "sent to Confluence): required when jira.pat is set and the deployment is datacenter; with auto, "
                    "required once Data Center is detected.",
    )
    spaces: tuple[str, ...] = Field((), description="Space keys searched for postmortems; empty: all spaces.")
    labels: tuple[Label, ...] = Field(("postmortem",), description="Page labels that mark a postmortem (any of).")
    parent_pages: tuple[PageId, ...] = Field((), description="Only pages below these page ids (any of).")
    cql: str | None = Field(
        None,
        description="Raw CQL selecting postmortem pages; replaces spaces/labels/parent_pages. Without ORDER BY: "
                    "the daemon orders pages itself (by lastmodified), so a query with one is rejected at start-up.",
    )
    jira_server: str | None = Field(
        None, min_length=1,
        description="Name of the Jira application link (the Jira macro's `server`, e.g. \"System JIRA\") written "
                    "into the Jira macros we add, for sites with several Jira links: without it Confluence renders a "
                    "macro against its primary link. Default: what the page's macros for our projects name, else none.",
    )
    jira_server_id: str | None = Field(
        None, min_length=1,
        description="Id of that application link (the Jira macro's `serverId`, a UUID); default as for jira_server.",
    )
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

    @field_validator("api_url")
    @classmethod
    def _api_url_fits(cls, api_url: str | None, info: ValidationInfo) -> str | None:
        if api_url is None:
            return None
        check_api_url(api_url, "confluence", info.data.get("deployment"))
        if gateway_product(api_url) and not urlsplit(api_url).path.endswith("/wiki"):
            return api_url + "/wiki"  # Atlassian documents the gateway base without it; our paths are below /wiki
        return cls._cloud_url_has_wiki(api_url, info)

    @field_validator("cql")
    @classmethod
    def _cql_without_order_by(cls, cql: str | None) -> str | None:
        if cql is not None and has_order_by(cql):
            raise ValueError(
                "must not contain ORDER BY: the daemon orders pages itself (order by lastmodified, which its "
                "incremental sync relies on) and appends that to this query; remove the ORDER BY clause"
            )
        return cql

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
