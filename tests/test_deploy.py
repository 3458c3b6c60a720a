"""Static checks of deploy/: manifests parse, say what the runbook promises, and use real CLI
commands and real settings. External validators (kustomize, systemd-analyze, docker compose) run
when their binary is on PATH and skip with a reason otherwise; the checks around them always run.
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
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "kubernetes"
DOCKERFILE = DEPLOY / "Dockerfile"
COMPOSE = DEPLOY / "docker-compose.yml"
UNIT = DEPLOY / "systemd" / "postmortem-sync.service"

CONFIG_PATH = "/etc/postmortem-sync/config.toml"
STATE_DIR = "/var/lib/postmortem-sync"
METRICS_PORT = 9464
# The final command set of the CLI (DESIGN.md); deploy/ may only use these.
DEPLOYED_COMMANDS = {"run", "once", "sandbox"}

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


# --- every YAML file ---------------------------------------------------------------------------------


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


# --- Kubernetes ----------------------------------------------------------------------------------------


def kustomizations() -> list[Path]:
    return sorted(K8S.rglob("kustomization.yaml"))


def test_kustomization_resources_exist_and_kinds() -> None:
    """What `kustomize build` would load, checked without the binary."""
    kinds_by_dir = {}
    for kfile in kustomizations():
        k = load_one(kfile)
        assert k["kind"] == "Kustomization"
        kinds = []
        for resource in k["resources"]:
            target = (kfile.parent / resource).resolve()
            if target.is_dir():
                assert (target / "kustomization.yaml").is_file(), f"{rel(kfile)}: {resource} is not a kustomization"
            else:
                assert target.is_file(), f"{rel(kfile)}: resource {resource} does not exist"
                kinds += [doc["kind"] for doc in load_docs(target)]
        kinds_by_dir[kfile.parent.name] = sorted(kinds)

    # The base is exactly one Deployment with its config and Service; the Secret stays out.
    assert kinds_by_dir["base"] == ["ConfigMap", "Deployment", "Service"]
    assert "secret.example.yaml" not in load_one(K8S / "base" / "kustomization.yaml")["resources"]
    # The cronjob overlay adds the CronJob and deletes the base's Deployment and Service.
    overlay = load_one(K8S / "cronjob" / "kustomization.yaml")
    assert "../base" in overlay["resources"] and kinds_by_dir["cronjob"] == ["CronJob"]
    patches = [yaml.safe_load(p["patch"]) for p in overlay["patches"]]
    deleted = {(p["kind"], p["metadata"]["name"]) for p in patches if p.get("$patch") == "delete"}
    assert deleted == {("Deployment", "postmortem-sync"), ("Service", "postmortem-sync")}
    # kustomize applies `images` per kustomization, so the overlay must repeat the base's.
    assert overlay["images"] == load_one(K8S / "base" / "kustomization.yaml")["images"]


def kustomize_command() -> list[str] | None:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    return None


@pytest.mark.parametrize(
    ("overlay", "kinds"),
    [("base", ["ConfigMap", "Deployment", "Service"]), ("cronjob", ["ConfigMap", "CronJob"])],
)
def test_kustomize_build(overlay: str, kinds: list[str]) -> None:
    cmd = kustomize_command()
    if cmd is None:
        pytest.skip("no kustomize or kubectl on PATH; test_kustomization_resources_exist_and_kinds checked the files")
    out = subprocess.run([*cmd, str(K8S / overlay)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    docs = [d for d in yaml.safe_load_all(out.stdout) if d]
    assert sorted(d["kind"] for d in docs) == kinds
    workloads = [d for d in docs if d["kind"] in ("Deployment", "CronJob")]
    images = {c["image"] for d in workloads for c in pod_spec(d)["containers"]}
    assert images and all(re.fullmatch(r"[\w.\-/]+:[\w.\-]+", image) for image in images), images  # tag pinned


def pod_spec(doc: dict) -> dict:
    if doc["kind"] == "Deployment":
        return doc["spec"]["template"]["spec"]
    if doc["kind"] == "CronJob":
        return doc["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    raise AssertionError(f"no pod spec in {doc['kind']}")


def deployment() -> dict:
    return load_one(K8S / "base" / "deployment.yaml")


def cronjob() -> dict:
    return load_one(K8S / "cronjob" / "cronjob.yaml")


def test_deployment_is_a_single_writer() -> None:
    d = deployment()
    assert d["spec"]["replicas"] == 1
    assert d["spec"]["strategy"] == {"type": "Recreate"}
    assert d["spec"]["selector"]["matchLabels"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    assert pod_spec(d)["terminationGracePeriodSeconds"] >= 60  # a cycle finishes on SIGTERM


def test_deployment_probes_hit_the_health_endpoints() -> None:
    (c,) = pod_spec(deployment())["containers"]
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": METRICS_PORT}
    for probe, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        get = c[probe]["httpGet"]
        assert get["path"] == path
        assert get["port"] in ("metrics", METRICS_PORT)
    env = {e["name"]: e.get("value") for e in c["env"]}
    # The probes come from the kubelet, so the endpoint must not listen on loopback only.
    assert env["PMSYNC_DAEMON__METRICS_HOST"] == "0.0.0.0"
    assert env["PMSYNC_DAEMON__METRICS_PORT"] == str(METRICS_PORT)


def test_service_port_matches_container_port() -> None:
    svc = load_one(K8S / "base" / "service.yaml")
    d = deployment()
    (c,) = pod_spec(d)["containers"]
    assert svc["spec"]["type"] == "ClusterIP"
    assert svc["spec"]["selector"].items() <= d["spec"]["template"]["metadata"]["labels"].items()
    (port,) = svc["spec"]["ports"]
    container_ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert port["port"] == METRICS_PORT
    assert port["targetPort"] in (METRICS_PORT, *container_ports) and container_ports["metrics"] == METRICS_PORT


def test_cronjob_runs_once_without_overlap() -> None:
    cj = cronjob()
    assert cj["spec"]["concurrencyPolicy"] == "Forbid"
    spec = pod_spec(cj)
    assert spec["restartPolicy"] == "Never"
    (c,) = spec["containers"]
    assert c["args"][0] == "once"
    # Same hardening and mounts as the daemon: the two must not drift apart.
    (dc,) = pod_spec(deployment())["containers"]
    assert spec["securityContext"] == pod_spec(deployment())["securityContext"]
    assert spec["volumes"] == pod_spec(deployment())["volumes"]
    assert c["volumeMounts"] == dc["volumeMounts"] and c["securityContext"] == dc["securityContext"]


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_pod_is_hardened_and_sized(kind: str) -> None:
    spec = pod_spec(deployment() if kind == "Deployment" else cronjob())
    (c,) = spec["containers"]
    pod_sc, sc = spec.get("securityContext", {}), c.get("securityContext", {})
    assert sc.get("runAsNonRoot", pod_sc.get("runAsNonRoot")) is True
    assert sc.get("runAsUser", pod_sc.get("runAsUser", 0)) != 0
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["capabilities"]["drop"] == ["ALL"]
    assert spec["automountServiceAccountToken"] is False
    for bound in ("requests", "limits"):
        assert set(c["resources"][bound]) >= {"cpu", "memory"}, f"{kind} lacks resources.{bound}"


@pytest.mark.parametrize("kind", ["Deployment", "CronJob"])
def test_pod_mounts_config_and_reads_tokens_from_the_secret(kind: str) -> None:
    spec = pod_spec(deployment() if kind == "Deployment" else cronjob())
    (c,) = spec["containers"]
    volumes = {v["name"]: v for v in spec["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in c["volumeMounts"]}

    # The ConfigMap holds config.toml and is mounted where --config points.
    cm = load_one(K8S / "base" / "configmap.yaml")
    config_dir, config_file = CONFIG_PATH.rsplit("/", 1)
    assert mounts[config_dir]["configMap"]["name"] == cm["metadata"]["name"]
    assert config_file in cm["data"]
    assert c["args"][1:] == ["--config", CONFIG_PATH]
    # State has a writable volume, and the state path points into it.
    assert "emptyDir" in mounts[STATE_DIR] or "persistentVolumeClaim" in mounts[STATE_DIR]
    env = {e["name"]: e for e in c["env"]}
    assert env["PMSYNC_SYNC__STATE_PATH"]["value"].startswith(STATE_DIR + "/")

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
    assert set(secret["stringData"].values()) == {"REPLACE_ME"}


# --- Dockerfile ----------------------------------------------------------------------------------------


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


def exec_form(args: str) -> list[str]:
    value = json.loads(args)
    assert isinstance(value, list), f"not exec form: {args}"
    return value


def test_dockerfile_is_multi_stage_on_python_slim() -> None:
    global_args, *stages = dockerfile_stages()
    defaults = dict(a[1].split("=", 1) for a in global_args if a[0] == "ARG" and "=" in a[1])
    bases = []
    for stage in stages:
        image = stage[0][1].split()[0]
        bases.append(re.sub(r"\$\{(\w+)\}", lambda m: defaults[m.group(1)], image))
    assert len(stages) >= 2
    assert set(bases) == {"python:3.11-slim"}
    final = stages[-1]
    assert any(k == "COPY" and a.startswith("--from=") for k, a in final), "final stage copies nothing built"
    assert not any(k == "RUN" and re.search(r"\bpip\b", a) for k, a in final), "pip runs in the final stage"


def test_dockerfile_runs_non_root_with_the_cli() -> None:
    final = dockerfile_stages()[-1]
    users = [a for k, a in final if k == "USER"]
    assert users, "no USER: the container would run as root"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0") and user == "10001"
    last = {k: a for k, a in final}
    assert exec_form(last["ENTRYPOINT"]) == ["postmortem-sync"]
    assert exec_form(last["CMD"]) == ["run", "--config", CONFIG_PATH]
    assert str(METRICS_PORT) in last["EXPOSE"].split()
    assert STATE_DIR in exec_form(last["VOLUME"])


def test_dockerfile_bakes_in_no_secrets() -> None:
    names = []
    for keyword, args in dockerfile_instructions():
        if keyword == "ENV":
            names += [token.split("=", 1)[0] for token in shlex.split(args)]
        elif keyword == "ARG":
            names.append(args.split("=", 1)[0])
    assert names and not [n for n in names if is_secret_name(n)]
    # The build context is the whole repository: an allow-list keeps local tokens out of it.
    ignore = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()]
    patterns = [line for line in ignore if line and not line.startswith("#")]
    assert patterns[0] == "*" and "!sync/" in patterns


def test_the_image_holds_every_package_the_wheel_installs() -> None:
    """The compose file's sandbox service runs from this image, so its wheel must hold the sandbox too."""
    find = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"]
    packages = {pattern.split(".")[0].rstrip("*") for pattern in find["include"]}
    assert packages == {"sync", "sandbox"}
    builder = dockerfile_stages()[1]
    copied = {args.split()[0].rstrip("/") for keyword, args in builder if keyword == "COPY"}
    assert packages <= copied, f"the builder stage does not copy {sorted(packages - copied)}"
    ignore = [line.strip() for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()]
    assert {f"!{package}/" for package in packages} <= set(ignore), "the build context leaves a package out"


