"""kserve_model.request.decode_request on its own: each request form, and each violation named
by input, first offending row and what was expected.

decode_request takes KServe's InferRequest, whose module loads KServe's v2 gRPC protos, so
all cases run in one fresh interpreter (tests/kserve_subprocess.py says why) and come back
as JSON."""

from __future__ import annotations

import json

import pytest

from tests.kserve_subprocess import run_python

FEATURES = [
    {"name": "age", "kind": "numeric", "dtype": "int", "missing": "reject", "code": "R01", "reason": "age",
     "min": 18, "max": 100},
    {"name": "income", "kind": "numeric", "dtype": "float", "missing": "allow", "code": "R02", "reason": "income",
     "min": 0},
    {"name": "housing", "kind": "categorical", "dtype": "string", "missing": "allow", "code": "R03",
     "reason": "housing", "categories": ["own", "rent"], "oov": "bucket"},
    {"name": "purpose", "kind": "categorical", "dtype": "string", "missing": "reject", "code": "R04",
     "reason": "purpose", "categories": ["car", "tv"], "oov": "reject"},
]

DRIVER = """
import json, sys
import numpy as np
from kserve.protocol.infer_type import InferInput, InferRequest
from credit_model.artifact import FeatureSpec
from kserve_model.request import RequestError, decode_request

features = [FeatureSpec(**f) for f in json.loads(sys.argv[1])]
out = {}
for name, case in json.loads(sys.stdin.read()).items():
    inputs = []
    for i in case["inputs"]:
        if "binary" in i:
            inp = InferInput(i["name"], i["shape"], i["datatype"])
            inp.set_data_from_numpy(np.array(i["binary"], dtype=np.float64), binary_data=True)
        else:
            inp = InferInput(i["name"], i["shape"], i["datatype"], data=i["data"])
        inputs.append(inp)
    try:
        cols = decode_request(InferRequest(model_name="m", infer_inputs=inputs), features, case.get("max_rows", 10))
        out[name] = {"columns": {k: [None if v is None else (repr(v) if isinstance(v, float) and v != v else v)
                                     for v in col.tolist()] for k, col in cols.items()},
                     "dtypes": {k: str(col.dtype) for k, col in cols.items()}}
    except RequestError as e:
        out[name] = {"error": e.to_dict()}
print(json.dumps(out))
"""


def col(name: str, datatype: str, data: list, shape: list[int] | None = None) -> dict:
    return {"name": name, "shape": shape or [len(data)], "datatype": datatype, "data": data}


def good(**over: dict) -> list[dict]:
    base = {"age": col("age", "INT64", [30, 45]), "income": col("income", "FP64", [1200.5, None]),
            "housing": col("housing", "BYTES", ["own", None]), "purpose": col("purpose", "BYTES", ["car", "tv"])}
    base.update(over)
    return [v for v in base.values() if v is not None]


