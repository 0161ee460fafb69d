"""End-to-end on a kind cluster (scripts/e2e-kind.sh): the chart deployed with
manifests/values-kind.yaml in gateway mode behind Envoy Gateway; v2 REST and gRPC through
the Gateway; a second model version trained by a second Job and rolled out as a 20% canary,
promoted, rolled back with `helm rollback`, then mirrored in shadow mode; `helm test`.

The tests run in file order and move one release forward; each states the rollout it needs
with `helm upgrade --reuse-values`, so a failure leaves the release in a readable state."""

from __future__ import annotations

import copy
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from tests.chart.support import CHART, effective_values
from tests.conftest import NOT_INPUTS
from tests.procs import v2_inputs

from .kube import REPO, Cluster
from .stats import acceptance_region, clopper_pearson, wilson

pytestmark = pytest.mark.cluster

DATA = REPO / "training_job" / "datasets" / "germancredit.csv"
CONFIDENCE = 0.999
CANARY_PERCENT = 20
SPLIT_REQUESTS = 500


@pytest.fixture(scope="module")
def values(cluster: Cluster) -> dict:
    return effective_values(cluster.s.values)


@pytest.fixture(scope="module")
def model_name(values) -> str:
    return values["serving"]["modelName"]


@pytest.fixture(scope="module")
def stable_version(values) -> str:
    return str(values["serving"]["stable"]["version"])


@pytest.fixture(scope="module")
def body() -> dict:
    frame = pd.read_csv(DATA).drop(columns=NOT_INPUTS).head(3)
    return {"inputs": v2_inputs(frame)}


@pytest.fixture(scope="module")
def gateway(cluster: Cluster):
    with httpx.Client(base_url=cluster.s.gateway_http, timeout=30) as client:
        yield client


def infer(gateway: httpx.Client, model_name: str, body: dict) -> httpx.Response:
    r = gateway.post(f"/v2/models/{model_name}/infer", json=body)
    assert r.status_code == 200, f"{r.status_code}: {r.text[:500]}"
    return r


def versions_seen(gateway: httpx.Client, model_name: str, body: dict, n: int) -> list[str]:
    out = []
    for _ in range(n):
        r = infer(gateway, model_name, body)
        assert r.headers["x-model-version"] == r.json()["model_version"], r.headers
        out.append(r.headers["x-model-version"])
    return out


def assert_split(seen: list[str], canary: str, percent: int) -> None:
    n, k = len(seen), seen.count(canary)
    p = percent / 100
    lo, hi = clopper_pearson(k, n, CONFIDENCE)
    region = acceptance_region(n, p, CONFIDENCE)
    detail = (f"canary {canary} answered {k}/{n} = {k / n:.3f}; {CONFIDENCE:.1%} Clopper-Pearson "
              f"[{lo:.3f}, {hi:.3f}], Wilson [{wilson(k, n, CONFIDENCE)[0]:.3f}, {wilson(k, n, CONFIDENCE)[1]:.3f}]; "
              f"acceptance region for p={p}: {region}; versions: {sorted(set(seen))}")
    assert lo <= p <= hi, detail
    assert region[0] <= k <= region[1], detail


# ---- the release as installed: stable only ----------------------------------------------

def test_helm_test_passes_after_install(cluster: Cluster) -> None:
    # helm exits non-zero when the test Pod fails; check=True turns that into the failure.
    out = cluster.helm("test", cluster.s.release, "--logs", "--timeout", "5m")
    assert "Failed" not in out.stdout, out.stdout


def test_rest_infer_through_gateway_names_the_stable_version(cluster, gateway, values, model_name, body,
                                                             stable_version) -> None:
    cluster.wait_routes_programmed()
    r = infer(gateway, model_name, body)
    answer = r.json()
    assert r.headers["x-model-version"] == stable_version
    assert r.headers["x-model-name"] == values["serving"]["stable"]["registeredModel"]
    assert r.headers["x-artifact-digest"]
    assert answer["model_version"] == stable_version
    outputs = {o["name"]: o for o in answer["outputs"]}
    assert set(outputs) == {"probability_of_default", "score", "decision", "reason_codes"}
    assert all(0 < p < 1 for p in outputs["probability_of_default"]["data"])
    assert set(outputs["decision"]["data"]) <= {"approve", "refer", "decline"}
    meta = gateway.get(f"/v2/models/{model_name}")
    assert meta.status_code == 200 and {i["name"] for i in meta.json()["inputs"]} >= {i["name"] for i in body["inputs"]}


def test_rest_bad_request_is_400_through_gateway(gateway, model_name, body) -> None:
    bad = copy.deepcopy(body)
    bad["inputs"] = [i for i in bad["inputs"] if i["name"] != "age_in_years"]
    r = gateway.post(f"/v2/models/{model_name}/infer", json=bad)
    assert r.status_code == 400 and "age_in_years" in r.text, r.text


