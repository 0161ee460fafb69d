"""Our predictor as a real process against a real MLflow server, called by real v2 clients."""

from __future__ import annotations

import copy
import json
import subprocess
import sys

import httpx
import numpy as np
import pandas as pd
import pytest

from credit_model.artifact import NETWORK_PLATFORM
from kserve_model.settings import DEFAULT_MAX_REQUEST_BYTES
from tests.conftest import CONFIG_000, NOT_INPUTS, PROTECTED, QUICK, REPO
from tests.procs import start_predictor, stop, v2_inputs, wait_http

pytestmark = pytest.mark.integration
MODEL = "srv-credit"
DATA = REPO / "training_job" / "datasets" / "germancredit.csv"


def applicants(n: int = 5) -> pd.DataFrame:
    return pd.read_csv(DATA).drop(columns=NOT_INPUTS).head(n)


@pytest.fixture(scope="module")
def registered(mlflow):
    args = [sys.executable, "-m", "training_job", "--config", str(CONFIG_000), "--tracking-uri", mlflow.url,
            "--experiment", "srv", "--set", f"registry.model_name={MODEL}"]
    for o in QUICK:
        args += ["--set", o]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return mlflow


@pytest.fixture(scope="module")
def predictor(registered, tmp_path_factory):
    p = start_predictor(f"models:/{MODEL}@champion", registered.url, tmp_path_factory.mktemp("pred"))
    try:
        wait_http(f"{p.http}/v2/models/credit-score/ready", 60, p.proc)
        yield p
    finally:
        stop(p.proc)


def infer(p, body, **kw) -> httpx.Response:
    return httpx.post(f"{p.http}/v2/models/credit-score/infer", json=body, timeout=30, **kw)


def test_rest_infer_answers_every_output_and_names_the_version(predictor) -> None:
    r = infer(predictor, {"id": "req-1", "inputs": v2_inputs(applicants(5))})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["id"] == "req-1" and body["model_version"] == "1"
    out = {o["name"]: o for o in body["outputs"]}
    assert [o["datatype"] for o in body["outputs"]] == ["FP32", "INT32", "BYTES", "BYTES"]
    assert all(o["shape"] == [5] for o in body["outputs"])
    assert all(0 < p < 1 for p in out["probability_of_default"]["data"])
    assert set(out["decision"]["data"]) <= {"approve", "refer", "decline"}
    for decision, reasons in zip(out["decision"]["data"], out["reason_codes"]["data"]):
        parsed = json.loads(reasons)
        assert (decision == "approve") == (parsed == [])
    assert r.headers["x-model-version"] == "1" and r.headers["x-model-name"] == MODEL
    assert r.headers["x-artifact-digest"].startswith("sha256:")
    assert body["parameters"]["artifact_digest"] == r.headers["x-artifact-digest"]


def test_metadata_lists_every_input_and_output(predictor) -> None:
    meta = httpx.get(f"{predictor.http}/v2/models/credit-score").json()
    inputs = {i["name"]: i for i in meta["inputs"]}
    assert set(inputs) == set(applicants(1).columns)
    assert inputs["purpose"]["datatype"] == "BYTES" and inputs["credit_amount"]["datatype"] == "FP64"
    assert all(i["shape"] == [-1] for i in meta["inputs"])
    assert [o["name"] for o in meta["outputs"]] == ["probability_of_default", "score", "decision", "reason_codes"]
    assert meta["versions"] == ["1"] and meta["platform"] == NETWORK_PLATFORM == "onnxruntime_onnx"
    assert httpx.get(f"{predictor.http}/v2/health/live").status_code == 200
    assert httpx.get(f"{predictor.http}/v2/health/ready").status_code == 200
    assert httpx.get(f"{predictor.http}/v2/models/nope/ready").status_code == 404


def test_records_input_form_scores_the_same(predictor) -> None:
    frame = applicants(3)
    records = [json.dumps(r) for r in frame.to_dict(orient="records")]
    a = infer(predictor, {"inputs": [{"name": "records", "datatype": "BYTES", "shape": [3], "data": records}]})
    b = infer(predictor, {"inputs": v2_inputs(frame)})
    assert a.status_code == 200, a.text
    assert a.json()["outputs"][0]["data"] == b.json()["outputs"][0]["data"]


