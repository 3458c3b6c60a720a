"""Check HTTP exchanges against Atlassian's official OpenAPI specs (the trimmed copies in tests/contracts/specs).

    from tests.openapi_contract import recording, validate_exchange

    with recording(jira_client) as exchanges:       # a requests.Session, or a client with ._session
        jira_client.issue_create(fields)             # each exchange is validated as it happens
    assert [e.route for e in exchanges] == ["POST /rest/api/2/issue"]

`validate_exchange(request, response)` raises `ContractViolation` (an AssertionError) naming the
spec, the operation and what did not match. Paths are matched to specs by prefix:

    /rest/api/3/      jira-platform-v3.json
    /rest/api/2/      jira-platform-v2.json      (primelib's copy of the Cloud v2 spec)
    /rest/agile/1.0/  jira-software.json
    /wiki/rest/api/   confluence-v1.json
    /wiki/api/v2/     confluence-v2.json

A call through Atlassian's API gateway (`…/ex/jira/{cloudId}/rest/…`, `…/ex/confluence/{cloudId}/wiki/…`)
is checked as the same call on the site (`api_path`). Anything else (/_sandbox/…, /_edge/…, browser pages)
is not an Atlassian REST call and is skipped. Data Center
has no published spec: its /rest/api/2 traffic is checked against the Cloud v2 spec, whose issue,
search and user shapes it shares (users carry name/key instead of accountId; both are in the schema).

The v2 spec is used rather than mapping /2 onto the v3 spec because v2 and v3 differ exactly where
the daemon cares (description and comment bodies are strings in v2, ADF in v3).

The specs are the subset of Atlassian's files that tests/contracts/trim_specs.py keeps (provenance in
tests/contracts/specs/SOURCES.md); the spec bugs we work around are patched in memory by
tests/contracts/patches.py, each with its reason. `servers` is replaced so that paths match a local
sandbox.

A status the operation does not declare fails, except those Atlassian documents globally instead of
per operation (401, 429, 5xx) and any the caller allows (`allow_status`). Their bodies, and those of
error statuses the spec declares without a body, must still be Atlassian error shapes (Jira's
ErrorCollection, Confluence v1's statusCode/message object, v2's `errors` list) or a plain-text 401.
"""

from __future__ import annotations

import functools
import json
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests
from openapi_core import Config, OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse
from openapi_core.exceptions import OpenAPIError
from openapi_core.templating.media_types.exceptions import MediaTypeNotFound
from openapi_core.templating.responses.exceptions import ResponseNotFound

from tests.contracts.patches import PATCHES

SPEC_DIR = Path(__file__).resolve().parent / "contracts" / "specs"
GLOBALLY_DOCUMENTED = frozenset({401, 429, 500, 502, 503, 504})
_GATEWAY = re.compile(r"^/ex/(?:jira|confluence)/[^/]+(?=/)")


class ContractViolation(AssertionError):
    """A request or response that does not match the official spec."""


@dataclass(frozen=True)
class SpecInfo:
    name: str
    file: str
    prefix: str
    server: str = "/"


SPECS = (
    SpecInfo("jira-platform-v3", "jira-platform-v3.json", "/rest/api/3/"),
    SpecInfo("jira-platform-v2", "jira-platform-v2.json", "/rest/api/2/"),
    SpecInfo("jira-software", "jira-software.json", "/rest/agile/1.0/"),
    SpecInfo("confluence-v1", "confluence-v1.json", "/wiki/rest/api/"),
    SpecInfo("confluence-v2", "confluence-v2.json", "/wiki/api/v2/", "/wiki/api/v2"),
)


@dataclass(frozen=True)
class Exchange:
    request: requests.PreparedRequest
    response: requests.Response

    @property
    def route(self) -> str:
        """'METHOD /path' without the query, for readable assertions."""
        return f"{self.request.method} {requests.utils.urlparse(self.request.url).path}"


def api_path(path: str) -> str:
    """The product's own path of a URL path: the API gateway prefix /ex/{product}/{cloudId} removed."""
    return _GATEWAY.sub("", path, count=1)


def spec_for_path(path: str) -> SpecInfo | None:
    """Which spec governs a URL path; None for anything that is not an Atlassian REST call."""
    path = api_path(path)
    return next((spec for spec in SPECS if path.startswith(spec.prefix)), None)


