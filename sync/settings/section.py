"""What every configuration table shares, and the field types more than one table uses."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from sync.settings.secret_files import SecretFile, collect_secret_files, read_secret_file

Deployment = Literal["auto", "cloud", "datacenter"]


def base_url(value: str) -> str:
    """An http(s) base URL without credentials, query or trailing slash."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http(s) URL such as https://acme.atlassian.net")
    if parts.username or parts.password:
        raise ValueError("must not contain credentials; use email/api_token or pat instead")
    if parts.query or parts.fragment:
        raise ValueError("must not contain a query or fragment")
    return value.strip().rstrip("/")


# Atlassian's API gateway form: https://api.atlassian.com/ex/{product}/{cloudId} (Confluence's with /wiki here).
_GATEWAY_PATH = re.compile(r"^/ex/(?P<product>jira|confluence)/[^/]+(?:/wiki)?$")


def gateway_product(url: str | None) -> str | None:
    """"jira" or "confluence" when url is the API gateway form of that product, else None."""
    found = _GATEWAY_PATH.match(urlsplit(url or "").path)
    return found["product"] if found else None


def check_api_url(url: str | None, product: str, deployment: Any) -> str | None:
    """An api_url as given; ValueError when it is another product's gateway URL or a gateway for Data Center."""
    other = gateway_product(url)
    if other is not None and other != product:
        raise ValueError(f"this is {other.title()}'s gateway URL; {product.title()}'s is "
                         f"https://api.atlassian.com/ex/{product}/{{cloudId}}")
    if other is not None and deployment == "datacenter":
        raise ValueError("the API gateway serves Cloud sites only; with deployment datacenter leave it unset")
    return url


def upper(value: Any) -> Any:
    """Text in upper case; anything else unchanged, for the type check to report."""
    return value.upper() if isinstance(value, str) else value


def as_text(value: Any) -> Any:
    """An integer as text (TOML users write page ids as numbers); anything else unchanged."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


BaseUrl = Annotated[str, BeforeValidator(lambda v: base_url(v) if isinstance(v, str) else v)]
PageId = Annotated[str, BeforeValidator(as_text), Field(pattern=r"^\d+$")]
Label = Annotated[str, Field(pattern=r"^[^\s]+$")]


class Section(BaseModel):
    """Shared behaviour of every configuration table: frozen, unknown keys rejected, secret files read."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _collect_secret_files(cls, data: Any) -> Any:
        return collect_secret_files(cls, data)

    @field_validator("*", mode="before")
    @classmethod
    def _read_secret_file(cls, value: Any, info: ValidationInfo) -> Any:
        if isinstance(value, SecretFile):
            assert info.field_name is not None  # a field validator ("*") is always called for a named field
            return read_secret_file(value, info.field_name)
        return value


def nested_section(annotation: Any) -> type[Section] | None:
    """The table class a field holds, or None for a plain setting."""
    return annotation if isinstance(annotation, type) and issubclass(annotation, Section) else None
