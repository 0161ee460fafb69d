"""The web client's backend-for-frontend against a stub predictor (httpx MockTransport):
form generation from v2 metadata + artifact spec, request building, error pass-through."""

from __future__ import annotations

import json

import httpx
import pytest
from fastapi.testclient import TestClient

from examples.client_web.app import create_app
from examples.client_web.settings import Settings
from examples.client_web.spec_source import ArtifactSpecSource, CachedSpec, NoSpecSource, PredictorSpecSource
from tests.conftest import PROTECTED

META = {"name": "credit-score", "versions": ["3"], "platform": "", "inputs": [
    {"name": "age", "datatype": "FP64", "shape": [-1]},
    {"name": "purpose", "datatype": "BYTES", "shape": [-1]},
    {"name": "new_feature", "datatype": "FP64", "shape": [-1]},
], "outputs": [{"name": n, "datatype": "BYTES", "shape": [-1]} for n in
               ("probability_of_default", "score", "decision", "reason_codes")]}
SPEC = {"features": [
    {"name": "age", "kind": "numeric", "dtype": "int", "missing": "reject", "min": 18, "max": 100, "baseline": 41.7,
     "reason": "Young age", "code": "R13"},
    {"name": "purpose", "kind": "categorical", "dtype": "string", "missing": "allow", "categories": ["car", "tv"],
     "baseline": "car", "reason": "Purpose", "code": "R04"},
]}


class Stub:
    def __init__(self) -> None:
        self.infer_bodies: list[dict] = []
        self.metadata_calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/v2/models/credit-score" and request.method == "GET":
            self.metadata_calls += 1
            return httpx.Response(200, json=META)
        if path == "/v2/models/credit-score/spec":
            return httpx.Response(200, json=SPEC, headers={"x-model-version": "3", "x-artifact-digest": "sha256:ab"})
        if path == "/v2/models/credit-score/infer":
            body = json.loads(request.content)
            self.infer_bodies.append(body)
            age = {i["name"]: i["data"][0] for i in body["inputs"]}["age"]
            if age is not None and age < 18:
                return httpx.Response(400, json={"error": f"input 'age' row 0: expected a value >= 18, got {age}",
                                                 "input": "age", "row": 0, "expected": "a value >= 18"})
            reasons = json.dumps([{"code": "R13", "feature": "age", "reason": "Young age"}])
            return httpx.Response(200, headers={"x-model-name": "credit-score", "x-model-version": "3",
                                                "x-artifact-digest": "sha256:ab"}, json={
                "model_name": "credit-score", "outputs": [
                    {"name": "probability_of_default", "datatype": "FP32", "shape": [1], "data": [0.31]},
                    {"name": "score", "datatype": "INT32", "shape": [1], "data": [512]},
                    {"name": "decision", "datatype": "BYTES", "shape": [1], "data": ["refer"]},
                    {"name": "reason_codes", "datatype": "BYTES", "shape": [1], "data": [reasons]}]})
        return httpx.Response(404, json={"error": "not found"})


def client(stub: Stub, spec_source=None) -> TestClient:
    settings = Settings(predictor_url="http://predictor", model_name="credit-score")
    app = create_app(settings, spec_source or PredictorSpecSource("http://predictor", "credit-score",
                                                                  httpx.Client(transport=httpx.MockTransport(stub))),
                     transport=httpx.MockTransport(stub))
    return TestClient(app)


def test_form_is_the_metadata_enriched_by_the_spec() -> None:
    with client(Stub()) as c:
        form = c.get("/api/form").json()
    assert [f["name"] for f in form["fields"]] == ["age", "purpose", "new_feature"]
    age, purpose, new = form["fields"]
    assert (age["kind"], age["integer"], age["min"], age["max"], age["example"], age["required"]) == \
        ("numeric", True, 18, 100, 42, True)
    assert purpose["categories"] == ["car", "tv"] and purpose["required"] is False
    # a feature the spec does not know still gets a field from the metadata: no UI change needed
    assert (new["kind"], new["categories"], new["min"]) == ("numeric", [], None)
    assert form["spec_source"].startswith("predictor ") and form["spec_model_version"] == "3"


def test_without_a_spec_the_form_comes_from_metadata_alone() -> None:
    with client(Stub(), NoSpecSource()) as c:
        form = c.get("/api/form").json()
    assert [f["kind"] for f in form["fields"]] == ["numeric", "categorical", "numeric"]
    assert form["spec_source"] == "none: no ARTIFACT configured"


def test_score_builds_one_v2_input_per_feature_and_reads_the_identity() -> None:
    stub = Stub()
    with client(stub) as c:
        r = c.post("/api/score", json={"values": {"age": "30", "purpose": "car", "new_feature": ""}})
    assert r.status_code == 200, r.text
    assert stub.infer_bodies[0]["inputs"] == [
        {"name": "age", "datatype": "FP64", "shape": [1], "data": [30.0]},
        {"name": "purpose", "datatype": "BYTES", "shape": [1], "data": ["car"]},
        {"name": "new_feature", "datatype": "FP64", "shape": [1], "data": [None]}]
    assert r.json() == {"probability_of_default": pytest.approx(0.31), "score": 512, "decision": "refer",
                        "reasons": [{"code": "R13", "feature": "age", "reason": "Young age"}],
                        "model": {"name": "credit-score", "version": "3", "artifact_digest": "sha256:ab"}}