def v1_predict(p, body, **kw) -> httpx.Response:
    if isinstance(body, bytes):
        kw["content"], kw["headers"] = body, {"content-type": "application/json"}
    else:
        kw["json"] = body
    return httpx.post(f"{p.http}/v1/models/credit-score:predict", timeout=30, **kw)


def test_v1_instances_score_the_same_as_v2(predictor) -> None:
    """KServe's v1 protocol: feature records in, one object of the four outputs per row out."""
    frame = applicants(4)
    r = v1_predict(predictor, {"instances": json.loads(frame.to_json(orient="records"))})
    v2 = infer(predictor, {"inputs": v2_inputs(frame)}).json()
    assert r.status_code == 200, r.text
    assert r.headers["x-model-version"] == "1" and r.headers["x-request-id"]
    rows = r.json()["predictions"]
    out = {o["name"]: o["data"] for o in v2["outputs"]}
    assert [row["score"] for row in rows] == out["score"]
    assert [row["decision"] for row in rows] == out["decision"]
    assert [row["reason_codes"] for row in rows] == [json.loads(t) for t in out["reason_codes"]]
    assert np.allclose([row["probability_of_default"] for row in rows], out["probability_of_default"])


V1_BAD = [
    # (id, body, substring of the error, field, row)
    ("list-body", [1, 2], "expected a JSON object", "instances", None),
    ("no-instances", {"rows": []}, "field 'rows' is not part of it", "rows", None),
    # KServe's v1 route checks this one itself, before the model sees the body
    ("instances-not-a-list", {"instances": {"a": 1}}, 'Expected "instances" to be a list', None, None),
    ("row-not-an-object", {"instances": [1]}, "expected a JSON object per row", "instances", 0),
    ("not-json", b'{"instances": [', "request body is not valid JSON: Expecting value at line 1 column 16 (char 15)", None, None),
    ("form-not-json", b"instances=1", "request body is not valid JSON", None, None),
    ("empty", {"instances": []}, "empty batch", "instances", None),
    ("protected", {"instances": [{**json.loads(applicants(1).to_json(orient="records"))[0], "personal_status_and_sex": "x"}]},
     "'personal_status_and_sex' is not an input of this model", "instances", 0),
    ("bad-value", {"instances": [*json.loads(applicants(2).to_json(orient="records")),
                                 {**json.loads(applicants(1).to_json(orient="records"))[0], "age_in_years": "old"}]},
     "expected a number, got 'old'", "age_in_years", 2),
]


@pytest.mark.parametrize(("case", "body", "message", "field", "row"), V1_BAD, ids=[b[0] for b in V1_BAD])
def test_malformed_v1_requests_get_a_400_naming_the_field_and_row(predictor, case, body, message, field, row) -> None:
    r = v1_predict(predictor, body)
    assert r.status_code == 400, r.text
    err = r.json()
    assert message in err["error"] and (err.get("input"), err.get("row")) == (field, row), err


def test_a_predictor_by_version_refuses_missing_values_and_batches_over_its_row_limit(registered, tmp_path) -> None:
    """German credit rejects missing values (none in training); the error names row and input.
    MAX_BATCH_ROWS is its own 400, within MAX_REQUEST_BYTES."""
    frame = applicants(3).astype({"credit_amount": float})
    frame.loc[1, "credit_amount"] = np.nan
    p = start_predictor(f"models:/{MODEL}/1", registered.url, tmp_path, "--max-batch-rows", "3")
    try:
        wait_http(f"{p.http}/v2/models/credit-score/ready", 60, p.proc)
        r = infer(p, {"inputs": v2_inputs(applicants(4))})
        assert r.status_code == 400 and r.json()["error"] == "batch of 4 rows exceeds the limit of 3", r.text
        r = infer(p, {"inputs": v2_inputs(frame)})
        assert r.status_code == 400
        assert r.json() == {"error": "input 'credit_amount' row 1: expected a number (this feature may not be missing), got null/NaN",
                            "input": "credit_amount", "row": 1, "expected": "a number (this feature may not be missing)"}
    finally:
        stop(p.proc)


def _good() -> dict:
    return {"inputs": v2_inputs(applicants(3))}


def _with(change) -> dict:
    body = copy.deepcopy(_good())
    change(body)
    return body


def _set(name: str, **fields):
    def change(body):
        for i in body["inputs"]:
            if i["name"] == name:
                i.update(fields)
    return change


def _drop(name: str):
    return lambda body: body.update(inputs=[i for i in body["inputs"] if i["name"] != name])


