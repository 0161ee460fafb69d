"""The kind e2e assets agree with each other and with the chart: exact version pins, the
kind port mapping and the Envoy NodePort, the Gateway the values attach routes to, the e2e
values rendering and validating like the chart matrix (every state the cluster tests move
the release through), and a script that fails early and cleans up."""

from __future__ import annotations

import copy
import functools
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from tests.chart.support import CRD_DIR, GATEWAY_API_CRDS, _strict, crd_schema, effective_values, ident, render
from tests.chart.test_schemas import is_custom, object_meta_validator, supported_kube_versions
from tests.cluster.kube import Settings

from .conftest import REPO

MANIFESTS = REPO / "manifests"
VALUES = MANIFESTS / "values-kind.yaml"
SCRIPT = REPO / "scripts" / "e2e-kind.sh"
GATEWAY_CRDS = GATEWAY_API_CRDS  # vendored v1.5.1, as the control-plane tier installs


def pins() -> dict[str, str]:
    out = {}
    for line in (MANIFESTS / "versions.env").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = value
    return out


def docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


# ---- versions -------------------------------------------------------------------------

def test_every_prerequisite_is_pinned_to_an_exact_version() -> None:
    p = pins()
    for key in ("KIND_VERSION", "CERT_MANAGER_VERSION", "GATEWAY_API_VERSION", "ENVOY_GATEWAY_VERSION", "KSERVE_VERSION"):
        assert re.fullmatch(r"v\d+\.\d+\.\d+", p[key]), f"{key}={p[key]!r} is not an exact vX.Y.Z"
    # the control-plane tier's pins: Gateway API CRDs it installs, Kubernetes it builds
    assert GATEWAY_CRDS.name == f"gateway-api-{p['GATEWAY_API_VERSION']}", GATEWAY_CRDS
    assert p["GATEWAY_API_VERSION"] == "v1.5.1"
    assert re.fullmatch(r"kindest/node:v1\.\d+\.\d+@sha256:[0-9a-f]{64}", p["KIND_NODE_IMAGE"]), p["KIND_NODE_IMAGE"]
    # KServe v0.20 is what the chart's CRD schemas come from (and the first with spec.canary[]).
    assert p["KSERVE_VERSION"] == "v0.20.0"



def test_the_pins_match_the_control_plane_tier() -> None:
    """kind's Kubernetes minor, KServe and the Gateway API CRDs are those the controlplane tier
    runs (tools/controlplane/*/go.mod, tests/controlplane/conftest.py)."""
    p = pins()
    kube = re.search(r"^\s*k8s\.io/kubernetes (v\d+\.\d+)\.\d+$", (REPO / "tools/controlplane/kubernetes/go.mod").read_text(), re.M)
    assert kube, "k8s.io/kubernetes not required in tools/controlplane/kubernetes/go.mod"
    assert p["KIND_NODE_IMAGE"].startswith(f"kindest/node:{kube[1]}."), (p["KIND_NODE_IMAGE"], kube[1])
    assert f"github.com/kserve/kserve {p['KSERVE_VERSION']}" in (REPO / "tools/controlplane/kserve/go.mod").read_text()
    tier = (REPO / "tests/controlplane/conftest.py").read_text()
    assert f'KSERVE_VERSION = "{p["KSERVE_VERSION"]}"' in tier
    assert f'"gateway-api-{p["GATEWAY_API_VERSION"]}"' in tier
    crds = {d["metadata"]["annotations"]["gateway.networking.k8s.io/bundle-version"]
            for f in GATEWAY_CRDS.glob("*.yaml") for d in docs(f) if d["kind"] == "CustomResourceDefinition"}
    assert crds == {p["GATEWAY_API_VERSION"]}, crds
    assert (GATEWAY_CRDS / "LICENSE").is_file()


def test_the_script_installs_exactly_the_pinned_versions() -> None:
    text = SCRIPT.read_text()
    assert 'source "$REPO_ROOT/manifests/versions.env"' in text
    for key in ("CERT_MANAGER_VERSION", "GATEWAY_API_VERSION", "ENVOY_GATEWAY_VERSION", "KSERVE_VERSION", "KIND_NODE_IMAGE"):
        assert f"${key}" in text or f"${{{key}}}" in text, f"scripts/e2e-kind.sh does not use {key}"
    assert not re.search(r"--version\s+v\d", text), "a version literal in the script instead of versions.env"


# ---- kind cluster and Gateway ------------------------------------------------------------

