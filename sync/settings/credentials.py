"""Which credentials can work: Cloud basic auth (email + API token) or a Data Center personal access token."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

if TYPE_CHECKING:
    from sync.settings.confluence import ConfluenceSettings
    from sync.settings.jira import JiraSettings


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
    # With deployment auto the adapters still fall back to jira.pat, as they always did.
    if deployment == "datacenter" and jira.pat and not confluence.pat:
        raise ValueError(
            "pat is required on Data Center when jira.pat is set: personal access tokens are per product, so "
            "Confluence would refuse Jira's; set confluence.pat or confluence.pat_file "
            "(env PMSYNC_CONFLUENCE__PAT or PMSYNC_CONFLUENCE__PAT_FILE)"
        )


def confluence_deployment(jira: JiraSettings, confluence: ConfluenceSettings) -> str:
    """Confluence's configured deployment: its own, or Jira's when it is auto (may still be auto)."""
    return jira.deployment if confluence.deployment == "auto" else confluence.deployment