def _value(name: str, row: int, value):
    def change(body):
        for i in body["inputs"]:
            if i["name"] == name:
                i["data"][row] = value
    return change


BAD = [
    # (id, request body or raw bytes, status, substring of the error, input, row)
    ("broken-json", b'{"inputs": [', 400, "request body is not valid JSON: Expecting value at line 1 column 13 (char 12)",
     None, None),
    ("not-json-at-all", b"inputs=1", 400, "request body is not valid JSON", None, None),
    ("not-an-object", b"[1, 2, 3]", 400, "", None, None),
    ("no-inputs", {"inputs": []}, 400, "request has no inputs", None, None),
    ("wrong-datatype-numeric", _with(_set("credit_amount", datatype="BYTES", data=["1", "2", "3"])), 400,
     "expected a numeric datatype", "credit_amount", None),
    ("wrong-datatype-categorical", _with(_set("purpose", datatype="FP64", data=[1.0, 2.0, 3.0])), 400,
     "expected datatype BYTES", "purpose", None),
    ("shape-mismatch", _with(_set("credit_amount", shape=[4])), 400, "expected 4 values as its shape says", "credit_amount", None),
    ("shape-2d", _with(_set("credit_amount", shape=[3, 2])), 400, "expected shape [N]", "credit_amount", None),
    ("unequal-lengths", _with(_set("age_in_years", shape=[2], data=[30.0, 40.0])), 400, "expected 3 rows", "age_in_years", None),
    ("missing-feature", _with(_drop("age_in_years")), 400, "the feature is required", "age_in_years", None),
    ("unknown-feature", _with(lambda b: b["inputs"].append({"name": "zodiac", "datatype": "BYTES", "shape": [3], "data": ["a", "b", "c"]})),
     400, "input 'zodiac': not an input of this model", "zodiac", None),
    # a protected attribute (config 000's data.protected) is read at training, never an input
    *[(f"protected-{name}", _with(lambda b, name=name: b["inputs"].append(
        {"name": name, "datatype": "BYTES", "shape": [3], "data": ["x", "y", "z"]})),
       400, f"input '{name}': not an input of this model", name, None) for name in PROTECTED],
    ("protected-in-records", {"inputs": [{"name": "records", "datatype": "BYTES", "shape": [1], "data": [json.dumps(
        {**applicants(1).iloc[0].to_dict(), "foreign_worker": "yes"}, default=int)]}]},
     400, "'foreign_worker' is not an input of this model", "records", 0),
    ("duplicate-input", _with(lambda b: b["inputs"].append(dict(b["inputs"][0]))), 400, "expected each input once",
     "status_of_existing_checking_account", None),
    ("nan", _with(_value("duration_in_month", 2, "NaN")), 400, "expected a number", "duration_in_month", 2),
    ("null", _with(_value("duration_in_month", 1, None)), 400, "may not be missing", "duration_in_month", 1),
    # JSON has no Infinity; a client that writes it anyway (Python's json does) gets a 400
    ("inf", json.dumps(_with(_set("duration_in_month", data=[6.0, float("inf"), 12.0]))).encode(), 400,
     "expected a finite number, got inf", "duration_in_month", 1),
    ("string-in-numeric", _with(_value("age_in_years", 0, "thirty")), 400, "expected a number, got 'thirty'", "age_in_years", 0),
    # numpy would parse these as numbers; the protocol's JSON types are strict
    ("numeric-text", _with(_value("age_in_years", 1, "35")), 400, "expected a number, got '35'", "age_in_years", 1),
    ("bool-in-numeric", _with(_value("credit_amount", 2, True)), 400, "expected a number, got True", "credit_amount", 2),
    ("list-in-categorical", _with(_value("purpose", 0, ["car", "tv"])), 400, "expected a string", "purpose", 0),
    ("out-of-range", _with(_value("age_in_years", 2, 7.0)), 400, "expected a value >= 18", "age_in_years", 2),
    ("fractional-integer", _with(_value("age_in_years", 1, 30.5)), 400, "expected a whole number", "age_in_years", 1),
    ("number-in-categorical", _with(_value("purpose", 1, 7)), 400, "expected a string, got 7", "purpose", 1),
    ("empty-batch", _with(lambda b: [i.update(shape=[0], data=[]) for i in b["inputs"]]), 400, "empty batch", None, None),
    # 100,001 rows (MAX_BATCH_ROWS + 1) are 28 MB of JSON: refused by size before they are parsed;
    # the row limit itself is checked on a predictor with a small one (test_a_predictor_by_version...)
    ("huge-batch", {"inputs": [{**i, "shape": [100_001], "data": i["data"][:1] * 100_001} for i in _good()["inputs"]]},
     413, f"exceeds the limit of {DEFAULT_MAX_REQUEST_BYTES} bytes (MAX_REQUEST_BYTES)", None, None),
]


