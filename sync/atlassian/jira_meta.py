"""Jira's field metadata (pure): which workflow transition to take and the fields it needs, what a screen
requires that we do not fill, and Data Center's Epic Name field.

A transition read with `expand=transitions.fields` carries its screen as Jira's FieldMetadata, keyed by
field id: `{"resolution": {"required": true, "schema": {"system": "resolution"}, "allowedValues": [...]}}`.
Jira may under-report a transition's fields (seen on Data Center 9.12), so a 400 saying the resolution
is required is also taken as the screen asking for one (`asks_for_resolution`).
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from sync.ports import AtlassianError

# Jira Software's Epic Name: a custom field whose id differs per site and whose name may be translated.
EPIC_NAME_SCHEMA = "com.pyxis.greenhopper.jira:gh-epic-label"
_RESOLUTION_REQUIRED = re.compile(r"resolution[^\n]*\brequired\b", re.IGNORECASE)

Transition = Mapping[str, Any]


def field_id(meta: Mapping[str, Any]) -> str:
    """A field's id in createmeta (`fieldId`), editmeta or a transition screen (`key`), or `GET /field` (`id`)."""
    return str(meta.get("fieldId") or meta.get("key") or meta.get("id") or "")


def epic_name_field(fields: Iterable[Mapping[str, Any]]) -> str | None:
    """The id of the Epic Name field among field metadata, found by its schema; None when there is none."""
    return next((field_id(f) for f in fields if (f.get("schema") or {}).get("custom") == EPIC_NAME_SCHEMA), None)


def required_unfilled(screen: Iterable[Mapping[str, Any]], filled: Collection[str]) -> list[Mapping[str, Any]]:
    """The screen's required fields without a default value that are not among `filled` (field ids)."""
    return [meta for meta in screen
            if meta.get("required") and not meta.get("hasDefaultValue") and field_id(meta) not in filled]


def transition_screen(transition: Transition) -> list[Mapping[str, Any]]:
    """The fields of a transition's screen, each with its id as `key`."""
    return [{**meta, "key": field_id(meta) or name} for name, meta in (transition.get("fields") or {}).items()]


def done_transition(options: Iterable[Transition]) -> Transition | None:
    """The first transition into a done-category status."""
    return next((t for t in options if ((t.get("to") or {}).get("statusCategory") or {}).get("key") == "done"), None)


def named_transition(options: Iterable[Transition], name: str) -> Transition | None:
    """The transition with this name, else the one into a status with this name (case-insensitive)."""
    wanted, options = name.casefold(), list(options)
    return next((t for t in options if str(t.get("name", "")).casefold() == wanted), None) or next(
        (t for t in options if str((t.get("to") or {}).get("name", "")).casefold() == wanted), None)


def needs_resolution(transition: Transition) -> bool:
    """Whether the transition's screen requires a resolution."""
    return any(field_id(meta) == "resolution" and meta.get("required") and not meta.get("hasDefaultValue")
               for meta in transition_screen(transition))


def transition_body(transition: Transition, resolution: str, *, with_resolution: bool = False) -> dict[str, Any]:
    """The POST body of a transition: the resolution filled in when its screen requires one (or when asked)."""
    body: dict[str, Any] = {"transition": {"id": str(transition["id"])}}
    if with_resolution or needs_resolution(transition):
        body["fields"] = {"resolution": {"name": resolution}}
    return body


def unfillable(transition: Transition, resolution: str) -> list[str]:
    """Names of the required fields of a transition's screen that we cannot fill: anything but a resolution,
    and a resolution whose allowed values do not include the configured one."""
    missing = []
    for meta in required_unfilled(transition_screen(transition), ()):
        if field_id(meta) == "resolution" and _allows(meta, resolution):
            continue
        name = str(meta.get("name") or field_id(meta))
        missing.append(f"{name} (no resolution named {resolution!r})" if field_id(meta) == "resolution" else name)
    return missing


def _allows(meta: Mapping[str, Any], value: str) -> bool:
    allowed = meta.get("allowedValues")
    return not allowed or any(str(v.get("name", "")).casefold() == value.casefold() for v in allowed)


def asks_for_resolution(error: AtlassianError) -> bool:
    """Whether Jira refused a transition for want of a resolution (in `errorMessages` or `errors`)."""
    return error.status == 400 and _RESOLUTION_REQUIRED.search(error.message) is not None
