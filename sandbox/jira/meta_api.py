"""Jira's descriptive routes: serverInfo, myself, project, priorities, fields, user look-up and search,
and the create and edit screens (createmeta, editmeta)."""

from __future__ import annotations

from typing import Any

from sandbox.http.errors import jira_error
from sandbox.http.router import Router
from sandbox.http.wire import Reply, Request, json_reply
from sandbox.jira.catalog import EPIC, EPIC_NAME_FIELD, EPIC_NAME_SCHEMA, ISSUE_TYPES, OPS, PRIORITIES
from sandbox.jira.inputs import int_param, view_for
from sandbox.jira.json_shapes import field_list, issuetype_json, priority_json, project_json, user_json
from sandbox.state import SandboxState

CLOUD_VERSION = (1001, 0, 0)
DC_VERSION = (9, 12, 15)
_GDPR = "The query parameter '{}' is not supported in GDPR strict mode."


def register(router: Router, versions: tuple[str, ...]) -> None:
    for version in versions:
        base = f"/rest/api/{version}"
        for template, handler in (
            ("/serverInfo", server_info), ("/myself", myself), ("/project/{projectIdOrKey}", project),
            ("/priority", priorities), ("/field", fields), ("/user", user), ("/user/search", user_search),
            ("/user/assignable/search", assignable_search),
        ):
            router.add("GET", base + template, handler)
        router.add("GET", base + "/issue/createmeta/{projectIdOrKey}/issuetypes", createmeta_issue_types)
        router.add("GET", base + "/issue/createmeta/{projectIdOrKey}/issuetypes/{issueTypeId}", createmeta_fields)
        router.add("GET", base + "/issue/{issueIdOrKey}/editmeta", editmeta)


def server_info(state: SandboxState, request: Request) -> Reply:
    """deploymentType is "Cloud" or "Server" (Data Center still answers "Server")."""
    cloud = state.options.is_cloud
    numbers = CLOUD_VERSION if cloud else DC_VERSION
    version = "1001.0.0-SNAPSHOT" if cloud else ".".join(map(str, numbers))
    return json_reply({
        "baseUrl": state.site, "displayUrl": state.site, "displayUrlConfluence": state.wiki,
        "version": version, "versionNumbers": list(numbers), "deploymentType": "Cloud" if cloud else "Server",
        "buildNumber": 100283 if cloud else 9120015, "buildDate": "2026-11-02T00:00:00.000+0000",
        "serverTime": view_for(state, request).time(state.jira_now()), "serverTimeZone": state.options.site_timezone,
        "scmInfo": "postmortem-sync-sandbox",
        "serverTitle": "Jira (postmortem-sync sandbox)",
    })


def myself(state: SandboxState, request: Request) -> Reply:
    return json_reply({**user_json(state.api_user, view_for(state, request)), "locale": "en_US"})


def project(state: SandboxState, request: Request) -> Reply:
    wanted = request.params["projectIdOrKey"]
    if wanted.upper() != OPS.key and wanted != OPS.id:
        raise jira_error(404, f"No project could be found with key '{wanted}'.")
    return json_reply(project_json(OPS, view_for(state, request), lead=state.api_user))


def priorities(state: SandboxState, request: Request) -> Reply:
    view = view_for(state, request)
    return json_reply([{**priority_json(p, view), "isDefault": p.name == "Medium"} for p in PRIORITIES])


def fields(state: SandboxState, request: Request) -> Reply:
    return json_reply(field_list(state.options.is_cloud))


def user(state: SandboxState, request: Request) -> Reply:
    """Cloud: ?accountId= only (GDPR strict mode). Data Center: ?username= or ?key= (Jira's key, not Confluence's)."""
    directory = state.jira_directory
    if state.options.is_cloud:
        for legacy in ("username", "key"):
            if request.arg(legacy):
                raise jira_error(400, _GDPR.format(legacy))
        account_id = request.arg("accountId")
        if not account_id:
            raise jira_error(400, "The 'accountId' query parameter needs to be provided.")
        found = directory.by_account_id(account_id)
        missing = "Specified user does not exist or you do not have required permissions"
    else:
        username, key = request.arg("username"), request.arg("key")
        if not username and not key:
            raise jira_error(404, "Either the 'username' or the 'key' query parameters need to be provided")
        found = directory.by_username(username) if username else directory.by_jira_key(key or "")
        missing = f"The user named '{username or key}' does not exist"
    if found is None:
        raise jira_error(404, missing)
    return json_reply(user_json(found, view_for(state, request)))


def user_search(state: SandboxState, request: Request) -> Reply:
    """Cloud searches by ?query=, Data Center by ?username= (a prefix of name, email or display name)."""
    param = "query" if state.options.is_cloud else "username"
    if state.options.is_cloud and request.arg("username"):
        raise jira_error(400, _GDPR.format("username"))
    needle = request.arg(param)
    if not needle:
        raise jira_error(400, f"The '{param}' query parameter needs to be provided.")
    start, limit = int_param(request, "startAt", 0), int_param(request, "maxResults", 50)
    found = state.jira_directory.search(needle)[start : start + limit]
    return json_reply([user_json(u, view_for(state, request)) for u in found])


