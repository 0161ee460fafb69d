"""Fuzzing the real predictor process, bounded in time: schemathesis drives every operation of
its own /openapi.json, and hypothesis builds v2 gRPC ModelInferRequests (tritonclient's
protobuf messages, sent by grpc) well-formed or not. No request may get a 5xx (gRPC: INTERNAL,
UNKNOWN, UNAVAILABLE), and the model is still ready afterwards. The counts by status are
printed (`pytest -s`): the figures of the README and the issue's closing note."""

from __future__ import annotations

import json
import time
from collections import Counter

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.procs import start_predictor, stop, wait_http

pytestmark = [pytest.mark.integration, pytest.mark.fuzz]
MODEL = "credit-score"
REST_EXAMPLES = 20  # per operation: 20 operations, so about 300 requests
GRPC_EXAMPLES = 250
FAILING_GRPC = {"INTERNAL", "UNKNOWN", "UNAVAILABLE", "DATA_LOSS"}


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory):
    """hypothesis keeps a constants cache even without a database: not in the source tree."""
    from hypothesis.configuration import set_hypothesis_home_dir

    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def predictor(artifact, tmp_path_factory):
    p = start_predictor(str(artifact), None, tmp_path_factory.mktemp("fuzz"))
    try:
        wait_http(f"{p.http}/v2/models/{MODEL}/ready", 60, p.proc)
        yield p
    finally:
        stop(p.proc)


def still_ready(p) -> None:
    assert httpx.get(f"{p.http}/v2/models/{MODEL}/ready").status_code == 200, p.log_text()[-3000:]
    assert p.proc.poll() is None


def summary(what: str, counts: Counter) -> str:
    return f"{what}: {sum(counts.values())} requests: " + ", ".join(f"{k}:{v}" for k, v in sorted(counts.items()))


