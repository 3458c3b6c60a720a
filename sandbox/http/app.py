"""The request pipeline, independent of the HTTP server: admin → gateway → browser view → API.

An API request (/rest/…, /wiki/rest/… or /wiki/api/v2/…) is counted under its route template, delayed
by `latency_ms`, offered to the fault book, checked for the sandbox credentials, then handled while
holding the state lock. Admin (/_sandbox/…) and browser views skip all of that. A request in the API
gateway form (/ex/{product}/{cloudId}/…) goes the same way under the product's own path; with
`v1_content_gone`, the retired v1 content routes answer it 410 (sandbox.http.gateway). Confluence v2
errors are v1's reshaped.
"""

from __future__ import annotations

import base64
import hmac
import sys
import time
import traceback

from sandbox.browser import views
from sandbox.confluence import content_api, v2_api
from sandbox.http import admin, gateway
from sandbox.http.controls import Controls
from sandbox.http.errors import ApiError, Product, as_v2_error, fault_reply, product_error, unauthorized
from sandbox.http.router import Route, Router
from sandbox.http.wire import Reply, Request, json_reply
from sandbox.jira import agile_api, issue_api, meta_api, search_api, transitions_api
from sandbox.options import SANDBOX_CLOUD_ID, SANDBOX_EMAIL, SandboxOptions
from sandbox.state import SandboxState
from sandbox.timefmt import http_date

_API_PREFIXES = ("/rest/", "/wiki/rest/", "/wiki/api/")
# Readable without credentials (Jira's spec: serverInfo "can be accessed anonymously"; Data Center alike).
# Credentials that are sent must still be right: a wrong token gets the 401 here too.
_ANONYMOUS = frozenset(f"GET /rest/api/{version}/serverInfo" for version in ("2", "3", "latest"))


def build_router(is_cloud: bool) -> Router:
    """Every API and browser route of one deployment flavour."""
    router = Router()
    versions = ("2", "3") if is_cloud else ("2", "latest")
    content_api.register(router)
    if is_cloud:  # Confluence Data Center has no v2 API
        v2_api.register(router)
    issue_api.register(router, versions)
    transitions_api.register(router, versions)
    meta_api.register(router, versions)
    search_api.register(router, is_cloud)
    agile_api.register(router)
    views.register(router)
    return router


class SandboxApp:
    """Turns a Request into a Reply (None means: reset the connection)."""

    def __init__(self, options: SandboxOptions, site: str) -> None:
        self.options = options
        self.controls = Controls(SandboxState(options, site))
        self.router = build_router(options.is_cloud)
        self.admin_router = admin.build_router()
        self.cloud_id = SANDBOX_CLOUD_ID if options.is_cloud else None

    def handle(self, request: Request) -> Reply | None:
        """The reply, stamped with the product's `Date` (its clock, which the daemon keeps time by)."""
        reply = self._route(request)
        if reply is not None:
            state = self.controls.state
            now = state.confluence_now() if _product(request) == "confluence" else state.jira_now()
            reply.headers["Date"] = http_date(now)
        return reply

    def _route(self, request: Request) -> Reply | None:
        if request.path.startswith("/_sandbox/"):
            return self._admin(request)
        if request.path == "/_edge/tenant_info":
            self.controls.stats.count("GET /_edge/tenant_info")
            return gateway.tenant_info(self.cloud_id)
        if gateway.is_gateway_path(request.path):
            routed = gateway.through_gateway(request, self.cloud_id)
            if isinstance(routed, Reply):
                self.controls.stats.count(f"{request.method} (unmatched)")
                return routed
            request = routed
        route, allowed = self.router.match(request)
        if not request.path.startswith(_API_PREFIXES):
            return self._call(route, request) if route else views.not_found_page(request.path)
        return self._api(request, route, allowed)

    def _api(self, request: Request, route: Route | None, allowed: list[str]) -> Reply | None:
        reply = self._api_reply(request, route, allowed)
        return as_v2_error(reply) if reply is not None and request.path.startswith("/wiki/api/v2/") else reply

    def _api_reply(self, request: Request, route: Route | None, allowed: list[str]) -> Reply | None:
        product = _product(request)
        self.controls.stats.count(route.name if route else f"{request.method} (unmatched)")
        if self.options.latency_ms:
            time.sleep(self.options.latency_ms / 1000)
        fault = self.controls.faults.take(request.method, request.path, route.template if route else None)
        if fault is not None:
            time.sleep(fault.delay_ms / 1000)
            if fault.reset:
                return None
            if fault.status is not None:
                return fault_reply(product, fault.status, fault.headers)
        authorized, sent_basic = self._check_credentials(request, product)
        anonymous = route is not None and route.name in _ANONYMOUS and not request.header("authorization")
        if not authorized and not anonymous:
            return unauthorized(product, self.options.is_cloud, sent_basic)
        if route is None:
            return _no_route(product, request, allowed)
        if request.via_gateway and self.options.v1_content_gone and route.name in gateway.RETIRED_V1_ROUTES:
            return gateway.gone()
        if request.body and not request.header("content-type").startswith("application/json"):
            return product_error(product, 415, "Unsupported Media Type: send the body as application/json").reply
        return self._call(route, request)

    def _call(self, route: Route, request: Request) -> Reply:
        state = self.controls.state
        with state.lock:
            try:
                return route.handler(state, request)
            except ApiError as exc:
                return exc.reply
            except Exception:  # noqa: BLE001 - a sandbox bug must answer like a server error, not kill the connection
                traceback.print_exc(file=sys.stderr)
                return product_error(_product(request), 500, "Internal server error").reply

    def _admin(self, request: Request) -> Reply:
        route, _ = self.admin_router.match(request)
        if route is None:
            return json_reply({"error": f"no admin route {request.method} {request.path}"}, 404)
        return route.handler(self.controls, request)

    def _check_credentials(self, request: Request, product: Product) -> tuple[bool, bool]:
        """(authorized, whether Basic credentials were sent): Basic on Cloud, Bearer PAT on Data Center.

        Data Center personal access tokens are per product: Jira's is refused by Confluence and vice versa.
        """
        scheme, _, value = request.header("authorization").partition(" ")
        if scheme.lower() == "basic":
            try:
                sent = base64.b64decode(value.strip(), validate=True)
            except ValueError:
                return False, True
            expected = f"{SANDBOX_EMAIL}:{self.options.api_token}".encode()
            return self.options.is_cloud and hmac.compare_digest(sent, expected), True
        if scheme.lower() == "bearer":
            valid = hmac.compare_digest(value.strip().encode(), self.options.pat_for(product).encode())
            return (not self.options.is_cloud) and valid, False
        return False, False


def _product(request: Request) -> Product:
    """Whose error shapes apply: Confluence under /wiki, Jira elsewhere."""
    return "confluence" if request.path.startswith("/wiki") else "jira"


def _no_route(product: Product, request: Request, allowed: list[str]) -> Reply:
    """404 for an unknown resource (Jersey's 'null for uri'), 405 for a wrong method."""
    if allowed:
        return Reply(405, b"", "", {"Allow": ", ".join(sorted(set(allowed)))})
    message = f"null for uri: {request.target}"
    if product == "jira":
        return json_reply({"message": message, "status-code": 404}, 404)
    return product_error("confluence", 404, message).reply