@pytest.mark.parametrize(("case", "body", "status", "message", "input_name", "row"), BAD, ids=[b[0] for b in BAD])
def test_malformed_requests_get_a_4xx_naming_the_problem(predictor, case, body, status, message, input_name, row) -> None:
    if isinstance(body, bytes):
        r = httpx.post(f"{predictor.http}/v2/models/credit-score/infer", content=body,
                       headers={"content-type": "application/json"}, timeout=30)
    else:
        r = infer(predictor, body)
    assert r.status_code == status, r.text
    err = r.json()
    assert message in err["error"]
    assert "Traceback" not in r.text
    if input_name is not None:
        assert err["input"] == input_name and err["row"] == row
    assert httpx.get(f"{predictor.http}/v2/health/ready").status_code == 200


def test_unknown_model_is_404_and_unseen_category_uses_the_oov_bucket(predictor) -> None:
    r = httpx.post(f"{predictor.http}/v2/models/other/infer", json=_good(), timeout=30)
    assert r.status_code == 404
    r = infer(predictor, _with(_value("purpose", 0, "a category never seen in training")))
    assert r.status_code == 200, r.text


def test_tritonclient_http_and_grpc_work_unchanged(predictor) -> None:
    import tritonclient.grpc as grpcclient
    import tritonclient.http as httpclient

    frame = applicants(4)
    for module, url, binary in ((httpclient, predictor.http.removeprefix("http://"), True),
                                (grpcclient, predictor.grpc, None)):
        client = module.InferenceServerClient(url=url)
        assert client.is_server_live() and client.is_model_ready("credit-score")
        inputs = []
        for name in frame.columns:
            col = frame[name]
            arr = col.to_numpy(dtype=object) if col.dtype == object else col.to_numpy(dtype=np.float64)
            inp = module.InferInput(name, [len(col)], "BYTES" if col.dtype == object else "FP64")
            if binary is None:
                inp.set_data_from_numpy(arr)
            else:
                inp.set_data_from_numpy(arr, binary_data=binary)
            inputs.append(inp)
        result = client.infer("credit-score", inputs)
        pd_ = result.as_numpy("probability_of_default")
        assert pd_.shape == (4,) and pd_.dtype == np.float32
        decisions = [d.decode() if isinstance(d, bytes) else d for d in result.as_numpy("decision")]
        assert set(decisions) <= {"approve", "refer", "decline"}
        rest = infer(predictor, {"inputs": v2_inputs(frame)}).json()
        assert np.allclose(pd_, rest["outputs"][0]["data"], atol=1e-6)


def test_grpc_invalid_input_is_invalid_argument(predictor) -> None:
    import grpc
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(url=predictor.grpc)
    inp = grpcclient.InferInput("age_in_years", [1], "FP64")
    inp.set_data_from_numpy(np.array([30.0]))
    with pytest.raises(InferenceServerException) as err:
        client.infer("credit-score", [inp])
    assert err.value.status() == str(grpc.StatusCode.INVALID_ARGUMENT)
    assert "input 'status_of_existing_checking_account'" in err.value.message()


def test_metrics_are_labelled_with_the_model_version(predictor) -> None:
    assert infer(predictor, _good()).status_code == 200
    text = httpx.get(f"{predictor.http}/metrics").text
    assert 'credit_score_rows_total{model_name="credit-score",model_version="1"}' in text
    assert 'credit_score_score_points_bucket{le="+Inf",model_name="credit-score",model_version="1"}' in text
    assert 'credit_score_decisions_total{decision=' in text
    assert "credit_score_request_errors_total" in text
    assert 'credit_score_requests_total{model_name="credit-score",model_version="1",outcome="ok"}' in text
    assert 'credit_score_request_seconds_bucket{le="0.001",model_name="credit-score",model_version="1"}' in text