def test_grpc_infer_through_gateway_names_the_stable_version(cluster, model_name, stable_version) -> None:
    import tritonclient.grpc as grpcclient

    frame = pd.read_csv(DATA).drop(columns=NOT_INPUTS).head(4)
    client = grpcclient.InferenceServerClient(url=cluster.s.gateway_grpc)
    assert client.is_model_ready(model_name)
    inputs = []
    for name in frame.columns:
        col = frame[name]
        text = col.dtype == object
        inp = grpcclient.InferInput(name, [len(col)], "BYTES" if text else "FP64")
        inp.set_data_from_numpy(col.to_numpy(dtype=object) if text else col.to_numpy(dtype=np.float64))
        inputs.append(inp)
    result = client.infer(model_name, inputs)
    pd_ = result.as_numpy("probability_of_default")
    assert pd_.shape == (4,) and ((pd_ > 0) & (pd_ < 1)).all()
    response = result.get_response()
    assert response.model_version == stable_version or \
        response.parameters["registered_version"].string_param == stable_version, response


# ---- a second model version, canary, promotion, rollback, shadow -------------------------

@pytest.fixture(scope="module")
def second_version(cluster: Cluster, values, tmp_path_factory) -> str:
    """Train version 2: a second Job from another config (split.seed 7), which the release
    renders because the Job is named by a hash of its pod template."""
    config = yaml.safe_load((CHART / values["training"]["config"]["file"]).read_text()) \
        if values["training"]["config"]["file"] else yaml.safe_load(values["training"]["config"]["inline"])
    config["split"]["seed"] = 7
    path: Path = tmp_path_factory.mktemp("config") / "model_config_seed7.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    cluster.upgrade("training.config.file=", files=(("training.config.inline", path),))
    cluster.wait_job_complete()
    return str(values["rollout"]["canary"]["version"])


@pytest.fixture(scope="module")
def canary_revision(cluster: Cluster, second_version: str) -> int:
    revision = cluster.upgrade("rollout.canary.enabled=true", f"rollout.canary.version={second_version}",
                               f"rollout.canary.trafficPercent={CANARY_PERCENT}", "rollout.shadow=false")
    isvcs = cluster.isvc_by_version()
    assert second_version in isvcs, isvcs
    cluster.wait_isvc_ready(isvcs[second_version])
    cluster.wait_routes_programmed()
    return revision


def test_canary_share_lies_within_the_binomial_interval(cluster, canary_revision, second_version, stable_version,
                                                       gateway, model_name, body, values) -> None:
    """The chart's default canary (rollout.mode gateway: the chart's weighted HTTPRoute to one
    InferenceService per model) splits real requests as its weights say."""
    assert "mode" not in (yaml.safe_load(cluster.s.values.read_text()).get("rollout") or {}), "the e2e tests the default mode"
    assert values["rollout"]["mode"] == "gateway"
    weights = cluster.route_weights()
    assert weights == {f"{cluster.isvc_by_version()[stable_version]}-predictor": 100 - CANARY_PERCENT,
                       f"{cluster.isvc_by_version()[second_version]}-predictor": CANARY_PERCENT}, weights
    seen = versions_seen(gateway, model_name, body, SPLIT_REQUESTS)
    assert set(seen) == {stable_version, second_version}, set(seen)
    assert_split(seen, second_version, CANARY_PERCENT)


def test_promotion_moves_all_traffic_to_the_new_version(cluster, canary_revision, second_version,
                                                         gateway, model_name, body) -> None:
    cluster.upgrade("rollout.canary.trafficPercent=100")
    cluster.wait_routes_programmed()
    seen = versions_seen(gateway, model_name, body, 100)
    assert set(seen) == {second_version}, {v: seen.count(v) for v in set(seen)}


def test_helm_rollback_restores_the_split(cluster, canary_revision, second_version, gateway, model_name, body) -> None:
    cluster.rollback(canary_revision)
    assert cluster.values()["rollout"]["canary"]["trafficPercent"] == CANARY_PERCENT
    cluster.wait_routes_programmed()
    assert sorted(cluster.route_weights().values()) == [CANARY_PERCENT, 100 - CANARY_PERCENT]
    seen = versions_seen(gateway, model_name, body, SPLIT_REQUESTS)
    assert_split(seen, second_version, CANARY_PERCENT)


def test_shadow_answers_from_stable_while_the_canary_counts_grow(cluster, canary_revision, second_version,
                                                                  stable_version, gateway, model_name, body) -> None:
    cluster.upgrade("rollout.shadow=true", "rollout.canary.trafficPercent=0")
    cluster.wait_routes_programmed()
    canary_isvc = cluster.isvc_by_version()[second_version]
    before = cluster.pod_metrics(canary_isvc, "credit_score_requests_total")
    n = 200
    seen = versions_seen(gateway, model_name, body, n)
    assert set(seen) == {stable_version}, {v: seen.count(v) for v in set(seen)}
    # Mirrored requests are fire-and-forget: give the last ones a moment to land.
    grown = 0.0
    for _ in range(15):
        grown = cluster.pod_metrics(canary_isvc, "credit_score_requests_total") - before
        if grown >= n:
            break
        time.sleep(2)
    assert grown >= 0.95 * n, f"the canary counted {grown} of {n} mirrored requests"


def test_helm_test_passes_after_the_rollout(cluster: Cluster) -> None:
    out = cluster.helm("test", cluster.s.release, "--logs", "--timeout", "5m")
    assert "Failed" not in out.stdout, out.stdout