def test_predictor_validation_errors_pass_through_naming_the_input() -> None:
    with client(Stub()) as c:
        r = c.post("/api/score", json={"values": {"age": 7, "purpose": "car"}})
        bad_number = c.post("/api/score", json={"values": {"age": "seven"}})
    assert r.status_code == 400
    assert r.json() == {"error": "input 'age' row 0: expected a value >= 18, got 7.0", "input": "age", "row": 0,
                        "expected": "a value >= 18"}
    assert bad_number.status_code == 400 and bad_number.json()["input"] == "age"


def test_an_unreachable_predictor_is_a_502_with_a_reason() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    app = create_app(Settings(predictor_url="http://predictor"), NoSpecSource(), transport=httpx.MockTransport(down))
    with TestClient(app) as c:
        r = c.get("/api/form")
    assert r.status_code == 502 and "unreachable" in r.json()["error"]


def test_the_spec_comes_from_a_real_artifact_folder(trained) -> None:
    result = ArtifactSpecSource(str(trained["dir"])).load()
    assert result.artifact_digest == f"sha256:{trained['digest']}"
    assert set(result.hints) == {f.name for f in trained["spec"].features}
    age = result.hints["age_in_years"]
    assert age.min == 18 and age.dtype == "int" and isinstance(age.example, int)
    assert "radio/television" in result.hints["purpose"].categories


def test_the_form_shows_nothing_protected_and_asks_only_for_the_models_inputs(trained) -> None:
    """With a model trained under data.protected, the form is exactly its inputs: no protected
    attribute is shown, and one sent by a page anyway never reaches the predictor."""
    spec = trained["spec"]
    inputs = [{"name": f.name, "datatype": "BYTES" if f.kind == "categorical" else "FP64", "shape": [-1]}
              for f in spec.features]
    assert {f.name for f in spec.features}.isdisjoint(PROTECTED)
    stub = Stub()
    meta = {**META, "inputs": inputs}
    original = stub.__call__

    def predictor(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v2/models/credit-score" and request.method == "GET":
            return httpx.Response(200, json=meta)
        if request.url.path == "/v2/models/credit-score/infer":
            stub.infer_bodies.append(json.loads(request.content))
            # the stub's canned answer (it reads an 'age' input to decide between 200 and 400)
            return original(httpx.Request("POST", request.url, json={"inputs": [
                {"name": "age", "datatype": "FP64", "shape": [1], "data": [40.0]}]}))
        return original(request)

    app = create_app(Settings(predictor_url="http://predictor", model_name="credit-score"),
                     ArtifactSpecSource(str(trained["dir"])), transport=httpx.MockTransport(predictor))
    with TestClient(app) as c:
        form = c.get("/api/form").json()
        values = {f.name: f.baseline for f in spec.features} | {name: "yes" for name in PROTECTED}
        r = c.post("/api/score", json={"values": values})
    assert [f["name"] for f in form["fields"]] == [f.name for f in spec.features]
    assert {f["name"] for f in form["fields"]}.isdisjoint(PROTECTED)
    assert r.status_code == 200, r.text
    sent = [i["name"] for i in stub.infer_bodies[0]["inputs"]]
    assert sent == [f.name for f in spec.features] and set(sent).isdisjoint(PROTECTED)


def test_a_failing_source_degrades_to_metadata_only_and_retries() -> None:
    calls = []

    class Broken:
        def load(self):
            calls.append(1)
            raise OSError("no such folder")

    cached = CachedSpec(Broken(), retry_s=0)
    assert cached.get().source == "none: OSError: no such folder" and cached.get().hints == {}
    assert len(calls) == 2


def test_a_score_is_one_infer_call_metadata_is_cached() -> None:
    """Behind a weighted gateway every call takes a turn: a metadata call per score would
    pair up with the infer call and skew which version answers."""
    stub = Stub()
    with client(stub) as c:
        c.get("/api/form")
        for _ in range(3):
            assert c.post("/api/score", json={"values": {"age": 30, "purpose": "car"}}).status_code == 200
        assert stub.metadata_calls == 1
        c.get("/api/form", params={"refresh": "true"})
    assert stub.metadata_calls == 2 and len(stub.infer_bodies) == 3


def test_unset_artifact_means_the_predictors_own_spec() -> None:
    from examples.client_web.spec_source import spec_source_from_settings

    for artifact in (None, "", "predictor"):
        source = spec_source_from_settings(artifact, None, "http://p:8080", "credit-score")
        assert isinstance(source, PredictorSpecSource) and source.url == "http://p:8080/v2/models/credit-score/spec"
