"""The trimmed specs cover every route the sandbox serves, stay small, and the checks built on them can fail."""

from __future__ import annotations

import json

import pytest
import requests

from sandbox.http.app import build_router
from tests.contracts.trim_specs import OUT, SOURCES, source_for, spec_key, trim, without_prose
from tests.openapi_contract import ContractViolation, validate_exchange

HTTP_METHODS = {"get", "put", "post", "delete", "patch"}


def served_routes() -> set[tuple[str, str]]:
    return {(route.method.lower(), route.template)
            for is_cloud in (True, False) for route in build_router(is_cloud).routes
            if route.kind == "api" and source_for(route.template)}


def trimmed(name: str) -> dict:
    path = OUT / f"{name}.json"
    assert path.is_file(), f"missing trimmed spec {path}: run python -m tests.contracts.trim_specs"
    return json.loads(path.read_text(encoding="utf-8"))


def test_every_route_the_sandbox_serves_is_in_a_trimmed_spec():
    missing = []
    for method, template in sorted(served_routes()):
        source = source_for(template)
        assert source is not None
        paths = trimmed(source.name)["paths"]
        key = spec_key(template.removeprefix(source.strip), paths)
        if key is None or method not in paths[key]:
            missing.append(f"{method.upper()} {template}")
    assert not missing, f"re-run python -m tests.contracts.trim_specs; not in the trimmed specs: {missing}"


def test_the_trimmed_specs_are_well_under_a_megabyte_and_say_where_they_come_from():
    total = sum((OUT / f"{source.name}.json").stat().st_size for source in SOURCES)
    assert total < 600_000, f"{total:,} bytes"
    provenance = (OUT / "SOURCES.md").read_text(encoding="utf-8")
    for source in SOURCES:
        assert f"`{source.name}.json`" in provenance and source.url in provenance
        assert trimmed(source.name)["info"]["version"] in provenance


def test_trimming_keeps_the_wanted_operations_and_every_component_they_reach():
    spec = {
        "openapi": "3.0.1", "info": {"title": "t", "version": "9", "description": "prose"},
        "paths": {
            "/rest/x/{id}": {"get": {"description": "prose", "responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/A"}}}}}},
                "delete": {"responses": {"204": {"description": "gone"}}}},
            "/rest/x/{id}/child/{type}": {"get": {"responses": {"200": {"description": "ok"}}}},
            "/rest/unused": {"get": {"responses": {"200": {"content": {"application/json": {
                "schema": {"$ref": "#/components/schemas/Unused"}}}}}}},
        },
        "components": {"schemas": {
            "A": {"type": "object", "description": "prose", "properties": {
                "description": {"type": "string", "description": "a property named description"},
                "b": {"$ref": "#/components/schemas/B"}}},
            "B": {"type": "string", "example": "x"},
            "Unused": {"type": "string"},
        }, "securitySchemes": {"basic": {"type": "http", "scheme": "basic"}}},
    }
    source = SOURCES[0]
    result, missing = trim(spec, source, {("get", "/rest/x/{key}"), ("get", "/rest/x/{key}/child/page"),
                                          ("post", "/rest/x/{key}")})
    assert set(result["paths"]) == {"/rest/x/{id}", "/rest/x/{id}/child/{type}"}
    assert set(result["paths"]["/rest/x/{id}"]) == {"get"}, "only the operations asked for"
    assert set(result["components"]["schemas"]) == {"A", "B"}, "referenced ones, transitively"
    assert result["components"]["schemas"]["A"]["properties"]["description"] == {"type": "string"}
    assert "description" not in result["components"]["schemas"]["A"]
    assert result["components"]["schemas"]["B"] == {"type": "string"}
    assert missing == {("post", "/rest/x/{key}")}
    kept = {"properties": {"summary": {"type": "string"}}}
    assert without_prose(kept) == kept


def exchange(method: str, url: str, body: object | None, status: int, answer: object | None) -> tuple:
    request = requests.Request(method, url, json=body).prepare()
    response = requests.Response()
    response.status_code = status
    response._content = b"" if answer is None else json.dumps(answer).encode()
    response.headers["Content-Type"] = "application/json"
    response.request, response.url = request, url
    return request, response


CREATED = {"id": "10001", "key": "OPS-1", "self": "http://localhost/rest/api/2/issue/10001"}


def test_a_request_that_conforms_passes():
    validate_exchange(*exchange("POST", "http://localhost/rest/api/2/issue",
                                {"fields": {"summary": "Fix it", "labels": ["pmsync"]}}, 201, CREATED))


@pytest.mark.parametrize("case", [
    ("POST", "http://localhost/rest/api/2/issue", {"fields": ["not", "an", "object"]}, 201, CREATED),
    ("POST", "http://localhost/rest/api/2/issue", {"update": {"labels": "add-me"}}, 201, CREATED),
    ("GET", "http://localhost/rest/api/2/no-such-route", None, 200, {}),
    ("PATCH", "http://localhost/rest/api/2/issue/OPS-1", {"fields": {}}, 204, None),
    ("POST", "http://localhost/rest/api/2/issue", {"fields": {"summary": "x"}}, 201, {"key": 12}),
    ("POST", "http://localhost/rest/api/2/issue", {"fields": {"summary": "x"}}, 418, {"errorMessages": []}),
    ("GET", "http://localhost/wiki/rest/api/content/1", None, 404, {"oops": True}),
], ids=["body-not-object", "update-not-operations", "unknown-path", "undeclared-method", "response-shape",
        "undeclared-status", "error-not-atlassian-shape"])
def test_an_exchange_that_leaves_the_spec_is_a_violation(case):
    with pytest.raises(ContractViolation):
        validate_exchange(*exchange(*case))