def test_spec_route_publishes_categories_ranges_and_reasons(predictor) -> None:
    r = httpx.get(f"{predictor.http}/v2/models/credit-score/spec")
    assert r.status_code == 200 and r.headers["x-model-version"] == "1"
    features = {f["name"]: f for f in r.json()["features"]}
    assert set(features) == set(applicants(1).columns)
    assert "radio/television" in features["purpose"]["categories"]
    assert features["age_in_years"]["min"] == 18 and features["duration_in_month"]["reason"] == "Loan duration is long"
    assert "transform" not in features["credit_amount"]  # training quantiles stay private
    assert httpx.get(f"{predictor.http}/v2/models/other/spec").status_code == 404


def test_binary_extension_requests_that_lie_about_their_json_get_a_400(predictor) -> None:
    url = f"{predictor.http}/v2/models/credit-score/infer"
    for header, body, message in (("abc", b'{"inputs": []}', "expected the length in bytes of the JSON part"),
                                  ("999", b'{"inputs": []}', "expected the length in bytes of the JSON part"),
                                  ("2", b"{}tail", "the JSON part is not a v2 request (KeyError: 'inputs')"),
                                  ("5", b'{"inputs": []}', "binary-extension request: Unrecognized request format")):
        r = httpx.post(url, content=body, headers={"inference-header-content-length": header,
                                                   "content-type": "application/octet-stream"}, timeout=30)
        assert r.status_code == 400 and message in r.json()["error"], (header, r.text)


def _raw_http(p, head: bytes, chunks=()) -> tuple[int, dict]:
    """A request written on the socket, so the body can be declared and never sent, or streamed."""
    import socket

    host, port = p.http.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        try:
            for chunk in chunks:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            if chunks:
                sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # answered and closed before the rest arrived: what the limit is for
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        head_text, body = data.split(b"\r\n\r\n", 1)
        headers = dict(line.lower().split(b": ", 1) for line in head_text.split(b"\r\n")[1:])
        while len(body) < int(headers[b"content-length"]):
            body += sock.recv(65536)
    return int(head_text.split(b" ", 2)[1]), json.loads(body)


