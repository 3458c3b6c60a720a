"""Setting paths: every setting of the schema by its dotted path, and the variable that sets it."""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

from pydantic import BaseModel
from pydantic.fields import FieldInfo

from sync.settings.schema import ENV_DELIMITER, ENV_PREFIX, Settings
from sync.settings.section import nested_section

SettingPath = tuple[str, ...]


def iter_fields(model: type[BaseModel] = Settings, prefix: SettingPath = ()) -> Iterator[tuple[SettingPath, FieldInfo]]:
    """Every setting as (path, field), depth first; nested tables are yielded before their keys."""
    for name, info in model.model_fields.items():
        path = (*prefix, name)
        yield path, info
        nested = nested_section(info.annotation)
        if nested is not None:
            yield from iter_fields(nested, path)


@functools.cache
def leaf_paths() -> frozenset[SettingPath]:
    """The paths of every setting that is not itself a table."""
    return frozenset(path for path, info in iter_fields() if nested_section(info.annotation) is None)


def env_name(path: Sequence[str]) -> str:
    """The environment variable that sets a setting path, e.g. PMSYNC_JIRA__URL."""
    return ENV_PREFIX + ENV_DELIMITER.join(part.upper() for part in path)
