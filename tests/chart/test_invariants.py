"""Invariants over every object of every values file: names, labels, images, resources,
security contexts, service accounts, writable paths, selectors and secrets."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from .support import (
    CHART,
    RELEASE,
    by_kind,
    ci_values_files,
    env_of,
    ident,
    one,
    pod_views,
    render,
    render_ci,
    slot,
    effective_values,
)

pytestmark = pytest.mark.chart

CI_FILES = ci_values_files()
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
RECOMMENDED = ("app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
               "app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by", "helm.sh/chart")
APP_VERSION = yaml.safe_load((CHART / "Chart.yaml").read_text())["appVersion"]


def kserve_names(obj: dict) -> list[str]:
    """Names KServe and Knative derive from an InferenceService (Deployment/Service/revision)."""
    name = obj["metadata"]["name"]
    names = [f"{name}-predictor", f"{name}-predictor-00001"]
    for p in [obj["spec"]["predictor"]] + [c["predictor"] for c in obj["spec"].get("canary", [])]:
        if p.get("name"):
            names.append(f"{name}-{p['name']}-predictor")
    return names


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_names_are_dns_labels_within_63(tools, values: Path):
    for obj in render((values,)):
        names = [obj["metadata"]["name"]]
        if obj["kind"] == "InferenceService":
            names += kserve_names(obj)
        for name in names:
            assert len(name) <= 63 and DNS_LABEL.match(name), f"{ident(obj)}: {name!r}"


def test_names_fit_63_with_a_long_release_name(tools):
    long = tuple(["fullnameOverride=" + "a" * 63, "rollout.canary.enabled=true",
                  "rollout.canary.version=123456", "serving.stable.version=123455"])
    for values in ("default-values.yaml", "standard-canary-10-values.yaml", "gateway-canary-10-values.yaml",
                   "knative-canary-10-values.yaml"):
        for obj in render_ci(values, *long):
            for name in [obj["metadata"]["name"]] + (kserve_names(obj) if obj["kind"] == "InferenceService" else []):
                assert len(name) <= 63 and DNS_LABEL.match(name), f"{values} {ident(obj)}: {name!r}"


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_labels_follow_the_recommended_set(tools, values: Path):
    for obj in render((values,)):
        labels = obj["metadata"].get("labels", {})
        missing = [k for k in RECOMMENDED if k not in labels]
        assert not missing, f"{ident(obj)} lacks {missing}"
        assert labels["app.kubernetes.io/instance"] == RELEASE
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["app.kubernetes.io/version"] == APP_VERSION
        for k, v in labels.items():
            assert len(v) <= 63 and LABEL_VALUE.match(v), f"{ident(obj)} label {k}={v!r}"
    for pod in pod_views(render((values,))):
        missing = [k for k in RECOMMENDED if k not in pod.labels]
        assert not missing, f"{pod.owner} pod template lacks {missing}"


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_every_container_has_resources_security_and_a_pinned_image(tools, values: Path):
    knative = effective_values(values)["rollout"]["mode"] == "knative"
    for pod in pod_views(render((values,))):
        if knative and pod.owner.startswith("InferenceService/"):
            # Knative rejects a pod-level securityContext unless a feature flag is on
            assert "securityContext" not in pod.spec, pod.owner
        else:
            psc = pod.spec["securityContext"]
            assert psc["runAsNonRoot"] is True and psc["runAsUser"] == 10001 and psc["runAsGroup"] == 10001, pod.owner
            assert psc["fsGroup"] == 10001 and psc["seccompProfile"] == {"type": "RuntimeDefault"}, pod.owner
        for where, c in pod.containers():
            for part in ("requests", "limits"):
                assert {"cpu", "memory"} <= c["resources"][part].keys(), f"{where}: resources.{part}"
            sc = c["securityContext"]
            assert sc["readOnlyRootFilesystem"] is True, where
            assert sc["allowPrivilegeEscalation"] is False and sc["privileged"] is False, where
            assert sc["capabilities"]["drop"] == ["ALL"] and not sc["capabilities"].get("add"), where
            assert sc["runAsNonRoot"] is True and sc["seccompProfile"] == {"type": "RuntimeDefault"}, where
            assert sc["runAsUser"] == 10001 and sc["runAsGroup"] == 10001, where
            image = c["image"]
            assert ":" in image.rsplit("/", 1)[-1], f"{where}: {image} has no tag"
            assert not image.endswith(":latest"), f"{where}: {image}"


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_writable_paths_are_emptydirs_or_data_volumes(tools, values: Path):
    for pod in pod_views(render((values,))):
        volumes = {v["name"]: v for v in pod.spec.get("volumes", [])}
        assert volumes["tmp"]["emptyDir"].get("sizeLimit"), pod.owner
        for where, c in pod.containers():
            mounts = {m["mountPath"]: m for m in c.get("volumeMounts", [])}
            assert mounts.get("/tmp", {}).get("name") == "tmp", f"{where} has no writable /tmp"
            for path, m in mounts.items():
                v = volumes[m["name"]]
                if "configMap" in v or "secret" in v:
                    assert m.get("readOnly") is True, f"{where}: {path}"
                if "emptyDir" in v:
                    assert path in ("/tmp", "/data"), f"{where}: emptyDir at {path}"


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_service_accounts_one_per_component_without_tokens(tools, values: Path):
    objects = render((values,))
    accounts = {o["metadata"]["name"]: o for o in by_kind(objects, "ServiceAccount")}
    for sa in accounts.values():
        assert sa["automountServiceAccountToken"] is False, ident(sa)
    used = set()
    for pod in pod_views(objects):
        name = pod.spec["serviceAccountName"]
        assert name in accounts, f"{pod.owner} uses {name}, which the chart does not render"
        # a pod's own field wins over its account's; a TrainJob's runtimePatches cannot set it,
        # so its pods inherit the account's false
        if pod.owner.startswith("TrainJob/"):
            assert "automountServiceAccountToken" not in pod.spec, pod.owner
        else:
            assert pod.spec["automountServiceAccountToken"] is False, pod.owner
        used.add((accounts[name]["metadata"]["labels"]["app.kubernetes.io/component"], pod.labels["app.kubernetes.io/component"]))
    assert all(sa == pod for sa, pod in used), f"service accounts shared across components: {used}"
    assert len(accounts) == len({c for c, _ in used}), "a ServiceAccount no pod uses"


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_no_secrets_in_rendered_objects(tools, values: Path):
    objects = render((values,))
    assert not by_kind(objects, "Secret")
    suspicious = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY$|BACKEND_STORE_URI)", re.I)
    for pod in pod_views(objects):
        for where, c in pod.containers():
            for e in c.get("env", []):
                if suspicious.search(e["name"]):
                    assert "valueFrom" in e and "secretKeyRef" in e["valueFrom"], f"{where}: {e['name']} must come from a Secret"


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_selectors_and_network_policy_reach_the_right_pods(tools, values: Path):
    objects = render((values,))
    pods = pod_views(objects)
    for dep in by_kind(objects, "Deployment"):
        sel = dep["spec"]["selector"]["matchLabels"]
        assert sel.items() <= dep["spec"]["template"]["metadata"]["labels"].items()
        assert set(sel) == {"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/component"}
        svc = one(objects, "Service")
        assert svc["spec"]["selector"] == sel
    policies = {np["metadata"]["labels"]["app.kubernetes.io/component"]: np for np in by_kind(objects, "NetworkPolicy")}
    components = {p.labels["app.kubernetes.io/component"] for p in pods}
    assert set(policies) == components - {"predictor"}, "a NetworkPolicy for every pod the chart runs itself"
    for component, np in policies.items():
        target = np["spec"]["podSelector"]["matchLabels"]
        selected = {p.owner for p in pods if target.items() <= p.labels.items()}
        assert selected == {p.owner for p in pods if p.labels["app.kubernetes.io/component"] == component}, component
        assert np["spec"]["policyTypes"] == ["Ingress"]
        if component == "training" and by_kind(objects, "TrainJob"):
            # torchrun's rendezvous, then gloo/NCCL peer connections on ephemeral ports
            (rule,) = np["spec"]["ingress"]
            assert rule["ports"] == [{"protocol": "TCP"}], rule
            assert [f["podSelector"]["matchLabels"] for f in rule["from"]] == [target], "the ranks, and only they"
            continue
        if component != "mlflow":
            assert np["spec"]["ingress"] == [], f"{component} pods accept no connections"
            continue
        peers = [f["podSelector"]["matchLabels"] for f in np["spec"]["ingress"][0]["from"] if "podSelector" in f]
        allowed = {p.owner.split()[0] for p in pods if any(peer.items() <= p.labels.items() for peer in peers)}
        expected = {p.owner.split()[0] for p in pods if p.labels["app.kubernetes.io/component"] in ("training", "predictor")}
        assert allowed == expected and expected, (allowed, expected)


def test_checksum_annotations_roll_pods_when_config_changes(tools):
    def mlflow_checksum(*sets):
        return one(render_ci("auth-values.yaml", *sets), "Deployment")["spec"]["template"]["metadata"]["annotations"]["checksum/config"]
    assert mlflow_checksum() == mlflow_checksum()
    assert mlflow_checksum() != mlflow_checksum("mlflow.auth.defaultPermission=EDIT")
    assert mlflow_checksum() != mlflow_checksum("mlflow.workers=2")
    job = one(render_ci("default-values.yaml"), "Job")
    assert job["spec"]["template"]["metadata"]["annotations"]["checksum/config"]


def test_image_tags_default_to_app_version(tools):
    images = {c["image"] for p in pod_views(render_ci("default-values.yaml")) for _, c in p.containers()}
    assert images == {f"credit-score-train:{APP_VERSION}", f"credit-score-serve:{APP_VERSION}"}
    images = {c["image"] for p in pod_views(render_ci("default-values.yaml", "image.registry=reg.example.com/ml", "image.serve.tag=1.2.3"))
              for _, c in p.containers()}
    assert images == {f"reg.example.com/ml/credit-score-train:{APP_VERSION}", "reg.example.com/ml/credit-score-serve:1.2.3"}


def test_predictor_probes_use_v2_health(tools):
    for values in ("default-values.yaml", "knative-values.yaml"):
        p = one(render_ci(values), "InferenceService")["spec"]["predictor"]
        (c,) = p["containers"]
        assert c["readinessProbe"]["httpGet"] == {"path": "/v2/models/credit-score/ready", "port": 8080}
        assert c["livenessProbe"]["httpGet"] == {"path": "/v2/health/live", "port": 8080}


def test_the_request_size_limit_reaches_the_predictor_and_no_worker_count_does(tools):
    """serving.maxRequestBytes is MAX_REQUEST_BYTES of every predictor container; the model
    server runs one process per pod (it scales by replicas), so no WORKERS is set."""
    for values, sets in (("default-values.yaml", ()), ("standard-canary-10-values.yaml", ("serving.maxRequestBytes=2048",))):
        isvc = one(render_ci(values, *sets), "InferenceService")
        predictors = [isvc["spec"]["predictor"]] + [c["predictor"] for c in isvc["spec"].get("canary", [])]
        for p in predictors:
            env = env_of(p["containers"][0])
            assert env["MAX_REQUEST_BYTES"] == ("2048" if sets else str(16 * 1024 * 1024))
            assert "WORKERS" not in env


def test_standard_mode_replaces_kserve_storage_initializer(tools):
    """A custom predictor with STORAGE_URI gets KServe's storage initializer, which cannot fetch
    models:/ URIs, unless the pod has an init container of that name: ours checks the reference."""
    v = effective_values()
    isvc = one(render_ci("standard-canary-10-values.yaml"), "InferenceService")
    for p in (isvc["spec"]["predictor"], isvc["spec"]["canary"][0]["predictor"]):
        (init,) = p["initContainers"]
        assert init["name"] == "storage-initializer"
        assert init["image"].startswith(v["image"]["serve"]["repository"])
    knative = one(render_ci("knative-canary-10-values.yaml"), "InferenceService")["spec"]["predictor"]
    assert "initContainers" not in knative
    assert "STORAGE_URI" not in {e["name"] for e in knative["containers"][0]["env"]}
    assert slot(v["serving"]["stable"]) == "v1"


def test_pull_secrets_reach_every_pod(tools):
    for values in ("default-values.yaml", "knative-canary-10-values.yaml", "gateway-canary-10-values.yaml"):
        for pod in pod_views(render_ci(values, "image.pullSecrets[0]=regcred")):
            assert pod.spec["imagePullSecrets"] == [{"name": "regcred"}], pod.owner


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_rendered_yaml_is_tidy(tools, values: Path):
    from .support import render_text

    text = render_text((values,))
    untidy = [n for n, line in enumerate(text.splitlines(), 1) if line != line.rstrip()]
    assert not untidy, f"lines with trailing whitespace: {untidy[:10]}"


def test_serving_can_be_turned_off(tools):
    objects = render_ci("gateway-canary-10-values.yaml", "serving.enabled=false")
    kinds = {o["kind"] for o in objects}
    assert not kinds & {"InferenceService", "HTTPRoute", "GRPCRoute", "Pod"}
    assert not [o for o in objects if o["metadata"]["labels"]["app.kubernetes.io/component"] in ("predictor", "test", "rollout")]
