"""`rollout status` on recorded API objects of every mode (no cluster runs here), and the
recorded objects themselves checked against the KServe v0.20 and Gateway API v1.5.1 CRDs."""

from __future__ import annotations

import functools
import json

import jsonschema
import pytest
import yaml

from rollout.__main__ import main
from rollout.k8s import RecordedApi, predictor_pod_urls, rollout_status
from tests.conftest import REPO, SHARED

FIXTURES = REPO / "tests" / "fixtures" / "k8s"
CRDS = SHARED / "crds"
CRD_FILES = {
    ("serving.kserve.io/v1beta1", "InferenceService"): "kserve-v0.20.0/serving.kserve.io_inferenceservices.yaml",
    # vendored in tests/crds (../shared has v1.2.1 only); an absolute path wins over CRDS / ...
    ("gateway.networking.k8s.io/v1", "HTTPRoute"): REPO / "tests/crds/gateway-api-v1.5.1/gateway.networking.k8s.io_httproutes.yaml",
    ("gateway.networking.k8s.io/v1", "GRPCRoute"): REPO / "tests/crds/gateway-api-v1.5.1/gateway.networking.k8s.io_grpcroutes.yaml",
}


def status_of(name: str, mode: str | None = None):
    return rollout_status(RecordedApi.from_files(FIXTURES / name), "credit", "ml", mode)


def shares(st) -> list[tuple]:
    return [(b.role, b.version, b.percent, b.ready) for b in st.backends]