def assignable_search(state: SandboxState, request: Request) -> Reply:
    """Users who may be assigned issues of ?project= (or ?issueKey=): active Jira users; one of them by
    ?accountId= (Cloud) or ?username= (Data Center, an exact name first, else a prefix), else by ?query=."""
    project_key, issue_key = request.arg("project"), request.arg("issueKey")
    if issue_key:
        project_key = state.jira.issue(issue_key).project.key
    if not project_key:
        raise jira_error(400, "Either the 'project' or the 'issueKey' query parameter must be provided.")
    if project_key.upper() not in state.jira.projects:
        raise jira_error(404, f"No project could be found with key '{project_key}'.")
    directory = state.jira_directory
    cloud = state.options.is_cloud
    if cloud and request.arg("username"):
        raise jira_error(400, _GDPR.format("username"))
    account_id, username, query = request.arg("accountId"), request.arg("username"), request.arg("query")
    if account_id:
        found = [u for u in [directory.by_account_id(account_id)] if u]
    elif username:
        exact = directory.by_username(username)
        found = [exact] if exact else directory.search(username)
    else:
        found = directory.search(query) if query else directory.all()
    start, limit = int_param(request, "startAt", 0), int_param(request, "maxResults", 50)
    assignable = [u for u in found if u.active][start : start + limit]
    return json_reply([user_json(u, view_for(state, request)) for u in assignable])


# The create screen of every issue type: (field id, name, schema type, required, operations).
_ScreenField = tuple[str, str, str, bool, list[str]]
_CREATE_SCREEN: tuple[_ScreenField, ...] = (
    ("summary", "Summary", "string", True, ["set"]), ("issuetype", "Issue Type", "issuetype", True, ["set"]),
    ("project", "Project", "project", True, ["set"]), ("description", "Description", "string", False, ["set"]),
    ("labels", "Labels", "array", False, ["add", "set", "remove"]), ("duedate", "Due date", "date", False, ["set"]),
    ("assignee", "Assignee", "user", False, ["set"]), ("reporter", "Reporter", "user", True, ["set"]),
    ("priority", "Priority", "priority", False, ["set"]), ("components", "Component/s", "array", False, ["set"]),
)
# The edit screen: the create screen without the project (moving is not an edit), plus comments.
_EDIT_SCREEN: tuple[_ScreenField, ...] = (
    *(row for row in _CREATE_SCREEN if row[0] != "project"),
    ("comment", "Comment", "comments-page", False, ["add"]),
)


# Data Center's Epic screens carry Jira Software's Epic Name, required (found by its schema.custom).
_EPIC_NAME_META: dict[str, Any] = {
    "required": True, "schema": {"type": "string", "custom": EPIC_NAME_SCHEMA, "customId": 10100},
    "name": "Epic Name", "key": EPIC_NAME_FIELD, "hasDefaultValue": False, "operations": ["set"],
}


def _project_or_404(request: Request) -> None:
    wanted = request.params["projectIdOrKey"]
    if wanted.upper() != OPS.key and wanted != OPS.id:
        raise jira_error(404, f"No project could be found with key '{wanted}'.")


def _page(state: SandboxState, items: list[dict[str, Any]], cloud_key: str) -> dict[str, Any]:
    """Cloud names the list after its content; Data Center calls it `values`."""
    key = cloud_key if state.options.is_cloud else "values"
    return {"maxResults": 50, "startAt": 0, "total": len(items), key: items}


def createmeta_issue_types(state: SandboxState, request: Request) -> Reply:
    _project_or_404(request)
    view = view_for(state, request)
    return json_reply(_page(state, [issuetype_json(t, view) for t in ISSUE_TYPES], "issueTypes"))


def createmeta_fields(state: SandboxState, request: Request) -> Reply:
    """The fields on the create screen: those an admin hid (`Sandbox.hide_field`) are missing."""
    _project_or_404(request)
    if request.params["issueTypeId"] not in {t.id for t in ISSUE_TYPES}:
        raise jira_error(404, f"The issue type with id '{request.params['issueTypeId']}' does not exist.")
    fields = _screen_fields(_CREATE_SCREEN, state, OPS.key)
    if request.params["issueTypeId"] == EPIC.id and not state.options.is_cloud:
        fields.append(_EPIC_NAME_META)
    fields += [_required_text_field(field_id, name) for field_id, name in state.required_fields(OPS.key).items()]
    return json_reply(_page(state, [{**meta, "fieldId": meta["key"]} for meta in fields], "fields"))


def _required_text_field(field_id: str, name: str) -> dict[str, Any]:
    """A required custom text field an admin put on the create screen (`Sandbox.require_field`)."""
    custom_id = int(field_id.rsplit("_", 1)[-1]) if field_id.rsplit("_", 1)[-1].isdigit() else 0
    schema = {"type": "string", "custom": "com.atlassian.jira.plugin.system.customfieldtypes:textfield",
              "customId": custom_id}
    return {"required": True, "schema": schema, "name": name, "key": field_id, "hasDefaultValue": False,
            "operations": ["set"]}


def editmeta(state: SandboxState, request: Request) -> Reply:
    """The fields an edit of this issue may set, keyed by field id; those off its project's screen are missing."""
    issue = state.jira.issue(request.params["issueIdOrKey"])
    fields = _screen_fields(_EDIT_SCREEN, state, issue.project.key)
    if issue.issuetype == EPIC and not state.options.is_cloud:
        fields.append(_EPIC_NAME_META)
    return json_reply({"fields": {meta["key"]: meta for meta in fields}})


def _screen_fields(screen: tuple[_ScreenField, ...], state: SandboxState, project_key: str) -> list[dict[str, Any]]:
    """Field metadata of a screen as the project has it (Jira's FieldMetadata)."""
    hidden = state.fields_off_screen(project_key)
    return [{"required": required, "schema": {"type": kind, "system": field_id}, "name": name, "key": field_id,
             "hasDefaultValue": False, "operations": list(operations)}
            for field_id, name, kind, required, operations in screen if field_id not in hidden]