@pytest.mark.parametrize("route", ["/v2/models/credit-score/infer", "/v1/models/credit-score:predict"])
def test_a_body_over_max_request_bytes_is_a_413_before_it_is_read(predictor, route) -> None:
    limit = DEFAULT_MAX_REQUEST_BYTES
    # declared: the answer comes although not one byte of the body was sent
    head = (f"POST {route} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"content-length: {limit + 1}\r\n\r\n").encode()
    status, body = _raw_http(predictor, head)
    assert status == 413 and f"exceeds the limit of {limit} bytes (MAX_REQUEST_BYTES)" in body["error"], body
    # streamed (chunked, no length): refused once the limit is passed, not after buffering it all
    head = (f"POST {route} HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
            f"transfer-encoding: chunked\r\n\r\n").encode()
    status, body = _raw_http(predictor, head, [b" " * (1 << 20)] * (limit // (1 << 20) + 2))
    assert status == 413 and "more than" in body["error"], body
    assert httpx.get(f"{predictor.http}/v2/models/credit-score/ready").status_code == 200


def test_grpc_refuses_a_message_over_max_request_bytes(predictor) -> None:
    import grpc
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(url=predictor.grpc)
    inp = grpcclient.InferInput("purpose", [1], "BYTES")
    inp.set_data_from_numpy(np.array([b"x" * (DEFAULT_MAX_REQUEST_BYTES + 1)], dtype=object))
    with pytest.raises(InferenceServerException) as err:
        client.infer("credit-score", [inp])
    assert err.value.status() == str(grpc.StatusCode.RESOURCE_EXHAUSTED), err.value
    assert client.is_model_ready("credit-score")


def test_grpc_metadata_names_the_version_and_platform_and_other_versions_are_not_found(predictor) -> None:
    import grpc
    import tritonclient.grpc as grpcclient
    from tritonclient.utils import InferenceServerException

    client = grpcclient.InferenceServerClient(url=predictor.grpc)
    meta = client.get_model_metadata("credit-score", as_json=True)
    assert meta["versions"] == ["1"] and meta["platform"] == NETWORK_PLATFORM
    frame = applicants(2)
    inputs = []
    for name in frame.columns:
        col = frame[name]
        inp = grpcclient.InferInput(name, [2], "BYTES" if col.dtype == object else "FP64")
        inp.set_data_from_numpy(col.to_numpy(dtype=object if col.dtype == object else np.float64))
        inputs.append(inp)
    assert client.infer("credit-score", inputs, model_version="1").as_numpy("score").shape == (2,)
    with pytest.raises(InferenceServerException) as err:
        client.infer("credit-score", inputs, model_version="2")
    assert err.value.status() == str(grpc.StatusCode.NOT_FOUND)
    assert "version 2 is not served here; served: 1" in err.value.message()


def test_versioned_rest_routes_answer_for_the_served_version_only(predictor) -> None:
    base = f"{predictor.http}/v2/models/credit-score"
    assert httpx.get(f"{base}/versions/1").json()["versions"] == ["1"]
    assert httpx.get(f"{base}/versions/1/ready").json() == {"name": "credit-score", "ready": True}
    r = httpx.post(f"{base}/versions/1/infer", json=_good(), timeout=30)
    assert r.status_code == 200 and r.json()["model_version"] == "1"
    for r in (httpx.get(f"{base}/versions/2"), httpx.get(f"{base}/versions/2/ready"),
              httpx.post(f"{base}/versions/2/infer", json=_good()), httpx.get(f"{base}?model_version=2"),
              httpx.post(f"{base}/infer?model_version=2", json=_good())):
        assert r.status_code == 404, r.text
        assert r.json()["error"] == "model credit-score version 2 is not served here; served: 1"


def test_the_repository_extension_neither_unloads_nor_503s_on_an_unknown_name(predictor) -> None:
    r = httpx.post(f"{predictor.http}/v2/repository/models/credit-score/unload")
    assert r.status_code == 403 and "not unloaded on request" in r.json()["error"]
    assert httpx.post(f"{predictor.http}/v2/repository/models/nope/load").status_code == 404
    assert httpx.post(f"{predictor.http}/v2/repository/models/credit-score/load").json() == {"name": "credit-score", "load": True}
    assert infer(predictor, _good()).status_code == 200


def test_swagger_ui_and_the_openapi_with_bodies_and_errors(predictor) -> None:
    docs = httpx.get(f"{predictor.http}/docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text and "/openapi.json" in docs.text
    spec = httpx.get(f"{predictor.http}/openapi.json").json()
    schemas = spec["components"]["schemas"]
    assert set(schemas["ErrorBody"]["properties"]) == {"error", "input", "row", "expected"}
    error_ref = {"$ref": "#/components/schemas/ErrorBody"}
    infer_op = spec["paths"]["/v2/models/{model_name}/infer"]["post"]
    assert infer_op["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/InferenceResponse"}
    for status in ("400", "404", "413", "503"):
        assert infer_op["responses"][status]["content"]["application/json"]["schema"] == error_ref
    v1 = spec["paths"]["/v1/models/{model_name}:predict"]["post"]
    assert v1["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/V1Request"}
    assert v1["responses"]["200"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/V1Response"}
    assert "422" not in json.dumps(spec["paths"])  # FastAPI's default: ours is the 400


def test_the_web_client_with_only_predictor_url_gets_the_predictors_spec(predictor) -> None:
    """No ARTIFACT: the form's categories and ranges still come, from the predictor's spec route."""
    from fastapi.testclient import TestClient

    from examples.client_web.app import create_app
    from examples.client_web.settings import Settings

    with TestClient(create_app(Settings(predictor_url=predictor.http, model_name="credit-score"))) as c:
        form = c.get("/api/form").json()
    fields = {f["name"]: f for f in form["fields"]}
    assert "radio/television" in fields["purpose"]["categories"] and fields["age_in_years"]["min"] == 18
    assert form["spec_source"] == f"predictor {predictor.http}/v2/models/credit-score/spec"
    assert form["spec_model_version"] == "1" and form["metadata_versions"] == ["1"]


def test_v1_explain_answers_the_reason_codes_as_predict_does(predictor) -> None:
    body = {"instances": json.loads(applicants(2).to_json(orient="records"))}
    explained = httpx.post(f"{predictor.http}/v1/models/credit-score:explain", json=body, timeout=30)
    assert explained.status_code == 200, explained.text
    assert explained.json() == v1_predict(predictor, body).json()
    bad = httpx.post(f"{predictor.http}/v1/models/credit-score:explain", json={"instances": [1]}, timeout=30)
    assert bad.status_code == 400 and bad.json()["row"] == 0