@functools.cache
def _validator(api_version: str, kind: str, part: str) -> jsonschema.Draft7Validator:
    """A validator of `spec` or `status` (built once: checking a 2 MB schema per call is slow)."""
    crd = yaml.load((CRDS / CRD_FILES[(api_version, kind)]).read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    version = api_version.split("/")[1]
    schema = next(v for v in crd["spec"]["versions"] if v["name"] == version)["schema"]["openAPIV3Schema"]
    return jsonschema.Draft7Validator(schema["properties"][part])


@pytest.mark.parametrize("fixture", sorted(p.name for p in FIXTURES.glob("*.yaml")))
def test_recorded_objects_match_the_crd_schemas(fixture: str) -> None:
    if not CRDS.is_dir():
        pytest.skip(f"CRD schemas not found at {CRDS}")
    checked = 0
    for obj in RecordedApi.from_files(FIXTURES / fixture).objects:
        key = (obj["apiVersion"], obj["kind"])
        if key not in CRD_FILES:
            continue  # core Pods and Knative Revisions: no CRD schema at hand
        for part in ("spec", "status"):
            _validator(*key, part).validate(obj[part])
        checked += 1
    assert checked


def test_the_schema_check_has_teeth() -> None:
    if not CRDS.is_dir():
        pytest.skip(f"CRD schemas not found at {CRDS}")
    isvc = RecordedApi.from_files(FIXTURES / "standard-canary-10.yaml").objects[0]
    isvc["spec"]["canary"][0]["trafficPercent"] = 120
    with pytest.raises(jsonschema.ValidationError, match="120 is greater than the maximum of 100"):
        _validator(isvc["apiVersion"], isvc["kind"], "spec").validate(isvc["spec"])
    isvc["status"]["canaryStatuses"][0].pop("ready")
    with pytest.raises(jsonschema.ValidationError, match="'ready' is a required property"):
        _validator(isvc["apiVersion"], isvc["kind"], "status").validate(isvc["status"])


def test_standard_mode_reads_spec_canary_and_canary_statuses() -> None:
    st = status_of("standard-canary-10.yaml")
    assert st.mode == "standard" and not st.warnings
    assert shares(st) == [("stable", "1", 90.0, True), ("canary", "2", 10.0, True)]
    assert st.canary_percent == 10 and not st.shadow
    assert st.backends[1].predictor == "credit-credit-score spec.canary[0] (v2)"


def test_standard_mode_canary_not_ready() -> None:
    st = status_of("standard-canary-25-not-ready.yaml")
    assert shares(st) == [("stable", "1", 75.0, True), ("canary", "2", 25.0, False)]
    assert "NO" in st.table()


def test_knative_mode_reads_revision_traffic_and_the_previous_revision_model() -> None:
    st = status_of("knative-canary-10.yaml")
    assert st.mode == "knative" and not st.warnings
    assert shares(st) == [("stable", "1", 90.0, True), ("canary", "2", 10.0, True)]
    assert "revision credit-credit-score-predictor-00001, tag prev" in st.backends[0].predictor


def test_knative_mode_without_revision_objects_says_the_model_is_unknown() -> None:
    objects = [o for o in RecordedApi.from_files(FIXTURES / "knative-canary-10.yaml").objects if o["kind"] != "Revision"]
    st = rollout_status(RecordedApi(objects), "credit", "ml")
    assert shares(st) == [("stable", None, 90.0, None), ("canary", "2", 10.0, True)]
    assert any("credit-credit-score-predictor-00001" in w for w in st.warnings)


def test_gateway_mode_reads_route_weights() -> None:
    st = status_of("gateway-canary-25.yaml")
    assert st.mode == "gateway" and not st.warnings
    assert shares(st) == [("stable", "1", 75.0, True), ("canary", "2", 25.0, True)]
    assert st.routes == [
        "HTTPRoute/credit-credit-score: credit-credit-score-v1-predictor 75%, credit-credit-score-v2-predictor 25%",
        "GRPCRoute/credit-credit-score: credit-credit-score-v1-predictor 75%, credit-credit-score-v2-predictor 25%",
    ]


def test_gateway_shadow_mode_and_pod_discovery() -> None:
    st = status_of("gateway-shadow.yaml")
    assert shares(st) == [("stable", "1", 100.0, True), ("shadow", "2", 0.0, True)]
    assert st.shadow and st.canary_percent == 0
    api = RecordedApi.from_files(FIXTURES / "gateway-shadow.yaml")
    assert predictor_pod_urls(api, "ml", "credit-credit-score-v1") == ["http://10.244.1.17:8080", "http://10.244.2.9:8080"]
    assert predictor_pod_urls(api, "ml", "credit-credit-score-v2") == ["http://10.244.1.23:8080"]  # the unready pod is left out


def test_gateway_routes_that_disagree_are_flagged() -> None:
    objects = RecordedApi.from_files(FIXTURES / "gateway-canary-25.yaml").objects
    grpc = next(o for o in objects if o["kind"] == "GRPCRoute")
    grpc["spec"]["rules"][0]["backendRefs"][1]["weight"] = 50
    st = rollout_status(RecordedApi(objects), "credit", "ml")
    assert any("GRPCRoute/credit-credit-score splits differently" in w for w in st.warnings)


def test_another_release_or_namespace_sees_nothing() -> None:
    st = rollout_status(RecordedApi.from_files(FIXTURES / "standard-canary-10.yaml"), "other", "ml")
    assert st.backends == [] and "no InferenceService" in st.warnings[0]
    assert rollout_status(RecordedApi.from_files(FIXTURES / "standard-canary-10.yaml"), "credit", "prod").backends == []


def test_status_command_prints_the_table_and_json(capsys) -> None:
    assert main(["status", "--release", "credit", "-n", "ml", "--recorded", str(FIXTURES / "gateway-canary-25.yaml")]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "release credit (namespace ml), mode gateway"
    assert "stable  75%    yes    1        models:/credit-score/1  credit-credit-score-v1" in out
    assert main(["status", "--release", "credit", "-n", "ml", "--json", "--recorded", str(FIXTURES / "knative-canary-10.yaml")]) == 0
    d = json.loads(capsys.readouterr().out)
    assert (d["mode"], d["canary_percent"], d["stable_version"], d["canary_version"]) == ("knative", 10, "1", "2")
    assert main(["status", "--release", "nope", "-n", "ml", "--recorded", str(FIXTURES / "knative-canary-10.yaml")]) == 1


def test_gateway_roles_follow_stable_and_canary_names_whatever_the_order() -> None:
    """InferenceServices named <release>-stable / <release>-canary keep their roles even when
    the route lists the canary first."""
    objects = RecordedApi.from_files(FIXTURES / "gateway-canary-25.yaml").objects
    rename = {"credit-credit-score-v1": "credit-stable", "credit-credit-score-v2": "credit-canary"}
    for o in objects:
        if o["kind"] == "InferenceService":
            o["metadata"]["name"] = rename[o["metadata"]["name"]]
        else:
            refs = o["spec"]["rules"][0]["backendRefs"]
            for ref in refs:
                ref["name"] = rename[ref["name"].removesuffix("-predictor")] + "-predictor"
            refs.reverse()
    st = rollout_status(RecordedApi(objects), "credit", "ml")
    assert sorted(shares(st)) == [("canary", "2", 25.0, True), ("stable", "1", 75.0, True)]
    assert [b.role for b in st.backends] == ["stable", "canary"] and not st.warnings


def test_analyze_of_a_release_without_canary_holds(tmp_path, capsys) -> None:
    """A scheduled analysis of a release that runs no canary ends well: nothing to judge."""
    objects = RecordedApi.from_files(FIXTURES / "standard-canary-10.yaml").objects
    del objects[0]["spec"]["canary"]
    recorded = tmp_path / "no-canary.json"
    recorded.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": objects}))
    out = tmp_path / "analysis.json"
    assert main(["analyze", "--release", "credit", "-n", "ml", "--recorded", str(recorded), "--prometheus", "http://prom:9090",
                 "--output", str(out)]) == 0
    assert json.loads(out.read_text())["no_canary"] is True
    assert main(["decide", "--analysis", str(out)]) == 0
    assert capsys.readouterr().out.splitlines()[-2] == "HOLD: no canary running: nothing to judge"


def test_a_lone_unnamed_predictor_is_the_default_gateway_mode() -> None:
    """The default release without a canary where the routes cannot be read (no Gateway API
    CRDs, or no RBAC on them): one InferenceService whose predictor has no name is gateway mode;
    a named one stays standard."""
    objects = RecordedApi.from_files(FIXTURES / "gateway-canary-25.yaml").objects
    stable = [o for o in objects if o["kind"] == "InferenceService" and o["metadata"]["name"].endswith("-v1")]
    st = rollout_status(RecordedApi(stable), "credit", "ml")
    assert st.mode == "gateway" and [(b.role, b.version) for b in st.backends] == [("unrouted", "1")], st.table()
    named = RecordedApi.from_files(FIXTURES / "standard-canary-10.yaml").objects
    for o in named:
        if o["kind"] == "InferenceService":
            o["spec"].pop("canary", None)
    assert rollout_status(RecordedApi(named), "credit", "ml").mode == "standard"