def test_kind_cluster_config() -> None:
    (cfg,) = docs(MANIFESTS / "kind-cluster.yaml")
    assert cfg["apiVersion"] == "kind.x-k8s.io/v1alpha4" and cfg["kind"] == "Cluster"
    assert set(cfg) <= {"apiVersion", "kind", "name", "nodes", "networking", "featureGates", "runtimeConfig",
                        "containerdConfigPatches", "kubeadmConfigPatches"}
    (node,) = cfg["nodes"]
    assert node["role"] == "control-plane" and node["image"] == pins()["KIND_NODE_IMAGE"]
    (mapping,) = node["extraPortMappings"]
    assert mapping["listenAddress"] == "127.0.0.1" and mapping["protocol"] == "TCP"
    # The Envoy Service's NodePort (manifests/gateway.yaml) is what kind exposes ...
    proxy = next(d for d in docs(MANIFESTS / "gateway.yaml") if d["kind"] == "EnvoyProxy")
    service = proxy["spec"]["provider"]["kubernetes"]["envoyService"]
    assert service["type"] == "NodePort"
    assert service["patch"]["value"]["spec"]["ports"] == [{"port": 80, "nodePort": mapping["containerPort"]}]
    assert 30000 <= mapping["containerPort"] <= 32767
    # ... on the host port the cluster tests call by default.
    s = Settings.from_env("kubectl", "helm")
    assert s.gateway_http == f"http://127.0.0.1:{mapping['hostPort']}" and s.gateway_grpc == f"127.0.0.1:{mapping['hostPort']}"


@functools.lru_cache(maxsize=None)
def gateway_schema(kind: str) -> dict:
    plural = {"Gateway": "gateways", "GatewayClass": "gatewayclasses"}[kind]
    path = GATEWAY_CRDS / f"gateway.networking.k8s.io_{plural}.yaml"
    crd = yaml.safe_load(path.read_text())
    version = next(v for v in crd["spec"]["versions"] if v["name"] == "v1")
    return _strict(copy.deepcopy(version["schema"]["openAPIV3Schema"]))


def test_gateway_and_class_validate_against_gateway_api_v1_5_1() -> None:
    objs = {d["kind"]: d for d in docs(MANIFESTS / "gateway.yaml")}
    errors = []
    for kind in ("Gateway", "GatewayClass"):
        for err in jsonschema.Draft7Validator(gateway_schema(kind)).iter_errors(objs[kind]):
            errors.append(f"{kind} at {'/'.join(map(str, err.absolute_path))}: {err.message}")
    assert not errors, "\n".join(errors)


def test_the_values_attach_routes_to_that_gateway() -> None:
    objs = {d["kind"]: d for d in docs(MANIFESTS / "gateway.yaml")}
    gw, cls, proxy = objs["Gateway"], objs["GatewayClass"], objs["EnvoyProxy"]
    assert cls["spec"]["controllerName"] == "gateway.envoyproxy.io/gatewayclass-controller"
    assert gw["spec"]["gatewayClassName"] == cls["metadata"]["name"]
    ref = cls["spec"]["parametersRef"]
    assert (ref["kind"], ref["name"], ref["namespace"]) == ("EnvoyProxy", proxy["metadata"]["name"], proxy["metadata"]["namespace"])
    (listener,) = gw["spec"]["listeners"]
    assert listener["protocol"] == "HTTP" and listener["port"] == 80
    assert listener["allowedRoutes"]["namespaces"]["from"] == "All"
    values = effective_values(VALUES)
    parents = values["rollout"]["gateway"]["parentRefs"]
    assert parents == [{"name": gw["metadata"]["name"], "namespace": gw["metadata"]["namespace"]}]
    assert values["rollout"]["mode"] == "gateway" and values["serving"]["grpc"]["enabled"]


# ---- the e2e values, in every state the cluster tests move the release through -------------

STATES = {
    "installed": (),
    "canary-20": ("rollout.canary.enabled=true", "rollout.canary.trafficPercent=20"),
    "promoted": ("rollout.canary.enabled=true", "rollout.canary.trafficPercent=100"),
    "shadow": ("rollout.canary.enabled=true", "rollout.canary.trafficPercent=0", "rollout.shadow=true"),
}
TAGS = ("image.train.tag=e2e", "image.serve.tag=e2e")


def render_state(state: str) -> list[dict]:
    return render((VALUES,), (*TAGS, *STATES[state]))


@pytest.fixture(scope="module")
def kube_versions(helm_tool) -> tuple[str, str]:
    versions = supported_kube_versions()
    return versions[0], versions[-1]


