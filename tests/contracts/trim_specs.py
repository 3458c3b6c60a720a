"""Write the subset of Atlassian's OpenAPI specs that the contract checks use.

    python -m tests.contracts.trim_specs SPEC_DIR    # from the repository root; SPEC_DIR: the official specs

For each official spec, keep the operations the sandbox serves (every API route of both flavours, which
is a superset of what the daemon sends: tests/test_daemon_contract.py pins the daemon's own routes) and
every component those operations reference, transitively. Prose (descriptions, summaries, examples,
tags) is dropped; everything a validator reads is kept byte-for-byte as the official file has it. The
spec bugs we work around are not fixed here: tests/contracts/patches.py applies them in memory, each
with its reason, so the files below stay a faithful subset of the originals.

Output: tests/contracts/specs/<name>.json plus SOURCES.md (upstream URL, mirror, retrieval date, the
spec's own version and the sha256 of the input). Re-run it when the sandbox gains a route; the test
tests/contracts/test_specs.py fails until then and names the missing route.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "specs"
PROSE = frozenset({"description", "summary", "example", "examples", "tags", "externalDocs", "deprecated-note"})
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})


@dataclass(frozen=True)
class Source:
    name: str            # the trimmed file is specs/<name>.json
    file: str            # the official file in SPEC_DIR
    url: str             # where Atlassian publishes it
    mirror: str          # the public mirror it was copied from, byte for byte
    retrieved: str       # when that copy was taken
    prefix: str          # the URL path prefix this spec governs
    strip: str = ""      # what to remove from a URL path to get the spec's path key


SOURCES = (
    Source("jira-platform-v3", "jira-platform-v3.swagger-v3.v3.json",
           "https://developer.atlassian.com/cloud/jira/platform/swagger-v3.v3.json",
           "dichovsky/atlassian-api-client@3c03fb965679c58259ef65f4acbfe2d542ecc437 spec/jira-platform-v3.json",
           "2026-06-10", "/rest/api/3/"),
    Source("jira-platform-v2", "jira-platform-v2.primelib-overlay.openapi.yaml",
           "https://developer.atlassian.com/cloud/jira/platform/swagger.v3.json (REST v2)",
           "primelib/jira-client@540922d3305da32cebdc8567f0605c91d455027c openapi.yaml (primelib's overlay applied: "
           "operationIds and info rewritten; the request schemas we use are intact)",
           "2025-11-24", "/rest/api/2/"),
    Source("jira-software", "jira-software.swagger.v3.json",
           "https://developer.atlassian.com/cloud/jira/software/swagger.v3.json",
           "dichovsky/atlassian-api-client@3c03fb965679c58259ef65f4acbfe2d542ecc437 spec/jira-software.json",
           "2026-06-10", "/rest/agile/1.0/"),
    Source("confluence-v1", "confluence-v1.swagger.v3.json",
           "https://developer.atlassian.com/cloud/confluence/swagger.v3.json",
           "xvrh/atlassian_apis@1dcea4a49027fc5f60fc2c73fcdbab33ae10fa09 tool/apis/confluence.json",
           "2024-09-28", "/wiki/rest/api/"),
    Source("confluence-v2", "confluence-v2.openapi-v2.v3.json",
           "https://developer.atlassian.com/cloud/confluence/openapi-v2.v3.json",
           "dichovsky/atlassian-api-client@3c03fb965679c58259ef65f4acbfe2d542ecc437 spec/confluence-v2.json",
           "2026-06-10", "/wiki/api/v2/", strip="/wiki/api/v2"),
)


def source_for(path: str) -> Source | None:
    """Which spec governs a URL path (None: not an Atlassian REST call we check)."""
    return next((source for source in SOURCES if path.startswith(source.prefix)), None)


def spec_key(template: str, keys: Iterable[str]) -> str | None:
    """The spec's path key for a route template: parameters match anything, the most literal key wins.

    `{id}` and `{pageId}` are the same segment; a spec parameter also stands for a literal segment
    (the sandbox's `content/{id}/child/page` is the spec's `content/{id}/child/{type}`).
    """
    segments = template.strip("/").split("/")

    def literals(key: str) -> int | None:
        parts = key.strip("/").split("/")
        if len(parts) != len(segments):
            return None
        count = 0
        for part, segment in zip(parts, segments, strict=True):
            if _is_param(part):
                continue
            if part != segment or _is_param(segment):
                return None
            count += 1
        return count

    scored = [(score, key) for key in keys if (score := literals(key)) is not None]
    return max(scored)[1] if scored else None


def _is_param(segment: str) -> bool:
    return segment.startswith("{") and segment.endswith("}")


def served_operations() -> set[tuple[str, str]]:
    """(method, URL path template) of every API route the sandbox serves, in either flavour."""
    from sandbox.http.app import build_router

    return {(route.method.lower(), route.template)
            for is_cloud in (True, False) for route in build_router(is_cloud).routes if route.kind == "api"}


def read_official(path: Path) -> dict[str, Any]:
    if path.suffix == ".json":
        return json.loads(path.read_text(encoding="utf-8"))
    import yaml

    return yaml.load(path.read_bytes(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def without_prose(node: Any, *, in_properties: bool = False) -> Any:
    """The node minus descriptions, examples and tags; a schema property that is *named* so is kept."""
    if isinstance(node, dict):
        return {key: without_prose(value, in_properties=(key == "properties" and not in_properties))
                for key, value in node.items()
                if in_properties or not (key in PROSE or key.startswith("x-atlassian"))}
    if isinstance(node, list):
        return [without_prose(value) for value in node]
    return node


def references(node: Any) -> Iterable[tuple[str, str]]:
    """Every (component kind, name) that `node` refers to with a local $ref."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/"):
            kind, name = ref.removeprefix("#/components/").split("/", 1)
            yield kind, name
        for value in node.values():
            yield from references(value)
    elif isinstance(node, list):
        for value in node:
            yield from references(value)


