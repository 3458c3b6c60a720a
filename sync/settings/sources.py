"""Where settings come from and which wins: the environment over the TOML file, a secret's file included."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource

from sync.settings.secret_files import SECRET_FILE_SUFFIX, secret_fields
from sync.settings.section import nested_section


class FileSource(PydanticBaseSettingsSource):
    """The TOML file's settings (given as init kwargs), less every secret a higher source sets either way."""

    def __init__(self, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource) -> None:
        super().__init__(settings_cls)
        self._init_settings = init_settings

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # required by the base class; __call__ returns every value at once

    def __call__(self) -> dict[str, Any]:
        # current_state holds what the sources listed before this one set: the environment.
        return without_overridden_secrets(self._init_settings(), self.current_state, self.settings_cls)


def without_overridden_secrets(lower: dict[str, Any], higher: dict[str, Any], model: type[BaseModel]) -> dict[str, Any]:
    """`lower` less each secret that `higher` sets, as a value or as a file, table by table.

    Merged key by key, `api_token` from one source and `api_token_file` from the other would look like
    one source setting both; dropping the lower source's pair lets the higher one win instead.
    """
    kept = dict(lower)
    for name in secret_fields(model):
        if name in higher or name + SECRET_FILE_SUFFIX in higher:
            kept.pop(name, None)
            kept.pop(name + SECRET_FILE_SUFFIX, None)
    for name, info in model.model_fields.items():
        section = nested_section(info.annotation)
        if section is not None and isinstance(kept.get(name), dict) and isinstance(higher.get(name), dict):
            kept[name] = without_overridden_secrets(kept[name], higher[name], section)
    return kept
