"""Bugs in Atlassian's official specs, patched in memory before validation, each with its reason.

The trimmed files in specs/ stay a faithful subset of the official ones (trim_specs.py); these
functions are the only place where we disagree with the spec. Each is as small as it can be and is a
no-op when the part it fixes is not in the trimmed file.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

JIRA_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$"


def object_params_as_strings(raw: dict[str, Any]) -> None:
    """Agile: board routes declare the `state` and `type` query parameters as objects.

    Jira (and the spec's own prose) takes `state=active` / `type=scrum`, which an object schema rejects.
    """
    for path in ("/rest/agile/1.0/board/{boardId}/sprint", "/rest/agile/1.0/board"):
        for parameter in raw["paths"].get(path, {}).get("get", {}).get("parameters", []):
            if parameter.get("name") in ("state", "type") and parameter.get("schema", {}).get("type") == "object":
                parameter["schema"] = {"type": "string"}


def remote_links_list(raw: dict[str, Any]) -> None:
    """Jira v2 (primelib copy): GET …/remotelink is declared as one RemoteIssueLink.

    Its own example, Jira itself and the v3 spec answer a list (one link only when ?globalId= is given),
    so use v3's `oneOf` [list, single].
    """
    operation = raw["paths"].get("/rest/api/2/issue/{issueIdOrKey}/remotelink", {}).get("get")
    if operation is None:
        return
    link = {"$ref": "#/components/schemas/RemoteIssueLink"}
    operation["responses"]["200"]["content"]["application/json"]["schema"] = {
        "oneOf": [{"type": "array", "items": link}, link]}


def array_enums_on_items(node: Any) -> None:
    """Confluence v1: some array parameters (e.g. `status` of GET content/{id}) put `enum` on the array.

    The enum belongs to the items; as written, even the declared default ["current"] fails.
    """
    if isinstance(node, dict):
        if node.get("type") == "array" and "enum" in node:
            node.setdefault("items", {"type": "string"})["enum"] = node.pop("enum")
        for value in node.values():
            array_enums_on_items(value)
    elif isinstance(node, list):
        for value in node:
            array_enums_on_items(value)


def page_update_body_any_of(raw: dict[str, Any]) -> None:
    """Confluence v2: the page create and update bodies' `body` is a `oneOf` whose two branches both match.

    `{"representation": "storage", "value": …}` satisfies both PageBodyWrite and PageNestedBodyWrite (no
    required properties, extra ones allowed), so `oneOf` rejects every valid create and update. The
    official file has them under `components.requestBodies`; older copies under `components.schemas`.
    """
    components = raw.get("components", {})
    for name in ("PageCreateRequest", "PageUpdateRequest"):
        schema = components.get("schemas", {}).get(name)
        request_body = components.get("requestBodies", {}).get(name)
        if request_body is not None:
            schema = request_body["content"]["application/json"]["schema"]
        body = schema["properties"]["body"] if schema else {}
        if "oneOf" in body:
            body["anyOf"] = body.pop("oneOf")


def no_body_on_204(raw: dict[str, Any]) -> None:
    """All specs: some 204 responses (editIssue, doTransition, …) declare a JSON body; a 204 has none."""
    for operations in raw["paths"].values():
        for operation in operations.values():
            if isinstance(operation, dict) and "204" in operation.get("responses", {}):
                operation["responses"]["204"].pop("content", None)


def jira_timestamps(node: Any) -> None:
    """Jira: timestamps are written 2026-02-11T09:12:00.000+0000, which `format: date-time` rejects.

    RFC 3339 wants +00:00; every real Jira answer uses +0000, so accept both wherever the spec says date-time.
    """
    if isinstance(node, dict):
        if node.get("format") == "date-time":
            node.pop("format")
            node["pattern"] = JIRA_TIMESTAMP
        for value in node.values():
            jira_timestamps(value)
    elif isinstance(node, list):
        for value in node:
            jira_timestamps(value)


PATCHES: dict[str, tuple[Callable[[Any], None], ...]] = {
    "jira-platform-v3": (no_body_on_204, jira_timestamps),
    "jira-platform-v2": (no_body_on_204, remote_links_list, jira_timestamps),
    "jira-software": (no_body_on_204, object_params_as_strings, jira_timestamps),
    "confluence-v1": (no_body_on_204, array_enums_on_items),
    "confluence-v2": (no_body_on_204, page_update_body_any_of),
}
"""Which patches apply to which spec, in order."""