def healthcheck_argv() -> list[str]:
    (args,) = [a for k, a in dockerfile_stages()[-1] if k == "HEALTHCHECK"]
    options, _, cmd = args.partition("CMD ")
    assert "--interval" in options
    return exec_form(cmd)


def test_dockerfile_healthcheck_probes_healthz() -> None:
    """Runs the image's HEALTHCHECK command (with this interpreter) against a real HealthServer."""
    from sync.health import HealthServer, HealthState

    argv = healthcheck_argv()
    assert argv[0] == "python" and "127.0.0.1" in argv[-1] and "/healthz" in argv[-1]
    assert str(METRICS_PORT) in argv[-1]
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


# --- docker compose ------------------------------------------------------------------------------------


def compose() -> dict:
    return load_one(COMPOSE)


def test_compose_daemon_talks_to_the_sandbox() -> None:
    services = compose()["services"]
    assert set(services) == {"daemon", "sandbox"}
    sandbox, daemon = services["sandbox"], services["daemon"]
    assert sandbox["command"] == ["sandbox", "--host", "0.0.0.0", "--port", "8990"]
    assert "test" in sandbox["healthcheck"]
    assert daemon["depends_on"] == {"sandbox": {"condition": "service_healthy"}}
    env = daemon["environment"]
    assert env["PMSYNC_JIRA__URL"] == "http://sandbox:8990"
    assert env["PMSYNC_CONFLUENCE__URL"] == "http://sandbox:8990/wiki"
    assert daemon["stop_grace_period"] == "120s"
    for name, svc in services.items():
        build = svc["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).resolve() == DOCKERFILE, name
        assert svc["read_only"] is True and svc["cap_drop"] == ["ALL"]
        literal_secrets = [k for k in svc.get("environment", {}) if is_secret_name(k) and not k.endswith("_FILE")]
        assert not literal_secrets, f"{name} has secrets inline: {literal_secrets}"


def test_compose_mounts_exist() -> None:
    daemon = compose()["services"]["daemon"]
    binds = [v.split(":") for v in daemon["volumes"] if v.startswith((".", "/"))]
    targets = {target: (COMPOSE.parent / source).resolve() for source, target, *_ in binds}
    assert CONFIG_PATH in targets, "the daemon's config file is not mounted"
    assert daemon["command"][daemon["command"].index("--config") + 1] == CONFIG_PATH
    missing = [rel(src) for src in targets.values() if not src.exists()]
    assert not missing, f"compose mounts files that do not exist yet: {missing}"


def test_compose_config_validates() -> None:
    """`docker compose config` checks the file against the Compose spec; it needs no engine."""
    if not shutil.which("docker") or subprocess.run(["docker", "compose", "version"], capture_output=True).returncode:
        pytest.skip("the docker compose v2 plugin is not installed; structure checked by the other compose tests")
    out = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet", "--no-interpolate"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr


# --- systemd -------------------------------------------------------------------------------------------


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


REQUIRED_UNIT = {
    "Type": "simple",
    "ExecStart": "/opt/postmortem-sync/bin/postmortem-sync run --config " + CONFIG_PATH,
    "DynamicUser": "yes",
    "StateDirectory": "postmortem-sync",
    "ProtectSystem": "strict",
    "ProtectHome": "yes",
    "PrivateTmp": "yes",
    "NoNewPrivileges": "yes",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
    "Restart": "on-failure",
    "TimeoutStopSec": "120",
    "KillSignal": "SIGTERM",
}


def test_unit_has_the_sandboxing_keys() -> None:
    service = [(k, v) for s, k, v in unit_entries() if s == "Service"]
    first = {}
    for k, v in service:
        first.setdefault(k, v)
    assert {k: first.get(k) for k in REQUIRED_UNIT} == REQUIRED_UNIT
    assert "@system-service" in [v for k, v in service if k == "SystemCallFilter"]
    env = dict(v.split("=", 1) for k, v in service if k == "Environment")
    assert env["PMSYNC_SYNC__STATE_PATH"] == "%S/postmortem-sync/state.sqlite3"


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
    """The unit with ExecStart pointing at the installed CLI: `verify` insists the binary exists."""
    exe = shutil.which("postmortem-sync") or str(Path(sys.executable).parent / "postmortem-sync")
    if not Path(exe).exists():
        pytest.skip("postmortem-sync is not installed; run `pip install -e .`")
    unit = tmp_path / UNIT.name
    unit.write_text(UNIT.read_text().replace("/opt/postmortem-sync/bin/postmortem-sync", exe))
    return unit


def test_systemd_analyze_verify(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not on PATH; keys checked by test_unit_has_the_sandboxing_keys")
    out = subprocess.run(
        ["systemd-analyze", "verify", str(unit_for_analysis(tmp_path))], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0 and not out.stderr.strip(), out.stderr


def test_systemd_security_exposure_stays_low(tmp_path: Path) -> None:
    if not shutil.which("systemd-analyze"):
        pytest.skip("systemd-analyze not on PATH")
    unit = unit_for_analysis(tmp_path)
    # --threshold is in tenths: 20 means an exposure score of at most 2.0 ("OK"; it is 1.4 today).
    out = subprocess.run(
        ["systemd-analyze", "security", "--offline=yes", "--threshold=20", "--no-pager", unit.name],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "offline" in out.stderr and "unrecognized" in out.stderr:
        pytest.skip("this systemd-analyze has no --offline (systemd < 250)")
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr


# --- every command line and setting used in deploy/ is real ------------------------------------------


def deployed_commands() -> dict[str, list[str]]:
    """Every argv (after the `postmortem-sync` program name) that deploy/ runs, by where it is."""
    last = {k: a for k, a in dockerfile_stages()[-1]}
    cmds = {"Dockerfile CMD": exec_form(last["CMD"])}
    for name, svc in compose()["services"].items():
        cmds[f"compose {name}"] = svc["command"]
    cmds["k8s Deployment"] = pod_spec(deployment())["containers"][0]["args"]
    cmds["k8s CronJob"] = pod_spec(cronjob())["containers"][0]["args"]
    (exec_start,) = [v for s, k, v in unit_entries() if k == "ExecStart"]
    cmds["systemd ExecStart"] = shlex.split(exec_start)[1:]
    return cmds


@pytest.mark.parametrize("where", sorted(deployed_commands()))
def test_deployed_command_parses_with_the_cli(where: str) -> None:
    """Uses the real argparse parser. Fails until the CLI has the `run` and `once` commands."""
    from sync.cli import build_parser

    argv = deployed_commands()[where]
    assert argv[0] in DEPLOYED_COMMANDS, f"{where}: unexpected command {argv[0]!r}"
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exc:  # argparse reports usage errors by exiting with 2
        pytest.fail(f"{where}: `postmortem-sync {shlex.join(argv)}` is rejected by sync.cli (exit {exc.code})")
    assert args.command == argv[0]
    if "--config" in argv:
        assert str(args.config) == CONFIG_PATH


def settings_model():
    try:
        from sync.settings import Settings
    except ImportError as exc:
        pytest.fail(f"sync.settings.Settings is not available yet ({exc}); deploy/ env names cannot be checked")
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
    config = tomllib.loads(cm["data"]["config.toml"])  # always checked
    settings = settings_model()
    paths = field_paths(settings)
    unknown = sorted(".".join(p) for p in toml_paths(config) if not is_setting(p, paths))
    assert not unknown, f"config.toml keys that are not settings: {unknown}"