@pytest.mark.parametrize("state", STATES)
def test_e2e_values_validate_like_the_chart_matrix(kube_versions, state: str) -> None:
    errors = []
    objects = render_state(state)
    for obj in objects:
        if is_custom(obj):
            if not CRD_DIR.is_dir():
                continue
            group, version = obj["apiVersion"].split("/")
            for err in jsonschema.Draft7Validator(crd_schema(group, obj["kind"], version)).iter_errors(obj):
                errors.append(f"{ident(obj)} at {'/'.join(map(str, err.absolute_path))}: {err.message}")
            for err in object_meta_validator(kube_versions[1]).iter_errors(obj["metadata"]):
                errors.append(f"{ident(obj)} metadata: {err.message}")
            continue
        for version in kube_versions:
            try:
                kubernetes_validate.validate(obj, version, strict=True)
            except kubernetes_validate.ValidationError as e:
                errors.append(f"{ident(obj)} ({version}) at {'/'.join(map(str, e.absolute_path))}: {e.message}")
    assert not errors, "\n".join(errors)


def test_each_state_renders_the_split_the_cluster_tests_expect(helm_tool) -> None:
    def weights(state):
        route = next(o for o in render_state(state) if o["kind"] == "HTTPRoute")
        rule = route["spec"]["rules"][0]
        return ([(b["name"], b["weight"]) for b in rule["backendRefs"]],
                [f["requestMirror"]["backendRef"]["name"] for f in rule.get("filters", [])])

    installed, mirrors = weights("installed")
    assert [w for _, w in installed] == [100] and mirrors == []
    (stable, s_w), (canary, c_w) = weights("canary-20")[0]
    assert (s_w, c_w) == (80, 20) and stable.endswith("-v1-predictor") and canary.endswith("-v2-predictor")
    assert [w for _, w in weights("promoted")[0]] == [0, 100]
    shadow_backends, mirrors = weights("shadow")
    assert shadow_backends == [(stable, 100)] and mirrors == [canary]
    # gRPC follows the same split through a GRPCRoute on the same Gateway
    grpc = next(o for o in render_state("canary-20") if o["kind"] == "GRPCRoute")
    assert [b["weight"] for b in grpc["spec"]["rules"][0]["backendRefs"]] == [80, 20]


def test_images_come_from_kind_load_not_a_registry(helm_tool) -> None:
    objects = render_state("canary-20")
    images = set()
    for obj in objects:
        spec = obj.get("spec", {})
        pods = [spec.get("template", {}).get("spec", {}), spec if obj["kind"] == "Pod" else {}]
        if obj["kind"] == "InferenceService":
            pods += [spec["predictor"]]
        for pod in pods:
            for c in pod.get("containers", []) + pod.get("initContainers", []):
                images.add(c["image"])
                assert c.get("imagePullPolicy") == "IfNotPresent", (ident(obj), c["name"])
    assert images == {"credit-score-train:e2e", "credit-score-serve:e2e"}, images


# ---- the script ----------------------------------------------------------------------------

def test_script_structure() -> None:
    text = SCRIPT.read_text()
    assert text.startswith("#!/usr/bin/env bash") and "\nset -euo pipefail\n" in text
    for tool in ("docker", "kind", "kubectl", "helm"):
        assert f"problems+=(\"{tool}:" in text, f"the preflight does not name {tool}"
    for needle in ("trap on_exit EXIT", 'KEEP_CLUSTER" == 1', "kind-cluster.yaml", "gateway.yaml", "values-kind.yaml",
                   "scripts/docker-build.sh", "load docker-image", "--for=condition=Ready", "pytest -m cluster",
                   "get events", "logs", "delete cluster"):
        assert needle in text, f"scripts/e2e-kind.sh lacks {needle!r}"


def test_script_preflight_names_what_is_missing(tmp_path) -> None:
    """With an empty PATH apart from bash's own needs, the preflight lists the tools and exits 1."""
    bindir = tmp_path / "bin"
    bindir.mkdir()
    for tool in ("sort", "head", "awk", "sed", "dirname", "printf", "cat"):
        found = shutil.which(tool)
        if found:
            (bindir / tool).symlink_to(found)
    env = {"PATH": str(bindir), "HOME": str(tmp_path), "PYTHON": "/nonexistent/python"}
    proc = subprocess.run([shutil.which("bash"), str(SCRIPT)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    for tool in ("docker: not found", "kind: not found", "kubectl: not found", "python:"):
        assert tool in proc.stderr, proc.stderr
    assert "creating kind cluster" not in proc.stderr