def trim(spec: dict[str, Any], source: Source, wanted: set[tuple[str, str]]) -> tuple[dict[str, Any], set]:
    """The spec with only the wanted operations and the components they reach; also what was not found."""
    paths: dict[str, dict[str, Any]] = {}
    missing = set()
    for method, template in sorted(wanted):
        key = spec_key(template.removeprefix(source.strip), spec["paths"])
        if key is None or method not in spec["paths"][key]:
            missing.add((method, template))
            continue
        original = spec["paths"][key]
        kept = paths.setdefault(key, {k: v for k, v in original.items() if k not in HTTP_METHODS})
        kept[method] = original[method]
    components: dict[str, dict[str, Any]] = {"securitySchemes": spec.get("components", {}).get("securitySchemes", {})}
    pending = list(references(paths))
    while pending:
        kind, name = pending.pop()
        if name in components.setdefault(kind, {}):
            continue
        components[kind][name] = spec["components"][kind][name]
        pending.extend(references(components[kind][name]))
    trimmed = {
        "openapi": spec["openapi"],
        "info": {"title": spec["info"].get("title", source.name), "version": spec["info"]["version"]},
        "servers": spec.get("servers", []),
        "paths": paths,
        "components": {kind: dict(sorted(named.items())) for kind, named in sorted(components.items()) if named},
    }
    if "security" in spec:
        trimmed["security"] = spec["security"]
    return without_prose(trimmed), missing


def main(argv: list[str]) -> int:
    if len(argv) != 2 or not Path(argv[1]).is_dir():
        print("usage: python -m tests.contracts.trim_specs SPEC_DIR "
              "(a folder holding the official files named in specs/SOURCES.md)", file=sys.stderr)
        return 2
    source_dir = Path(argv[1])
    served = served_operations()
    OUT.mkdir(exist_ok=True)
    rows, unmatched = [], []
    for source in SOURCES:
        wanted = {(m, t) for m, t in served if source_for(t) == source}
        raw = (source_dir / source.file).read_bytes()
        trimmed, missing = trim(read_official(source_dir / source.file), source, wanted)
        unmatched += [f"{m.upper()} {t} ({source.file})" for m, t in sorted(missing)]
        text = json.dumps(trimmed, indent=1, ensure_ascii=False) + "\n"
        (OUT / f"{source.name}.json").write_text(text, encoding="utf-8")
        operations = sum(len(set(ops) & HTTP_METHODS) for ops in trimmed["paths"].values())
        rows.append(f"| `{source.name}.json` | `{source.file}` | {source.url} | {source.mirror} | {source.retrieved} "
                    f"| `{trimmed['info']['version']}` | {operations} | {len(text):,} "
                    f"| `{hashlib.sha256(raw).hexdigest()}` |")
    (OUT / "SOURCES.md").write_text(_sources_md(rows), encoding="utf-8")
    for line in unmatched:
        print(f"trim_specs: the sandbox serves a route the official spec does not have: {line}", file=sys.stderr)
    total = sum(path.stat().st_size for path in OUT.glob("*.json"))
    print(f"trim_specs: wrote {len(SOURCES)} specs, {total:,} bytes, to {OUT.relative_to(REPO)}")
    return 0


def _sources_md(rows: list[str]) -> str:
    return "\n".join([
        "# Trimmed OpenAPI specs: where they come from",
        "",
        ("Generated by `python -m tests.contracts.trim_specs SPEC_DIR` (the official files, named below); "
         "do not edit by hand."),
        "Each file keeps, from the official spec, only the operations the sandbox serves and the components",
        "they reference; prose (descriptions, examples, tags) is dropped. Known spec bugs are patched in memory",
        "by `tests/contracts/patches.py`, each with its reason.",
        "",
        ("| file | official file | published at | copied from (mirror@commit path) | copy dated "
         "| spec `info.version` | operations kept | bytes | sha256 of the official file |"),
        "|---|---|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Data Center has no published OpenAPI spec: its `/rest/api/2` traffic is checked against the Cloud",
        "v2 spec (same issue, search and user shapes), and its Confluence `/rest/api` against Cloud v1 under",
        "`/wiki` (the sandbox serves Data Center Confluence under the same prefix).",
        "",
    ])


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
