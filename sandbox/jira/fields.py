"""Validation of the `fields` and `update` of a create or edit, with Jira's per-field error messages.

All problems of one request are collected and answered together, as Jira does:
``{"errorMessages": [], "errors": {"duedate": "Error parsing date string: 2026/01/01"}}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import date
from functools import partial
from typing import Any

from sandbox.directory import User, UserDirectory
from sandbox.http.errors import jira_error
from sandbox.jira.adf import RichText, is_adf_doc
from sandbox.jira.catalog import (
    COMPONENTS,
    EPIC,
    EPIC_LINK_FIELD,
    EPIC_NAME_FIELD,
    ISSUE_TYPES,
    OPS,
    PRIORITIES,
    Component,
    IssueType,
    Priority,
    Project,
    find_by_name_or_id,
)
from sandbox.jira.store import Edit, Issue, JiraStore

_DUE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
MAX_SUMMARY = 255
MAX_LABEL = 255


class FieldError(ValueError):
    """One field's problem; the message is Jira's text for it."""


@dataclass(frozen=True)
class FieldRules:
    """What differs between requests: deployment, REST version and the data to resolve references."""

    is_cloud: bool
    api_version: str
    store: JiraStore
    directory: UserDirectory
    off_screen: Callable[[str], Collection[str]] = lambda project_key: ()  # project key → fields its screens lack
    required: Callable[[str], Mapping[str, str]] = lambda project_key: {}  # project key → {required custom field: name}


def parse_edit(payload: Any, rules: FieldRules, existing: Issue | None = None) -> Edit:
    """`{"fields": …, "update": …}` → an Edit; raises Jira's 400 listing every bad field."""
    if not isinstance(payload, dict):
        raise jira_error(400, "Can not deserialize the request body: expected a JSON object.")
    fields, update = payload.get("fields") or {}, payload.get("update") or {}
    if not isinstance(fields, dict) or not isinstance(update, dict):
        raise jira_error(400, "'fields' and 'update' must be JSON objects.")
    edit, errors = Edit(), {}
    for name in fields.keys() & update.keys():
        errors[name] = f"Field '{name}' cannot appear in both 'fields' and 'update'"
    for name, raw in fields.items():
        _collect(errors, name, partial(_set_field, edit, name, raw, rules))
    for name, operations in update.items():
        _collect(errors, name, partial(_apply_operations, edit, name, operations, rules))
    if existing is None:
        _require_create_fields(edit, errors)
        _require_custom_fields(fields.keys(), edit.values.get("project"), rules, errors)
    _check_parent_hierarchy(edit, existing, rules, errors)
    _check_epic_name(edit, existing, rules, errors)
    _check_screen(fields.keys() | update.keys(), existing.project if existing else edit.values.get("project"),
                  rules, errors)
    if errors:
        raise jira_error(400, errors=errors)
    return edit


def parse_comment_body(raw: Any, rules: FieldRules) -> RichText:
    """A comment body in the request's API version (string on v2, ADF on v3)."""
    return _rich_text(raw, rules)


def _collect(errors: dict[str, str], name: str, action: Callable[[], None]) -> None:
    try:
        action()
    except FieldError as exc:
        errors.setdefault(name, str(exc))


def _set_field(edit: Edit, name: str, raw: Any, rules: FieldRules) -> None:
    if name == "labels":
        if not isinstance(raw, list):
            raise FieldError("data was not an array")
        edit.label_ops.append(("set", [_label(item) for item in raw]))
        return
    setter = _SETTERS.get(name)
    data_center_only = name in (EPIC_LINK_FIELD, EPIC_NAME_FIELD)
    if setter is None or (name == "parent" and not rules.is_cloud) or (data_center_only and rules.is_cloud):
        raise FieldError(not_on_screen(name))
    attribute, value = setter(raw, rules)
    edit.values[attribute] = value


def _apply_operations(edit: Edit, name: str, operations: Any, rules: FieldRules) -> None:
    if not isinstance(operations, list) or not all(isinstance(op, dict) and len(op) == 1 for op in operations):
        raise FieldError("Each update operation must be an object with a single verb.")
    for operation in operations:
        (verb, value), = operation.items()
        if name == "labels" and verb in ("add", "remove"):
            edit.label_ops.append((verb, _label(value)))
        elif name == "comment" and verb == "add":
            edit.comments.append(_rich_text((value or {}).get("body"), rules))
        elif verb == "set":
            _set_field(edit, name, value, rules)
        else:
            raise FieldError(f"Field '{name}' does not support the '{verb}' operation.")


