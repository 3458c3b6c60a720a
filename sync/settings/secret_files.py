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
    """The secret in the referenced file, stripped; ValueError when it is doubled, unreadable or empty."""
    if reference.conflict:
        raise ValueError(f"set either {name} or {name}{SECRET_FILE_SUFFIX}, not both")
    try:
        secret = Path(reference.path).read_text(encoding="utf-8").strip()
    except (OSError, TypeError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise ValueError(f"cannot read {name}{SECRET_FILE_SUFFIX} {str(reference.path)!r}: {reason}") from None
    if not secret:
        raise ValueError(f"{name}{SECRET_FILE_SUFFIX} {str(reference.path)!r} is empty")
    return secret