def test_schemathesis_over_the_openapi_gets_no_5xx(predictor) -> None:
    import schemathesis

    schema = schemathesis.openapi.from_url(f"{predictor.http}/openapi.json")
    counts: Counter = Counter()
    failures: list[str] = []
    started = time.perf_counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20  # every route of the server, not a handful

    def fuzz(op) -> None:
        # half the cases name the served model, so they get past the 404 into the decoders
        @settings(max_examples=REST_EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(st.tuples(op.as_strategy(), st.booleans()))
        def run(drawn) -> None:
            case, served = drawn
            if served and "model_name" in (case.path_parameters or {}):
                case.path_parameters["model_name"] = MODEL
            r = case.call(base_url=predictor.http, timeout=30)
            counts[r.status_code] += 1
            if r.status_code >= 500:
                failures.append(f"{op.label} -> {r.status_code}: {r.text[:300]}")

        run()

    for op in operations:
        fuzz(op)
    seconds = time.perf_counter() - started
    print("\n" + summary("schemathesis", counts) + f", 5xx:{sum(v for k, v in counts.items() if k >= 500)} "
          f"({len(operations)} operations, {seconds:.0f} s)")
    assert not failures, "\n".join(failures[:20])
    assert counts[200] > 0 and counts[400] > 0 and counts[404] > 0  # the fuzz reached past the routing
    still_ready(predictor)


def _grpc_requests(features: list[dict]):
    from tritonclient.grpc import service_pb2 as pb

    names = st.sampled_from([f["name"] for f in features] + ["records", "zodiac", "foreign_worker", ""])
    datatypes = st.sampled_from(["FP64", "FP32", "FP16", "INT64", "INT32", "UINT8", "BOOL", "BYTES", "FOO", ""])
    shapes = st.lists(st.integers(-3, 6), max_size=3)

    @st.composite
    def tensor(draw):
        t = pb.ModelInferRequest.InferInputTensor(name=draw(names), datatype=draw(datatypes), shape=draw(shapes))
        which = draw(st.sampled_from(["fp64", "fp32", "int64", "int", "bytes", "bool", "none"]))
        n = draw(st.integers(0, 6))
        if which == "fp64":
            t.contents.fp64_contents.extend(draw(st.lists(st.floats(), min_size=n, max_size=n)))
        elif which == "fp32":
            t.contents.fp32_contents.extend(draw(st.lists(st.floats(width=32), min_size=n, max_size=n)))
        elif which == "int64":
            t.contents.int64_contents.extend(draw(st.lists(st.integers(-2**63, 2**63 - 1), min_size=n, max_size=n)))
        elif which == "int":
            t.contents.int_contents.extend(draw(st.lists(st.integers(-2**31, 2**31 - 1), min_size=n, max_size=n)))
        elif which == "bytes":
            t.contents.bytes_contents.extend(draw(st.lists(st.one_of(
                st.binary(max_size=8), st.sampled_from([b"A11", b"A12", b"radio/television", json.dumps({}).encode()])),
                min_size=n, max_size=n)))
        elif which == "bool":
            t.contents.bool_contents.extend(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
        return t

    @st.composite
    def good(draw):
        """The model's inputs with typed contents and allowed values (whole numbers in range,
        known categories); then maybe one tensor of the fuzz in place of one of them."""
        n = draw(st.integers(1, 4))
        tensors = []
        for f in features:
            if f["kind"] == "categorical":
                t = pb.ModelInferRequest.InferInputTensor(name=f["name"], datatype="BYTES", shape=[n])
                cats = [c.encode() for c in f.get("categories") or ["x"]]
                t.contents.bytes_contents.extend(draw(st.lists(st.sampled_from(cats), min_size=n, max_size=n)))
            else:
                lo, hi = int(f.get("min") or 0), int(f.get("max") or 10_000)
                t = pb.ModelInferRequest.InferInputTensor(name=f["name"], datatype="FP64", shape=[n])
                t.contents.fp64_contents.extend(draw(st.lists(st.integers(lo, hi), min_size=n, max_size=n)))
            tensors.append(t)
        if draw(st.booleans()):
            tensors[draw(st.integers(0, len(tensors) - 1))] = draw(tensor())
        return tensors

    @st.composite
    def request(draw):
        tensors = draw(good()) if draw(st.booleans()) else draw(st.lists(tensor(), max_size=5))
        req = pb.ModelInferRequest(model_name=draw(st.sampled_from([MODEL, MODEL, MODEL, "nope"])),
                                   model_version=draw(st.sampled_from(["", "", "", "local", "7"])), inputs=tensors)
        if draw(st.integers(0, 4)) == 0:  # raw contents instead: right count or not, any bytes
            for t in req.inputs:
                t.ClearField("contents")
            req.raw_input_contents.extend(draw(st.lists(st.binary(max_size=64), max_size=len(tensors) + 1)))
        return req

    return request()


def test_hypothesis_grpc_payloads_get_no_internal_errors(predictor) -> None:
    import grpc
    from tritonclient.grpc import service_pb2 as pb
    from tritonclient.grpc import service_pb2_grpc

    features = httpx.get(f"{predictor.http}/v2/models/{MODEL}/spec").json()["features"]
    channel = grpc.insecure_channel(predictor.grpc)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    counts: Counter = Counter()
    failures: list[str] = []

    @settings(max_examples=GRPC_EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(_grpc_requests(features))
    def run(req) -> None:
        try:
            stub.ModelInfer(req, timeout=30)
            counts["OK"] += 1
        except grpc.RpcError as e:
            code = e.code().name
            counts[code] += 1
            if code in FAILING_GRPC:
                failures.append(f"{code}: {e.details()} <- {str(req)[:400]}")
            else:
                assert e.details(), code  # every refusal says why

    run()
    print("\n" + summary("grpc", counts) + f", internal:{sum(counts[c] for c in FAILING_GRPC)}")
    assert not failures, "\n".join(failures[:10])
    assert counts["OK"] > 0 and counts["INVALID_ARGUMENT"] > 0
    assert stub.ModelReady(pb.ModelReadyRequest(name=MODEL), timeout=10).ready
    channel.close()
    still_ready(predictor)


def test_the_other_grpc_methods_answer_any_model_name_without_internal_errors(predictor) -> None:
    import grpc
    from tritonclient.grpc import service_pb2 as pb
    from tritonclient.grpc import service_pb2_grpc

    channel = grpc.insecure_channel(predictor.grpc)
    stub = service_pb2_grpc.GRPCInferenceServiceStub(channel)
    calls = [(stub.ModelMetadata, lambda n: pb.ModelMetadataRequest(name=n)),
             (stub.ModelReady, lambda n: pb.ModelReadyRequest(name=n)),
             (stub.RepositoryModelLoad, lambda n: pb.RepositoryModelLoadRequest(model_name=n)),
             (stub.RepositoryModelUnload, lambda n: pb.RepositoryModelUnloadRequest(model_name=n))]
    counts: Counter = Counter()
    failures: list[str] = []

    @settings(max_examples=40, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(range(len(calls))), st.one_of(st.just(MODEL), st.text(max_size=12)))
    def run(which, name) -> None:
        method, build = calls[which]
        try:
            method(build(name), timeout=30)
            counts["OK"] += 1
        except grpc.RpcError as e:
            counts[e.code().name] += 1
            if e.code().name in FAILING_GRPC:
                failures.append(f"{e.code().name}: {e.details()} <- call {which} {name!r}")

    run()
    print("\n" + summary("grpc other methods", counts))
    assert not failures, "\n".join(failures[:10])
    assert stub.ModelReady(pb.ModelReadyRequest(name=MODEL), timeout=10).ready  # unload was refused
    channel.close()
    still_ready(predictor)
