"""Property-based fuzzing of the v2 request decoder (kserve_model/request.py), in-process: any
request hypothesis can build, well-formed or not, either decodes into one checked column per
feature or raises RequestError naming what is wrong; nothing else escapes (which the server
would answer with a 500).

KServe's InferRequest loads its gRPC protos (tests/kserve_subprocess.py says why), so the
hypothesis run happens in one fresh interpreter and reports its counts as JSON."""

from __future__ import annotations

import json

import pytest

from tests.kserve_subprocess import run_python
from tests.unit.test_decode_request import FEATURES

pytestmark = pytest.mark.fuzz
EXAMPLES = 600

DRIVER = r"""
import json, math, sys
from collections import Counter
import numpy as np
from hypothesis import HealthCheck, given, settings, strategies as st
from kserve.protocol.infer_type import InferInput, InferRequest
from credit_model.artifact import FeatureSpec
from kserve_model.request import NUMERIC_TYPES, RECORDS_INPUT, RequestError, decode_request

features = [FeatureSpec(**f) for f in json.loads(sys.argv[1])]
spec = {f.name: f for f in features}
MAX_ROWS = 8
counts = Counter()

scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**20, 10**20), st.floats(allow_nan=True, allow_infinity=True),
                   st.text(max_size=6), st.sampled_from(["car", "tv", "own", "rent", "35", "NaN"]), st.binary(max_size=4))
value = st.one_of(scalar, st.lists(scalar, max_size=2), st.dictionaries(st.text(max_size=3), scalar, max_size=2))
json_scalar = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(-1e6, 1e6), st.text(max_size=6))
record = st.dictionaries(st.sampled_from([*spec, "zodiac"]), json_scalar, max_size=5)
datatypes = st.sampled_from([*sorted(NUMERIC_TYPES), "BYTES", "BOOL", "FOO", ""])
names = st.sampled_from([*spec, RECORDS_INPUT, "zodiac", ""])
shapes = st.one_of(st.lists(st.integers(-2, 12), min_size=0, max_size=3), st.just(None))


@st.composite
def an_input(draw):
    name, datatype = draw(names), draw(datatypes)
    n = draw(st.integers(0, 10))
    shape = draw(st.one_of(st.just([n]), st.just([n, 1]), shapes))
    kind = draw(st.sampled_from(["json", "records", "binary"]))
    if kind == "records":
        data = [json.dumps(draw(record)) if draw(st.booleans()) else draw(value) for _ in range(n)]
    elif kind == "binary" and datatype in NUMERIC_TYPES - {"FP16"}:
        inp = InferInput(name, [n], datatype)
        arr = np.array(draw(st.lists(st.floats(-1e6, 1e6), min_size=n, max_size=n)), dtype=np.float64)
        inp.set_data_from_numpy(arr.astype(np.dtype(datatype.lower().replace("fp", "float"))), binary_data=True)
        inp._shape = draw(st.one_of(st.just([n]), shapes)) or [n]  # a shape that may disagree with the bytes
        return inp
    else:
        data = [draw(value) for _ in range(n)]
    return InferInput(name, shape, datatype, data=data)


@st.composite
def a_request(draw):
    if draw(st.booleans()):  # anything at all
        return InferRequest(model_name="m", infer_inputs=draw(st.lists(an_input(), max_size=6)))
    # the model's features, each once, with values near or inside what they allow, and maybe one stray input
    n = draw(st.integers(1, MAX_ROWS + 1))
    inputs = []
    for f in features:
        if f.kind == "categorical":
            datatype, base = "BYTES", st.sampled_from(f.categories + [None, "other"])
        else:
            lo, hi = (f.min if f.min is not None else -1e3), (f.max if f.max is not None else 1e6)
            datatype = draw(st.sampled_from(["FP64", "FP32", "INT64"]))
            base = st.one_of(st.integers(int(lo), int(hi)), st.integers(int(lo), int(hi)), st.floats(lo - 5, hi + 5), st.none())
        inputs.append(InferInput(f.name, [n], datatype, data=draw(st.lists(base, min_size=n, max_size=n))))
    return InferRequest(model_name="m", infer_inputs=inputs + draw(st.lists(an_input(), max_size=1)))


@settings(max_examples=int(sys.argv[2]), deadline=None, database=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
@given(a_request())
def property(request):
    try:
        columns = decode_request(request, features, MAX_ROWS)
    except RequestError as e:
        body = e.to_dict()
        assert body["error"], body
        if body["row"] is not None:  # a row's mistake names its input and the row
            assert 0 <= body["row"] and f"input '{body['input']}' row {body['row']}:" in body["error"], body
        counts["400 " + ("input+row" if body["row"] is not None else "input" if body["input"] else "request")] += 1
        return
    assert set(columns) == set(spec)
    lengths = {len(c) for c in columns.values()}
    assert len(lengths) == 1 and 1 <= lengths.pop() <= MAX_ROWS
    for f in features:
        col = columns[f.name]
        if f.kind == "numeric":
            assert col.dtype == np.float64
            ok = col[~np.isnan(col)]
            assert np.isfinite(ok).all() and (f.min is None or (ok >= f.min).all()) and (f.max is None or (ok <= f.max).all())
            assert f.missing == "allow" or not np.isnan(col).any()
        else:
            assert all(v is None or isinstance(v, str) for v in col)
            assert f.missing == "allow" or None not in list(col)
    counts["decoded"] += 1


property()
print(json.dumps(dict(counts)))
"""


def test_any_request_decodes_or_names_its_mistake(tmp_path) -> None:
    # hypothesis keeps a constants cache even without a database: not in the source tree
    proc = run_python(DRIVER, args=(json.dumps(FEATURES), str(EXAMPLES)),
                      env={"HYPOTHESIS_STORAGE_DIRECTORY": str(tmp_path / "hypothesis")})
    assert proc.returncode == 0, proc.stderr[-4000:]
    counts = json.loads(proc.stdout.strip().splitlines()[-1])
    total = sum(counts.values())
    print(f"\ndecoder fuzz: {total} requests: " + ", ".join(f"{k}:{v}" for k, v in sorted(counts.items())))
    assert total >= EXAMPLES * 0.9
    # the generator reaches both sides: requests that decode, and each kind of refusal
    assert counts.get("decoded", 0) >= 10 and counts.get("400 input+row", 0) >= 10 and counts.get("400 input", 0) >= 10