def not_on_screen(name: str) -> str:
    """Jira's message for a field the create or edit screen lacks (or that does not exist)."""
    return f"Field '{name}' cannot be set. It is not on the appropriate screen, or unknown."


def _check_screen(names: Collection[str], project: Project | None, rules: FieldRules, errors: dict[str, str]) -> None:
    """A field off the project's screen is refused whatever its value, so its message replaces any other."""
    if project is None:
        return
    for name in set(names) & set(rules.off_screen(project.key)):
        errors[name] = not_on_screen(name)


def _require_create_fields(edit: Edit, errors: dict[str, str]) -> None:
    if "project" not in edit.values:
        errors.setdefault("project", "Specify a valid project ID or key")
    if "issuetype" not in edit.values:
        errors.setdefault("issuetype", "Specify an issue type")
    if "summary" not in edit.values:
        errors.setdefault("summary", "You must specify a summary of the issue.")


def _require_custom_fields(names: Collection[str], project: Project | None, rules: FieldRules,
                           errors: dict[str, str]) -> None:
    """A required custom field an admin put on the create screen (`Sandbox.require_field`) must be given."""
    for field_id, name in rules.required(project.key if project else "").items():
        if field_id not in names:
            errors.setdefault(field_id, f"{name} is required.")


def _check_parent_hierarchy(edit: Edit, existing: Issue | None, rules: FieldRules, errors: dict[str, str]) -> None:
    parent_key = edit.values.get("parent_key")
    if parent_key is None:
        return
    child_type = edit.values.get("issuetype") or (existing.issuetype if existing else None)
    field = "parent" if rules.is_cloud else EPIC_LINK_FIELD
    if child_type == EPIC or (existing is not None and existing.key == parent_key):
        errors.setdefault(field, "Given parent work item does not belong to appropriate hierarchy.")


def _check_epic_name(edit: Edit, existing: Issue | None, rules: FieldRules, errors: dict[str, str]) -> None:
    """Data Center: an Epic needs its Epic Name; the field is on no other issue type's screens."""
    if rules.is_cloud:
        return
    issuetype = edit.values.get("issuetype") or (existing.issuetype if existing else None)
    if issuetype != EPIC and "epic_name" in edit.values:
        errors[EPIC_NAME_FIELD] = not_on_screen(EPIC_NAME_FIELD)
    elif issuetype == EPIC and not edit.values.get("epic_name", existing.epic_name if existing else None):
        errors.setdefault(EPIC_NAME_FIELD, "Epic Name is required.")


def _project(raw: Any, rules: FieldRules) -> tuple[str, Project]:
    ref = raw if isinstance(raw, dict) else {}
    if str(ref.get("key", "")).upper() == OPS.key or str(ref.get("id", "")) == OPS.id:
        return "project", OPS
    raise FieldError("valid project is required")


def _issuetype(raw: Any, rules: FieldRules) -> tuple[str, IssueType]:
    found = find_by_name_or_id(ISSUE_TYPES, raw)
    if found is None:
        raise FieldError("The issue type selected is invalid.")
    return "issuetype", found


def _summary(raw: Any, rules: FieldRules) -> tuple[str, str]:
    if not isinstance(raw, str) or not raw.strip():
        raise FieldError("You must specify a summary of the issue.")
    if "\n" in raw or "\r" in raw:
        raise FieldError("The summary is invalid because it contains newline characters.")
    if len(raw) > MAX_SUMMARY:
        raise FieldError("Summary must be less than 255 characters.")
    return "summary", raw


def _description(raw: Any, rules: FieldRules) -> tuple[str, RichText | None]:
    return "description", None if raw is None else _rich_text(raw, rules)


def _rich_text(raw: Any, rules: FieldRules) -> RichText:
    if rules.api_version == "3":
        if not is_adf_doc(raw):
            raise FieldError("Operation value must be an Atlassian Document")
        return RichText(adf=raw)
    if not isinstance(raw, str):
        raise FieldError("Operation value must be a string")
    return RichText(wiki=raw)


