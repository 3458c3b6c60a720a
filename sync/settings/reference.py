"""The configuration reference (docs/configuration.md), generated from the schema."""

from __future__ import annotations

import json
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from sync.settings.loading import CONFIG_PATH_ENV, DEFAULT_CONFIG_PATH
from sync.settings.paths import env_name, iter_fields
from sync.settings.schema import ENV_PREFIX
from sync.settings.section import nested_section


def settings_reference() -> str:
    """The configuration reference in Markdown, generated from the schema."""
    lines = [
        "# postmortem-sync configuration reference",
        "",
        f"Settings come from a TOML file (`--config`, `${CONFIG_PATH_ENV}`, or `{DEFAULT_CONFIG_PATH}`) and",
        f"`{ENV_PREFIX}*` environment variables, which win. Secrets can also be read from a file:",
        "add `_file` to the key (`api_token_file = \"/run/secrets/jira\"`) or `_FILE` to the variable.",
        "A secret in the environment, as a value or a file, replaces the TOML file's, given either way;",
        "a secret and its file in the same place are an error.",
        "",
        "Generated from the settings model: `python -m sync.settings > docs/configuration.md`.",
        "",
        "| Setting | Type | Default | Environment | Description |",
        "|---|---|---|---|---|",
    ]
    for path, info in iter_fields():
        if nested_section(info.annotation) is not None:
            continue
        env = env_name(path)
        if SecretStr in (info.annotation, *typing.get_args(info.annotation)):
            env += f", {env}_FILE"
        row = (".".join(path), _type_name(info.annotation), _default_text(info), env, info.description or "")
        lines.append("| " + " | ".join(f"`{cell}`" if i in (0, 3) else cell for i, cell in enumerate(row)) + " |")
    return "\n".join(lines) + "\n"


def _type_name(annotation: Any) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is Literal:
        return " \\| ".join(f'"{arg}"' for arg in args)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(arg) for arg in args if arg is not type(None)) + " (optional)"
    if origin is Annotated:
        return _type_name(args[0])
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"table of {_type_name(args[1])}"
    names = {SecretStr: "secret", Path: "path", str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in names:
        return names[annotation]
    return getattr(annotation, "__name__", str(annotation))


def _default_text(info: FieldInfo) -> str:
    if info.is_required():
        return "required"
    value = info.default_factory() if info.default is PydanticUndefined else info.default  # type: ignore[call-arg,misc]
    if value is None:
        return "—"
    return f"`{json.dumps(list(value) if isinstance(value, tuple) else value, default=str)}`"
