"""Deploy files: the systemd unit verifies, the Kubernetes and compose YAML hold what they promise,
deploy/docker/build-steps.sh runs the Dockerfile's steps here (no container engine), and every
example config passes `sluice check-config`."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tomllib
import urllib.request
from pathlib import Path

import pytest

import support

DEPLOY = support.REPO / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
DOCKER = DEPLOY / "docker"
EXAMPLES = sorted((DEPLOY / "examples").glob("*.toml"))

# The Kubernetes Secret's variable, used wherever a config expects its url from the environment.
SECRET_URL = "postgresql://app:secret@db.example.internal:5432/app?sslmode=verify-full&sslrootcert=system"


def check_config(path: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    support.require_binary()
    return subprocess.run([support.SLUICE_BIN, "check-config", "--config", str(path)], capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL, env=support.sluice_environment(env))


# ---------------------------------------------------------------- examples

@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_passes_check_config(example):
    result = check_config(example)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK" in result.stdout


def test_examples_present():
    assert {p.name for p in EXAMPLES} >= {"neon.toml", "two-apps.toml", "local.toml"}


def test_neon_example_is_scale_to_zero_friendly():
    config = tomllib.loads((DEPLOY / "examples" / "neon.toml").read_text())
    assert set(config["databases"]) == {"app", "app_auth"}
    assert config["sluice"]["min_pool_size"] == 0
    assert "server_idle_timeout" in config["sluice"]
    for db in config["databases"].values():
        assert "sslmode=verify-full" in db["url"] and "sslrootcert=system" in db["url"]
        assert "options=endpoint%3Dep-" in db["url"]


# ---------------------------------------------------------------- systemd

def _systemd_analyze() -> str:
    path = shutil.which("systemd-analyze")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "systemd"],
                       capture_output=True, timeout=600, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        path = shutil.which("systemd-analyze")
    if path is None:
        pytest.skip("systemd-analyze is not installed (apt-get install systemd)")
    return path


def _unit_settings(text: str) -> dict[str, list[str]]:
    settings: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            settings.setdefault(key.strip(), []).append(value.strip())
    return settings


def test_systemd_unit_settings():
    settings = _unit_settings((DEPLOY / "systemd" / "sluice.service").read_text())
    expected = {
        "DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "LimitNOFILE": "65536",
        "ExecReload": "/bin/kill -HUP $MAINPID", "KillSignal": "SIGTERM", "PrivateTmp": "yes", "ProtectHome": "yes",
        "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "CapabilityBoundingSet": "",
        "ExecStart": "/usr/local/bin/sluice --config /etc/sluice/sluice.toml",
    }
    for key, value in expected.items():
        assert settings.get(key) == [value], f"{key}: {settings.get(key)}"
    shutdown_timeout = 30  # sluice's default, which the unit's comment assumes
    assert int(settings["TimeoutStopSec"][0]) >= shutdown_timeout + 5


def test_systemd_unit_verifies(tmp_path):
    analyze = _systemd_analyze()
    support.require_binary()
    # verify checks that the binary exists: point a copy at the one we built.
    unit = tmp_path / "sluice.service"
    unit.write_text((DEPLOY / "systemd" / "sluice.service").read_text().replace("/usr/local/bin/sluice", support.SLUICE_BIN))
    result = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "sluice.service" not in result.stderr, result.stderr
    # Exposure score (lower is safer; systemd calls < 2 "OK").
    security = subprocess.run([analyze, "security", "--offline=true", str(unit)], capture_output=True, text=True,
                              timeout=60)
    match = re.search(r"Overall exposure level for \S+: ([0-9.]+)", security.stdout + security.stderr)
    if match:
        assert float(match.group(1)) < 2.0, security.stdout[-2000:]


# ---------------------------------------------------------------- Kubernetes

def _kubernetes_documents() -> dict[str, dict]:
    yaml = pytest.importorskip("yaml")
    documents: dict[str, dict] = {}
    for path in sorted(KUBERNETES.glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document:
                documents[document["kind"]] = document
    return documents


def test_kubernetes_manifests_parse_and_are_complete():
    documents = _kubernetes_documents()
    assert set(documents) >= {"Deployment", "Service", "ConfigMap", "Secret", "PodDisruptionBudget",
                              "HorizontalPodAutoscaler", "ServiceMonitor", "PrometheusRule", "Kustomization"}
    listed = set(documents["Kustomization"]["resources"])
    assert listed == {p.name for p in KUBERNETES.glob("*.yaml")} - {"kustomization.yaml"}


def test_kubernetes_prometheus_rule_is_the_alert_rules_file():
    yaml = pytest.importorskip("yaml")
    rule = _kubernetes_documents()["PrometheusRule"]
    alerts = yaml.safe_load((KUBERNETES / "../prometheus/alerts.yml").read_text())
    assert rule["spec"]["groups"] == alerts["groups"], "prometheusrule.yaml differs from deploy/prometheus/alerts.yml"


def test_kubernetes_deployment_fields():
    documents = _kubernetes_documents()
    deployment = documents["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    pre_stop = container["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    config = tomllib.loads(documents["ConfigMap"]["data"]["sluice.toml"])
    shutdown_timeout = config["sluice"].get("shutdown_timeout", 30)
    assert pod["terminationGracePeriodSeconds"] > shutdown_timeout + int(pre_stop[1])
    assert container["resources"]["requests"] and container["resources"]["limits"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert {"name": "config", "mountPath": "/etc/sluice", "readOnly": True} in container["volumeMounts"]
    secret_name = container["envFrom"][0]["secretRef"]["name"]
    assert documents["Secret"]["metadata"]["name"] == secret_name
    assert "SLUICE_DATABASES__app__URL" in documents["Secret"]["stringData"]
    # Ports: the Service and the ServiceMonitor use the container's names.
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"postgres": 6432, "metrics": 9187}
    assert {p["targetPort"] for p in documents["Service"]["spec"]["ports"]} == set(ports)
    assert documents["ServiceMonitor"]["spec"]["endpoints"][0]["port"] == "metrics"
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    for kind in ("Service", "PodDisruptionBudget"):
        selector = documents[kind]["spec"]["selector"]
        selector = selector.get("matchLabels", selector)
        assert selector.items() <= labels.items(), kind
    assert documents["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]


def test_kubernetes_sizing_arithmetic_holds():
    """Σ pool_size × (maxReplicas + maxSurge) ≤ max_connections − reserved, with the numbers the comments use."""
    documents = _kubernetes_documents()
    config = tomllib.loads(documents["ConfigMap"]["data"]["sluice.toml"])
    default = config["sluice"].get("default_pool_size", 20)
    pools = sum(db.get("pool_size", default) for db in config["databases"].values())
    pods = (documents["HorizontalPodAutoscaler"]["spec"]["maxReplicas"]
            + documents["Deployment"]["spec"]["strategy"]["rollingUpdate"]["maxSurge"])
    assert pools * pods <= 100 - 3
    comment = (KUBERNETES / "configmap.yaml").read_text()
    assert f"{pools} × ({pods - 1} + 1) = {pools * pods}" in comment


def test_kubernetes_config_passes_check_config(tmp_path):
    documents = _kubernetes_documents()
    path = tmp_path / "sluice.toml"
    path.write_text(documents["ConfigMap"]["data"]["sluice.toml"])
    env = dict(documents["Secret"]["stringData"])
    result = check_config(path, env)
    assert result.returncode == 0, result.stdout + result.stderr


# ---------------------------------------------------------------- compose, Prometheus, Grafana

def test_compose_stack():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    services = compose["services"]
    assert set(services) >= {"postgres", "sluice", "prometheus", "grafana"}
    assert services["postgres"]["image"].startswith("postgres:15")
    build = services["sluice"]["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == (DOCKER / "Dockerfile").resolve()
    volumes = " ".join(services["prometheus"]["volumes"] + services["grafana"]["volumes"] + services["sluice"]["volumes"])
    assert "./prometheus.yml:" in volumes and "../grafana/sluice-dashboard.json:" in volumes
    assert (DOCKER / "../grafana/sluice-dashboard.json").resolve().is_file()
    assert "./grafana-provisioning:/etc/grafana/provisioning" in volumes
    prometheus = yaml.safe_load((DOCKER / "prometheus.yml").read_text())
    targets = [t for job in prometheus["scrape_configs"] for c in job["static_configs"] for t in c["targets"]]
    assert "sluice:9187" in targets
    # The alert rules are loaded: each rule file named is a mount of deploy/prometheus/alerts.yml.
    mounts = {}  # container path -> host path, of the bind mounts ("HOST:CONTAINER[:ro]")
    for volume in services["prometheus"]["volumes"]:
        host, container = volume.split(":")[:2]
        if host.startswith("."):
            mounts[container] = host
    assert prometheus["rule_files"], "compose's Prometheus loads no alert rules"
    for rule_file in prometheus["rule_files"]:
        assert rule_file in mounts, f"{rule_file} is not mounted into the prometheus service"
        assert (DOCKER / mounts[rule_file]).resolve() == (DOCKER / "../prometheus/alerts.yml").resolve()
    for path in (DOCKER / "grafana-provisioning").rglob("*.yaml"):
        assert yaml.safe_load(path.read_text())["apiVersion"] == 1
    datasource = yaml.safe_load((DOCKER / "grafana-provisioning/datasources/prometheus.yaml").read_text())
    assert datasource["datasources"][0]["url"] == "http://prometheus:9090"


def test_compose_sluice_config_passes_check_config():
    yaml = pytest.importorskip("yaml")
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    env = {k: str(v) for k, v in compose["services"]["sluice"]["environment"].items()}
    result = check_config(DOCKER / "sluice.toml", env)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_shape():
    text = (DOCKER / "Dockerfile").read_text()
    assert re.search(r"^FROM swift:6\.3-bookworm AS build$", text, re.M)
    assert re.search(r"^FROM debian:bookworm-slim$", text, re.M)
    install = re.search(r"apt-get install -y --no-install-recommends ([^\\&\n]+)", text.split("FROM debian")[1]).group(1)
    assert set(install.split()) == {"libssl3", "libpq5", "ca-certificates", "curl"}
    assert re.search(r"^USER 10001", text, re.M)
    assert re.search(r"^EXPOSE 6432 9187$", text, re.M)
    assert "http://127.0.0.1:9187/health" in text.split("HEALTHCHECK", 1)[1]
    assert "deploy/docker/build-steps.sh" in text


# ---------------------------------------------------------------- build-steps.sh and the staged image

@pytest.fixture(scope="module")
def staged_image(tmp_path_factory):
    """Runs deploy/docker/build-steps.sh; SLUICE_TEST_RELEASE_BUILD=1 makes it do the release build
    itself (minutes), otherwise it stages the sluice binary under test."""
    support.require_binary()
    if os.environ.get("SLUICE_TEST_SANITIZE"):
        pytest.skip("a sanitized binary links the sanitizer runtime's libraries, which the image does not ship")
    stage = tmp_path_factory.mktemp("image")
    command = [str(DOCKER / "build-steps.sh"), "--stage", str(stage)]
    if os.environ.get("SLUICE_TEST_RELEASE_BUILD", "") in ("", "0"):
        command += ["--binary", support.SLUICE_BIN]
    else:
        command += ["--scratch-path", str(support.REPO / ".build-deploy-test")]
    result = subprocess.run(command, capture_output=True, text=True, timeout=3600, env=support.sluice_environment())
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return stage, result.stdout


@pytest.mark.timeout(3700)
def test_build_steps_stage_the_runtime_layout(staged_image):
    stage, output = staged_image
    assert "[build-steps] OK" in output
    assert (stage / "usr/local/bin/sluice").is_file()
    assert os.access(stage / "usr/local/bin/sluice-entrypoint", os.X_OK)
    libraries = (stage / "usr/local/share/sluice/runtime-libraries.txt").read_text().split()
    names = {Path(p).name for p in libraries}
    assert {"libswiftCore.so", "libFoundation.so", "libdispatch.so"} <= names
    for path in libraries:
        assert (stage / path.lstrip("/")).is_file(), path
    assert all(re.fullmatch(r"lib(swift\w*|_?Foundation\w*|dispatch|BlocksRuntime)\.so", n) for n in names), names
    # Everything else comes from the runtime image's packages.
    system = re.findall(r"^\s+(\S+)\s+← (.+)$", output, re.M)
    assert {lib for lib, _ in system} <= {"libssl.so.3", "libcrypto.so.3", "libpq.so.5", "libc.so.6", "libm.so.6",
                                          "ld-linux-x86-64.so.2", "ld-linux-aarch64.so.1", "libpthread.so.0",
                                          "libdl.so.2", "librt.so.1", "libstdc++.so.6", "libgcc_s.so.1",
                                          "libcurl.so.4"}


@pytest.mark.timeout(3700)
def test_staged_image_serves_from_environment_only(staged_image, pg):
    """Like `docker run -e SLUICE_DATABASES__app__URL=…`: the entrypoint, no file, the staged Swift runtime;
    then the HEALTHCHECK's request and a client through the pooler."""
    stage, _ = staged_image
    libraries = (stage / "usr/local/share/sluice/runtime-libraries.txt").read_text().split()
    library_path = ":".join(sorted({str(stage / Path(p).parent.relative_to("/")) for p in libraries}))
    port, admin_port = support.free_port(), support.free_port()
    env = {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": library_path, "SLUICE_CONFIG": "",
           "SLUICE_LISTEN": f"127.0.0.1:{port}", "SLUICE_ADMIN_LISTEN": f"127.0.0.1:{admin_port}",
           "SLUICE_DATABASES__app__URL": support.upstream_url("app", "app")}
    process = subprocess.Popen([str(stage / "usr/local/bin/sluice-entrypoint"), "run"], env=env,
                               stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        support.wait_until(lambda: support.port_accepts("127.0.0.1", port), 15, message="sluice listening")
        support.wait_until(lambda: support.port_accepts("127.0.0.1", admin_port), 15, message="admin listening")
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/health", timeout=5) as response:
            assert response.status == 200
        endpoint = support.Endpoint()
        endpoint.port = port
        connection = endpoint.connect()
        try:
            with connection.cursor() as cursor:
                cursor.execute("select 1")
                assert cursor.fetchone() == (1,)
        finally:
            connection.close()
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    assert process.returncode == 0, process.stdout.read().decode(errors="replace")[-3000:]