def _duedate(raw: Any, rules: FieldRules) -> tuple[str, date | None]:
    if raw is None:
        return "duedate", None
    if isinstance(raw, str) and _DUE.match(raw):
        try:
            return "duedate", date.fromisoformat(raw)
        except ValueError:
            pass
    raise FieldError(f"Error parsing date string: {raw}")


def _priority(raw: Any, rules: FieldRules) -> tuple[str, Priority]:
    found = find_by_name_or_id(PRIORITIES, raw)
    if found is None:
        raise FieldError("The priority selected is invalid.")
    return "priority", found


def _components(raw: Any, rules: FieldRules) -> tuple[str, list[Component]]:
    if not isinstance(raw, list):
        raise FieldError("data was not an array")
    chosen = []
    for ref in raw:
        found = find_by_name_or_id(COMPONENTS, ref)
        if found is None:
            label = ref.get("name", ref.get("id")) if isinstance(ref, dict) else ref
            raise FieldError(f"Component name '{label}' is not valid")
        chosen.append(found)
    return "components", chosen


def _assignee(raw: Any, rules: FieldRules) -> tuple[str, User | None]:
    return "assignee", _user(raw, rules, allow_none=True)


def _reporter(raw: Any, rules: FieldRules) -> tuple[str, User | None]:
    return "reporter", _user(raw, rules, allow_none=False)


def _user(raw: Any, rules: FieldRules, allow_none: bool) -> User | None:
    """Cloud names people by accountId only; Data Center by username (`name`). Null unassigns."""
    id_key = "accountId" if rules.is_cloud else "name"
    if raw is None or (isinstance(raw, dict) and id_key in raw and raw[id_key] is None):
        if allow_none:
            return None
        raise FieldError("Reporter is required.")
    if not isinstance(raw, dict) or id_key not in raw:
        article = "an" if rules.is_cloud else "a"
        raise FieldError(f"expected Object containing {article} '{id_key}' property")
    identifier = str(raw[id_key])
    if rules.is_cloud:
        user, missing = rules.directory.by_account_id(identifier), f"Account ID {identifier} does not exist."
    else:
        user, missing = rules.directory.by_username(identifier), f"User '{identifier}' does not exist."
    if user is None:
        raise FieldError(missing)
    if not user.active:
        raise FieldError(f"User '{user.display_name if rules.is_cloud else user.username}' cannot be assigned issues.")
    return user


def _parent(raw: Any, rules: FieldRules) -> tuple[str, str | None]:
    if raw is None:
        return "parent_key", None
    ref = raw if isinstance(raw, dict) else {"key": raw}
    key_or_id = str(ref.get("key") or ref.get("id") or "")
    return "parent_key", _epic_key(key_or_id, rules)


def _epic_link(raw: Any, rules: FieldRules) -> tuple[str, str | None]:
    return "parent_key", None if raw in (None, "") else _epic_key(str(raw), rules)


def _epic_key(key_or_id: str, rules: FieldRules) -> str:
    parent = next((i for i in rules.store.issues.values() if key_or_id.upper() in (i.key, i.id)), None)
    if parent is None:
        raise FieldError(f"Could not find issue by id or key: {key_or_id}")
    if parent.issuetype != EPIC:
        raise FieldError("Given parent work item does not belong to appropriate hierarchy.")
    return parent.key


def _epic_name(raw: Any, rules: FieldRules) -> tuple[str, str | None]:
    if raw is not None and not isinstance(raw, str):
        raise FieldError("Operation value must be a string")
    return "epic_name", (raw or "").strip() or None


def _label(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise FieldError("Label cannot be empty.")
    if any(ch.isspace() for ch in value):
        raise FieldError(f"The label '{value}' contains spaces which is invalid.")
    if len(value) > MAX_LABEL:
        raise FieldError(f"The label '{value[:20]}…' is longer than {MAX_LABEL} characters.")
    return value


_SETTERS: dict[str, Callable[[Any, FieldRules], tuple[str, Any]]] = {
    "project": _project,
    "issuetype": _issuetype,
    "summary": _summary,
    "description": _description,
    "duedate": _duedate,
    "priority": _priority,
    "components": _components,
    "assignee": _assignee,
    "reporter": _reporter,
    "parent": _parent,
    EPIC_LINK_FIELD: _epic_link,
    EPIC_NAME_FIELD: _epic_name,
}
