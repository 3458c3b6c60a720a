"""Which credentials can work: Cloud basic auth (email + API token) or a Data Center personal access token."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr


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