@functools.cache
def load_spec(name: str) -> OpenAPI:
    """The named spec, patched and ready for openapi-core (cached for the test session)."""
    info = next(spec for spec in SPECS if spec.name == name)
    path = SPEC_DIR / info.file
    if not path.is_file():
        raise FileNotFoundError(f"trimmed spec missing: {path} (regenerate with python -m tests.contracts.trim_specs)")
    raw = json.loads(path.read_text(encoding="utf-8"))
    raw["servers"] = [{"url": info.server}]
    for patch in PATCHES.get(name, ()):
        patch(raw)
    return OpenAPI.from_dict(raw, config=Config(spec_validator_cls=None))


def validate_exchange(
    request: requests.PreparedRequest, response: requests.Response, allow_status: Iterable[int] = (),
) -> None:
    """Raise ContractViolation unless both the request and the response match the official spec."""
    path = requests.utils.urlparse(request.url).path
    info = spec_for_path(path)
    if info is None:
        return
    if api_path(path) != path:  # through the gateway: validate it as the same call on the site
        request = request.copy()
        request.url = request.url.replace(path, api_path(path), 1)
        path = api_path(path)
    spec = load_spec(info.name)
    where = f"{request.method} {path} → {response.status_code} ({info.file})"
    openapi_request = RequestsOpenAPIRequest(request)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Unsupported scheme type" for the specs' OAuth2 schemes
        _check(lambda: spec.validate_request(openapi_request), f"request does not match the spec: {where}")
        try:
            spec.validate_response(openapi_request, RequestsOpenAPIResponse(response))
        except ResponseNotFound:
            if response.status_code not in GLOBALLY_DOCUMENTED | set(allow_status):
                raise ContractViolation(f"undeclared status: {where}\n{response.text[:500]}") from None
            _check_error_body(response, where)
        except OpenAPIError as exc:  # openapi-core's validation errors
            if response.status_code >= 400 and _declared_without_body(exc):
                _check_error_body(response, where)
                return
            detail = f"{_describe(exc)}\nbody: {response.text[:800]}"
            raise ContractViolation(f"response does not match the spec: {where}\n{detail}") from None


def _check(action: Callable[[], None], message: str) -> None:
    try:
        action()
    except OpenAPIError as exc:
        raise ContractViolation(f"{message}\n{_describe(exc)}") from None


def _declared_without_body(exc: BaseException) -> bool:
    """The spec lists the error status but not its body (common in Confluence v1: `"content": {}`)."""
    cause = exc.__cause__
    return isinstance(cause, MediaTypeNotFound) and not cause.availableMimetypes


def _check_error_body(response: requests.Response, where: str) -> None:
    """Undeclared error statuses must still carry an Atlassian-shaped body."""
    content_type = response.headers.get("Content-Type", "")
    if response.status_code == 401 and not content_type.startswith("application/json"):
        return
    try:
        body = response.json()
    except ValueError:
        raise ContractViolation(f"error without a JSON body: {where}\n{response.text[:300]}") from None
    if not isinstance(body, dict):
        raise ContractViolation(f"error body is not a JSON object: {where}\n{response.text[:300]}")
    jira_shape = isinstance(body.get("errorMessages"), list) and isinstance(body.get("errors"), dict)
    confluence_shape = isinstance(body.get("statusCode"), int) and isinstance(body.get("message"), str)
    errors = body.get("errors")
    confluence_v2_shape = isinstance(errors, list) and bool(errors) and all(
        isinstance(e, dict) and isinstance(e.get("status"), int) and isinstance(e.get("title"), str) for e in errors)
    if not (jira_shape or confluence_shape or confluence_v2_shape):
        raise ContractViolation(f"error body is not an Atlassian error shape: {where}\n{response.text[:300]}")


def _describe(exc: BaseException) -> str:
    """The whole cause chain, including jsonschema's individual errors."""
    lines, seen = [], set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        lines.append(f"{type(current).__name__}: {current}")
        for error in getattr(current, "schema_errors", ()) or ():
            lines.append(f"  - {'/'.join(map(str, error.absolute_path))}: {error.message}")
        current = current.__cause__ or current.__context__
    return "\n".join(lines)


@contextmanager
def recording(client: Any, validate: bool = True, allow_status: Iterable[int] = ()) -> Iterator[list[Exchange]]:
    """Capture (and by default validate) every exchange sent through a requests Session.

    `client` is a requests.Session or an atlassian-python-api client (its `._session` is used).
    A request that gets no response (a reset connection) is not recorded.
    """
    session: requests.Session = client if isinstance(client, requests.Session) else client._session
    exchanges: list[Exchange] = []
    original = session.send
    allowed = tuple(allow_status)

    def send(request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        response = original(request, **kwargs)
        exchanges.append(Exchange(request, response))
        if validate:
            validate_exchange(request, response, allowed)
        return response

    session.send = send  # type: ignore[method-assign]
    try:
        yield exchanges
    finally:
        del session.send  # back to the class's method