CASES: dict[str, tuple[dict, dict]] = {
    # name: (request, expected: columns or error fields)
    "columns": ({"inputs": good()}, {"columns": {"age": [30.0, 45.0], "income": [1200.5, "nan"],
                                                 "housing": ["own", None], "purpose": ["car", "tv"]}}),
    "optional feature left out": ({"inputs": good(income=None)}, {"columns": {"income": ["nan", "nan"]}}),
    "shape [N, 1]": ({"inputs": good(age=col("age", "INT64", [[30], [45]], [2, 1]))}, {"columns": {"age": [30.0, 45.0]}}),
    "binary data": ({"inputs": good(age={"name": "age", "shape": [2], "datatype": "FP64", "binary": [30, 45]})},
                    {"columns": {"age": [30.0, 45.0]}}),
    "records form": ({"inputs": [col("records", "BYTES", [json.dumps({"age": 30, "purpose": "car"}),
                                                         json.dumps({"age": 40, "purpose": "tv", "income": 5})])]},
                     {"columns": {"age": [30.0, 40.0], "income": ["nan", 5.0], "housing": [None, None]}}),
    "no inputs": ({"inputs": []}, {"error": {"input": None, "row": None, "expected": "one input per feature"}}),
    "duplicate input": ({"inputs": good() + [col("age", "INT64", [1, 2])]},
                        {"error": {"input": "age", "row": None, "expected": "each input once"}}),
    "unknown input": ({"inputs": good() + [col("zip", "BYTES", ["a", "b"])]}, {"error": {"input": "zip", "row": None}}),
    "required feature left out": ({"inputs": good(age=None)},
                                  {"error": {"input": "age", "expected": "this input: the feature is required"}}),
    "two-dimensional shape": ({"inputs": good(age=col("age", "INT64", [30, 45, 50, 60], [2, 2]))},
                              {"error": {"input": "age", "expected": "shape [N] (one value per row)"}}),
    "fewer values than the shape": ({"inputs": good(age=col("age", "INT64", [30], [2]))},
                                    {"error": {"input": "age", "expected": "2 values as its shape says"}}),
    "rows differ between inputs": ({"inputs": good(age=col("age", "INT64", [30, 45, 50]))},
                                   {"error": {"input": "income", "row": None, "expected": "3 rows like input 'age'"}}),
    "empty batch": ({"inputs": [col(n, t, []) for n, t in (("age", "INT64"), ("purpose", "BYTES"))]},
                    {"error": {"expected": "at least one row"}}),
    "batch over the limit": ({"inputs": good(), "max_rows": 1}, {"error": {"expected": "at most 1 rows"}}),
    "numeric feature sent as BYTES": ({"inputs": good(age=col("age", "BYTES", ["30", "45"]))},
                                      {"error": {"input": "age", "row": None}}),
    "string in a numeric input": ({"inputs": good(income=col("income", "FP64", [1.0, "12"]))},
                                  {"error": {"input": "income", "row": 1, "expected": "a number"}}),
    "boolean in a numeric input": ({"inputs": good(income=col("income", "FP64", [True, 1.0]))},
                                   {"error": {"input": "income", "row": 0, "expected": "a number"}}),
    "null where missing is rejected": ({"inputs": good(age=col("age", "INT64", [30, None]))},
                                       {"error": {"input": "age", "row": 1,
                                                  "expected": "a number (this feature may not be missing)"}}),
    "fraction in an int feature": ({"inputs": good(age=col("age", "FP64", [30, 45.5]))},
                                   {"error": {"input": "age", "row": 1, "expected": "a whole number"}}),
    "below the minimum": ({"inputs": good(age=col("age", "INT64", [17, 45]))},
                          {"error": {"input": "age", "row": 0, "expected": "a value >= 18"}}),
    "above the maximum": ({"inputs": good(age=col("age", "INT64", [30, 101]))},
                          {"error": {"input": "age", "row": 1, "expected": "a value <= 100"}}),
    "categorical sent as numbers": ({"inputs": good(housing=col("housing", "FP64", [1.0, 2.0]))},
                                    {"error": {"input": "housing", "row": None}}),
    "number in a categorical input": ({"inputs": good(housing=col("housing", "BYTES", ["own", 3]))},
                                      {"error": {"input": "housing", "row": 1, "expected": "a string"}}),
    "null category where missing is rejected": ({"inputs": good(purpose=col("purpose", "BYTES", [None, "tv"]))},
                                                {"error": {"input": "purpose", "row": 0}}),
    "unknown category where rejected": ({"inputs": good(purpose=col("purpose", "BYTES", ["car", "boat"]))},
                                        {"error": {"input": "purpose", "row": 1, "expected": "one of ['car', 'tv']"}}),
    "unknown category in a bucket feature": ({"inputs": good(housing=col("housing", "BYTES", ["castle", "own"]))},
                                             {"columns": {"housing": ["castle", "own"]}}),
    "records row not JSON": ({"inputs": [col("records", "BYTES", ["{not json"])]},
                             {"error": {"input": "records", "row": 0, "expected": "a JSON object per row"}}),
    "records with an unknown key": ({"inputs": [col("records", "BYTES", [json.dumps({"age": 30, "purpose": "tv"}),
                                                                         json.dumps({"agee": 30})])]},
                                    {"error": {"input": "records", "row": 1}}),
    # a protected attribute (data.protected) is no input: a clear 400, in either request form
    "protected attribute as an input": ({"inputs": good() + [col("sex", "BYTES", ["f", "m"])]},
                                        {"error": {"input": "sex", "row": None, "expected": "one of the model's inputs",
                                                   "error": "input 'sex': not an input of this model; its inputs are "
                                                            "age, income, housing, purpose"}}),
    "protected attribute in a record": ({"inputs": [col("records", "BYTES", [json.dumps({"age": 30, "purpose": "tv",
                                                                                         "sex": "f"})])]},
                                        {"error": {"input": "records", "row": 0,
                                                   "expected": "only the model's inputs as keys"}}),
}


@pytest.fixture(scope="module")
def decoded() -> dict:
    requests = json.dumps({name: request for name, (request, _) in CASES.items()})
    proc = run_python(DRIVER, args=(json.dumps(FEATURES),), stdin=requests)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("case", list(CASES))
def test_decode_request(decoded, case: str) -> None:
    expected = CASES[case][1]
    got = decoded[case]
    if "error" in expected:
        assert "error" in got, f"accepted: {got}"
        for key, value in expected["error"].items():
            assert got["error"][key] == value, got["error"]
        assert got["error"]["error"]  # the message itself
    else:
        assert "columns" in got, got
        for name, values in expected["columns"].items():
            assert got["columns"][name] == values, (name, got["columns"][name])


def test_numeric_columns_are_float64_and_categorical_object(decoded) -> None:
    assert decoded["columns"]["dtypes"] == {"age": "float64", "income": "float64", "housing": "object",
                                           "purpose": "object"}


def test_error_messages_name_input_row_and_expectation(decoded) -> None:
    message = decoded["below the minimum"]["error"]["error"]
    assert message == "input 'age' row 0: expected a value >= 18, got 17.0"
