"""Traffic on the rendered objects matches the values, for every entry of the matrix:
knative `canaryTrafficPercent`, standard `spec.canary[]`, gateway route weights and mirror."""

from __future__ import annotations

from pathlib import Path

import pytest

from .support import (
    RELEASE,
    by_kind,
    ci_values_files,
    effective_values,
    env_of,
    model_uri,
    one,
    render,
    render_ci,
    slot,
)

pytestmark = pytest.mark.chart

CI_FILES = ci_values_files()
BASE = f"{RELEASE}-credit-score"


def kserve_container(predictor: dict) -> dict:
    (c,) = [c for c in predictor["containers"] if c["name"] == "kserve-container"]
    return c


def served_uri(predictor: dict) -> str:
    return env_of(kserve_container(predictor))["MODEL_URI"]


def route_weights(route: dict) -> dict[str, int]:
    (rule,) = route["spec"]["rules"]
    return {b["name"]: b["weight"] for b in rule["backendRefs"]}


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_traffic_matches_values(tools, values: Path):
    v = effective_values(values)
    mode, canary, stable = v["rollout"]["mode"], v["rollout"]["canary"], v["serving"]["stable"]
    pct = canary["trafficPercent"] if canary["enabled"] else 0
    objects = render((values,))
    isvcs = {o["metadata"]["name"]: o for o in by_kind(objects, "InferenceService")}

    if mode == "knative":
        (isvc,) = isvcs.values()
        p = isvc["spec"]["predictor"]
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
        assert "canary" not in isvc["spec"]
        if canary["enabled"]:
            # the spec carries the canary; KServe keeps the previous revision (stable) for the rest
            assert p["canaryTrafficPercent"] == pct
            assert served_uri(p) == model_uri(canary)
        else:
            assert "canaryTrafficPercent" not in p
            assert served_uri(p) == model_uri(stable)
        assert not by_kind(objects, "HTTPRoute")

    elif mode == "standard":
        (isvc,) = isvcs.values()
        p = isvc["spec"]["predictor"]
        assert isvc["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
        assert p["name"] == slot(stable) and served_uri(p) == model_uri(stable)
        assert "canaryTrafficPercent" not in p
        if canary["enabled"]:
            (entry,) = isvc["spec"]["canary"]
            assert entry["trafficPercent"] == pct
            cp = entry["predictor"]
            assert cp["name"] == slot(canary) and served_uri(cp) == model_uri(canary)
            # KServe v0.20 rejects autoscaling fields on a canary, and minReplicas above stable's
            assert not {"maxReplicas", "scaleMetric", "scaleTarget", "autoScaling"} & cp.keys()
            assert cp["minReplicas"] <= p["minReplicas"]
            # KServe requires a storage URI on the stable predictor of an ISVC with canaries
            assert env_of(kserve_container(p))["STORAGE_URI"] == model_uri(stable)
        else:
            assert "canary" not in isvc["spec"]
        assert not by_kind(objects, "HTTPRoute")

    else:  # gateway
        stable_isvc = isvcs.pop(f"{BASE}-{slot(stable)}")
        assert served_uri(stable_isvc["spec"]["predictor"]) == model_uri(stable)
        route = one(objects, "HTTPRoute")
        weights = route_weights(route)
        (rule,) = route["spec"]["rules"]
        stable_svc = f"{BASE}-{slot(stable)}-predictor"
        if canary["enabled"]:
            canary_isvc = isvcs.pop(f"{BASE}-{slot(canary)}")
            assert served_uri(canary_isvc["spec"]["predictor"]) == model_uri(canary)
            canary_svc = f"{BASE}-{slot(canary)}-predictor"
            if v["rollout"]["shadow"]:
                assert weights == {stable_svc: 100}
                (mirror,) = rule["filters"]
                assert mirror == {"type": "RequestMirror", "requestMirror": {"backendRef": {"name": canary_svc, "port": 80}}}
            else:
                assert weights == {stable_svc: 100 - pct, canary_svc: pct}
                assert "filters" not in rule
        else:
            assert weights == {stable_svc: 100}
        assert not isvcs, f"unexpected InferenceServices {sorted(isvcs)}"
        for o in by_kind(objects, "InferenceService"):
            assert o["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
            assert o["metadata"]["labels"]["networking.kserve.io/visibility"] == "cluster-local"
        grpc = by_kind(objects, "GRPCRoute")
        assert len(grpc) == (1 if v["serving"]["grpc"]["enabled"] else 0)
        for g in grpc:
            assert route_weights(g) == {n: w for n, w in weights.items()}
            assert {b["port"] for b in g["spec"]["rules"][0]["backendRefs"]} == {8081}


@pytest.mark.parametrize("values", CI_FILES, ids=lambda p: p.name)
def test_route_weights_sum_to_100(tools, values: Path):
    for route in by_kind(render((values,)), "HTTPRoute") + by_kind(render((values,)), "GRPCRoute"):
        for rule in route["spec"]["rules"]:
            assert sum(b["weight"] for b in rule["backendRefs"]) == 100, route["metadata"]["name"]
            for b in rule["backendRefs"]:
                assert b.get("port"), "Gateway API requires a port for a Service backendRef"


def test_grpc_port_is_h2c_and_http_port_is_http1(tools):
    p = one(render_ci("default-values.yaml"), "InferenceService")["spec"]["predictor"]
    ports = {x["name"]: x["containerPort"] for x in kserve_container(p)["ports"]}
    assert ports == {"http1": 8080, "h2c": 8081}
    knative = one(render_ci("knative-values.yaml"), "InferenceService")["spec"]["predictor"]
    assert [x["name"] for x in kserve_container(knative)["ports"]] == ["http1"]  # Knative: one port


def test_promotion_keeps_the_canary_objects_unchanged(tools):
    """standard: the promoted model's predictor is the former canary (same name and pod);
    gateway: the promoted InferenceService is the former canary one, byte for byte."""
    during = render_ci("standard-canary-10-values.yaml")
    after = render_ci("default-values.yaml", "rollout.mode=standard", "serving.stable.version=2")
    canary = one(during, "InferenceService")["spec"]["canary"][0]["predictor"]
    promoted = one(after, "InferenceService")["spec"]["predictor"]
    pod_fields = lambda p: {k: v for k, v in p.items() if k not in ("minReplicas", "maxReplicas", "scaleMetric", "scaleTarget")}
    assert pod_fields(canary) == pod_fields(promoted)

    during = {o["metadata"]["name"]: o for o in by_kind(render_ci("gateway-canary-100-values.yaml"), "InferenceService")}
    after = {o["metadata"]["name"]: o for o in by_kind(render_ci("gateway-values.yaml", "serving.stable.version=2"), "InferenceService")}
    assert after == {f"{BASE}-v2": during[f"{BASE}-v2"]}
    # the default mode promotes the same way
    default = {o["metadata"]["name"]: o for o in by_kind(render_ci("default-values.yaml", "serving.stable.version=2"), "InferenceService")}
    assert default == after


def test_default_mode_is_gateway_with_a_weighted_canary(tools):
    """The default canary splits traffic by the chart's own route weights (KServe v0.20.0's
    Standard-mode HTTPRoute has no weighted canary backend)."""
    assert effective_values()["rollout"]["mode"] == "gateway"
    objects = render_ci("default-values.yaml", "rollout.canary.enabled=true", "rollout.canary.trafficPercent=25")
    assert route_weights(one(objects, "HTTPRoute")) == {f"{BASE}-v1-predictor": 75, f"{BASE}-v2-predictor": 25}
    assert route_weights(one(objects, "GRPCRoute")) == {f"{BASE}-v1-predictor": 75, f"{BASE}-v2-predictor": 25}
    assert sorted(o["metadata"]["name"] for o in by_kind(objects, "InferenceService")) == [f"{BASE}-v1", f"{BASE}-v2"]


def test_standard_canary_needs_the_kserve_acknowledgement(tools):
    """A standard-mode canary with traffic fails unless rollout.standard.kserveSplitsCanaryTraffic
    says the KServe in use splits it; at 0 % (dark) it renders without."""
    from .support import helm, template_args

    proc = helm(*template_args((), ("rollout.mode=standard", "rollout.canary.enabled=true",
                                    "rollout.canary.trafficPercent=25")), check=False)
    assert proc.returncode != 0
    for needle in ("rollout.mode standard", "trafficPercent 25", "rollout.standard.kserveSplitsCanaryTraffic",
                   "rollout.mode gateway"):
        assert needle in proc.stderr, proc.stderr
    render_ci("default-values.yaml", "rollout.mode=standard", "rollout.canary.enabled=true", "rollout.canary.trafficPercent=0")
    isvc = one(render_ci("default-values.yaml", "rollout.mode=standard", "rollout.canary.enabled=true",
                         "rollout.standard.kserveSplitsCanaryTraffic=true"), "InferenceService")
    assert isvc["spec"]["canary"][0]["trafficPercent"] == 10


def test_helm_test_targets_the_stable_predictor(tools):
    for name, svc in (("default-values.yaml", f"{BASE}-v1-predictor"), ("knative-canary-10-values.yaml", f"{BASE}-predictor"),
                      ("gateway-canary-10-values.yaml", f"{BASE}-v1-predictor")):
        pod = one(render_ci(name), "Pod")
        assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
        env = env_of(pod["spec"]["containers"][0])
        assert env["BASE_URL"] == f"http://{svc}.credit.svc.cluster.local", name
        assert env["MODEL_NAME"] == "credit-score"


def test_analysis_section_is_reserved_and_renders_nothing(tools):
    assert render_ci("default-values.yaml", "rollout.analysis.enabled=true") == render_ci("default-values.yaml")
