"""Secrets read from files: `<secret>_file` in TOML, or `PMSYNC_<SECTION>__<SECRET>_FILE` in the environment."""

from __future__ import annotations

import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, SecretStr

SECRET_FILE_SUFFIX = "_file"


class SecretFile:
    """A `<secret>_file` reference seen before validation; read when its secret field is validated."""

    def __init__(self, path: Any, *, conflict: bool = False) -> None:
        self.path, self.conflict = path, conflict


def secret_fields(model: type[BaseModel]) -> Iterator[str]:
    """The names of a model's SecretStr settings (optional ones included)."""
    for name, info in model.model_fields.items():
        if SecretStr in (info.annotation, *typing.get_args(info.annotation)):
            yield name


def collect_secret_files(model: type[BaseModel], data: Any) -> Any:
    """The raw table with each `<secret>_file` key moved onto its secret as a SecretFile."""
    if not isinstance(data, dict):
        return data
    data = dict(data)
    for name in secret_fields(model):
        path = data.pop(name + SECRET_FILE_SUFFIX, None)
        if path is not None:
            data[name] = SecretFile(path, conflict=name in data)
    return data


def read_secret_file(reference: SecretFile, name: str) -> str:
    """The secret in the referenced file, stripped; ValueError when it is doubled, unreadable or empty.

    The errors name the setting but never repeat its value: a `*_file` setting sometimes holds the
    secret itself, pasted where its path belongs.
    """
    setting = name + SECRET_FILE_SUFFIX
    if reference.conflict:
        raise ValueError(f"set either {name} or {setting}, not both")
    try:
        secret = Path(reference.path).read_text(encoding="utf-8").strip()
    except (OSError, TypeError, ValueError) as exc:
        raise ValueError(
            f"cannot read {setting}: {_reason(exc)} (it must be the path of a readable file; "
            "its value is not shown, in case it is the secret itself)"
        ) from None
    if not secret:
        raise ValueError(f"{setting} names an empty file")
    return secret


def _reason(error: Exception) -> str:
    """Why a secret file could not be read, without its name (OSError.strerror never holds it)."""
    if isinstance(error, OSError):
        return error.strerror or type(error).__name__
    if isinstance(error, UnicodeDecodeError):
        return "not UTF-8 text"
    return "not a file path" if isinstance(error, TypeError) else "not a valid file path"
