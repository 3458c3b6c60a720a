"""Error answers shaped as Jira and Confluence send them.

Jira: ``{"errorMessages": [...], "errors": {field: message}}``. Confluence v1:
``{"statusCode": 409, "data": {...}, "message": "...", "reason": "Conflict"}``. Confluence v2:
``{"errors": [{"status": 404, "code": "NOT_FOUND", "title": "Not Found", "detail": null}]}``
(hunyadi/md2conf#113; a 404 says no more than that). Wrong credentials
on Cloud get Atlassian's plain-text 401; Data Center answers with its Tomcat error page.
"""

from __future__ import annotations

import json
from datetime import timedelta
from http import HTTPStatus
from typing import Any, Literal

from sandbox.http.wire import HTML_TYPE, TEXT_TYPE, Reply, json_reply
from sandbox.timefmt import utcnow

Product = Literal["jira", "confluence"]

_CLOUD_BASIC_DEPRECATED = {
    "jira": "https://developer.atlassian.com/cloud/jira/platform/deprecation-notice-basic-auth-and-cookie-based-auth/",
    "confluence": "https://developer.atlassian.com/cloud/confluence/deprecation-notice-basic-auth/",
}


class ApiError(Exception):
    """Raised by a handler to answer with an Atlassian-shaped error."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(f"HTTP {reply.status}")
        self.reply = reply


def reason(status: int) -> str:
    """The HTTP reason phrase, e.g. 'Conflict'."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def jira_body(messages: list[str] | tuple[str, ...] = (), errors: dict[str, str] | None = None) -> dict[str, Any]:
    """Jira's ErrorCollection."""
    return {"errorMessages": list(messages), "errors": dict(errors or {})}


def jira_error(status: int, *messages: str, errors: dict[str, str] | None = None) -> ApiError:
    """A Jira error: messages go to errorMessages, field problems to errors."""
    return ApiError(json_reply(jira_body(messages, errors), status))


def confluence_body(status: int, message: str) -> dict[str, Any]:
    """Confluence v1's error object."""
    data = {
        "authorized": status not in (401, 403),
        "valid": True,
        "allowedInReadOnlyMode": True,
        "errors": [],
        "successful": False,
    }
    return {"statusCode": status, "data": data, "message": message, "reason": reason(status)}


def confluence_error(status: int, message: str) -> ApiError:
    """A Confluence v1 error."""
    return ApiError(json_reply(confluence_body(status, message), status))


def as_v2_error(reply: Reply) -> Reply:
    """A Confluence v1 error reply in v2's shape (handlers share the v1 store and raise v1 errors)."""
    try:
        body = json.loads(reply.body) if reply.status >= 400 and reply.body else None
    except ValueError:
        return reply
    if not isinstance(body, dict) or not isinstance(body.get("statusCode"), int):
        return reply  # not a v1 error: a plain-text 401, an empty 405
    status = body["statusCode"]
    title = reason(status) if status == 404 else str(body.get("message") or reason(status))
    code = HTTPStatus(status).name if status in HTTPStatus._value2member_map_ else "ERROR"
    error = {"status": status, "code": code, "title": title, "detail": None}
    return json_reply({"errors": [error]}, status, reply.headers)


def product_error(product: Product, status: int, message: str) -> ApiError:
    """The error shape of whichever product owns the path."""
    if product == "jira":
        return jira_error(status, message)
    return confluence_error(status, message)


def unauthorized(product: Product, is_cloud: bool, sent_basic: bool) -> Reply:
    """401 as each deployment answers bad or missing credentials."""
    if is_cloud:
        if sent_basic:
            text = (
                "Basic authentication with passwords is deprecated.  For more information, see: "
                f"{_CLOUD_BASIC_DEPRECATED[product]}\n"
            )
        else:
            text = "Client must be authenticated to access this resource."
        headers = {"WWW-Authenticate": 'Basic realm="protected-area"', "X-Seraph-LoginReason": "AUTHENTICATED_FAILED"}
        return Reply(401, text.encode(), TEXT_TYPE, headers)
    page = (
        "<!doctype html><html lang=\"en\"><head><title>HTTP Status 401 – Unauthorized</title></head><body>"
        "<h1>HTTP Status 401 – Unauthorized</h1><p><b>Message</b> Authentication Failure - Reason : "
        "AUTHENTICATED_FAILED</p></body></html>"
    )
    headers = {"WWW-Authenticate": 'Bearer realm="sandbox"', "X-Seraph-LoginReason": "AUTHENTICATED_FAILED"}
    return Reply(401, page.encode(), HTML_TYPE, headers)


def rate_limit_headers(product: Product, retry_after: str) -> dict[str, str]:
    """The headers Atlassian Cloud puts on a 429 (rate-limiting docs; Confluence's reason is a guess)."""
    try:
        seconds = max(0, int(float(retry_after)))
    except ValueError:
        seconds = 1
    reset_iso = (utcnow() + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "Retry-After": retry_after,
        "X-RateLimit-Limit": "350",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": reset_iso,
        "X-RateLimit-NearLimit": "true",
        "RateLimit-Reason": f"{product}-burst-based",
    }


def fault_reply(product: Product, status: int, headers: dict[str, str]) -> Reply:
    """An injected failure: the product's error body for `status`, rate-limit headers on a 429."""
    message = "Rate limit exceeded." if status == 429 else reason(status)
    body = jira_body([message]) if product == "jira" else confluence_body(status, message)
    extra = rate_limit_headers(product, headers.get("Retry-After", "1")) if status == 429 else {}
    extra.update(headers)
    return json_reply(body, status, extra)
