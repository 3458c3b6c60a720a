"""Atlassian's API gateway form, the site's cloudId, and Confluence Cloud's retired v1 content routes.

Scoped API tokens and OAuth reach a Cloud site through ``https://api.atlassian.com/ex/jira/{cloudId}``
and ``…/ex/confluence/{cloudId}`` (the Confluence paths keep their ``/wiki``); the sandbox serves the
same form on its own host: ``<url>/ex/jira/{cloudId}/rest/…`` and ``<url>/ex/confluence/{cloudId}/wiki/…``.
``GET <url>/_edge/tenant_info`` answers ``{"cloudId": …}`` without credentials, as a site does.

Through the gateway, Confluence Cloud answers 410 Gone on the v1 routes the official spec marks
deprecated and that have a v2 equivalent (markdown-confluence/markdown-confluence#796,
sooperset/mcp-atlassian#1598, Spenhouet/confluence-markdown-exporter#207 for the body). Reported
as still working there, and kept: CQL search, labels, attachments, `user/current`.
"""

from __future__ import annotations

import re

from sandbox.http.errors import Product, product_error
from sandbox.http.wire import Reply, Request, json_reply

_GATEWAY = re.compile(r"^/ex/(?P<product>jira|confluence)/(?P<cloud_id>[^/]+)(?P<rest>/.*)?$")

# The sandbox's v1 routes that Confluence Cloud retires for gateway traffic (`deprecated` in the v1 spec).
RETIRED_V1_ROUTES = frozenset({
    "GET /wiki/rest/api/content", "POST /wiki/rest/api/content",
    "GET /wiki/rest/api/content/{id}", "PUT /wiki/rest/api/content/{id}", "DELETE /wiki/rest/api/content/{id}",
    "GET /wiki/rest/api/content/{id}/history", "GET /wiki/rest/api/content/{id}/child/page",
    "GET /wiki/rest/api/content/{id}/property", "POST /wiki/rest/api/content/{id}/property",
    "GET /wiki/rest/api/content/{id}/property/{key}", "POST /wiki/rest/api/content/{id}/property/{key}",
    "PUT /wiki/rest/api/content/{id}/property/{key}", "DELETE /wiki/rest/api/content/{id}/property/{key}",
    "GET /wiki/rest/api/space/{spaceKey}",
})

_GONE = {
    "statusCode": 410,
    "data": {"authorized": True, "valid": True, "errors": [], "successful": True},
    "message": "com.atlassian.confluence.api.service.exceptions.GoneException: "
               "This deprecated endpoint has been removed.",
}


def is_gateway_path(path: str) -> bool:
    return path.startswith("/ex/")


def through_gateway(request: Request, cloud_id: str | None) -> Request | Reply:
    """The request as the product sees it (path without the gateway prefix), or the gateway's 404."""
    found = _GATEWAY.match(request.path)
    product: Product = "confluence" if request.path.startswith("/ex/confluence/") else "jira"
    if found is None or cloud_id is None or found["cloud_id"] != cloud_id:
        return product_error(product, 404, f"No site with cloud id {found['cloud_id'] if found else '?'}").reply
    rest = found["rest"] or "/"
    wanted = ("/wiki/rest/", "/wiki/api/") if product == "confluence" else ("/rest/",)
    if not rest.startswith(wanted):  # the gateway carries REST calls only, never the browser pages
        return product_error(product, 404, f"null for uri: {request.target}").reply
    query = request.target[len(request.path):]
    return Request(request.method, rest + query, request.headers, request.body, via_gateway=True)


def gone() -> Reply:
    """The 410 Gone a retired v1 route answers (the recorded body: `authorized: true`, no `reason`)."""
    return json_reply(_GONE, 410)


def tenant_info(cloud_id: str | None) -> Reply:
    """GET /_edge/tenant_info: the site's cloudId (Cloud only; a Data Center server has no such page)."""
    if cloud_id is None:
        return Reply(404, b"", "")
    return json_reply({"cloudId": cloud_id})
