"""Decoding and validating a v2 inference request into raw feature columns.

Every violation raises `RequestError` (a KServe `InvalidInput`: HTTP 400, gRPC
INVALID_ARGUMENT) naming the input, the first offending row and what was expected.
Checks are whole-column numpy operations; only the error path looks at single rows.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
from kserve.errors import InvalidInput
from kserve.protocol.infer_type import InferInput, InferRequest

from kserve_model.kserve_internals import raw_data

from credit_model.artifact import FeatureSpec

NUMERIC_TYPES = {"FP16", "FP32", "FP64", "INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
RECORDS_INPUT = "records"
"""Alternative request form: one BYTES input of JSON objects, one per row."""
V1_INSTANCES = "instances"
"""The v1 protocol's field of feature records."""


class RequestError(InvalidInput):
    def __init__(self, message: str, input_name: str | None = None, row: int | None = None, expected: str | None = None):
        super().__init__(message)
        self.input_name = input_name
        self.row = row
        self.expected = expected

    def to_dict(self) -> dict:
        return {"error": self.reason, "input": self.input_name, "row": self.row, "expected": self.expected}


_UNSET = object()


def _fail(name: str, row: int | None, expected: str, got: object = _UNSET, got_text: str | None = None) -> RequestError:
    where = f"input '{name}'" + (f" row {row}" if row is not None else "")
    if got_text is None and got is not _UNSET:
        got_text = repr(got)
    tail = "" if got_text is None else f", got {got_text}"
    return RequestError(f"{where}: expected {expected}{tail}", name, row, expected)


def _flat(inp: InferInput) -> list | np.ndarray:
    """The input's values as a flat sequence, with its shape checked to be [N] or [N, 1]."""
    shape = list(inp.shape or [])
    if len(shape) == 2 and shape[1] == 1:
        shape = [shape[0]]
    if len(shape) != 1 or shape[0] < 0:
        raise _fail(inp.name, None, "shape [N] (one value per row)", inp.shape)
    if raw_data(inp) is not None:  # binary (gRPC raw_input_contents or the REST binary extension)
        try:
            values = inp.as_numpy().reshape(-1)
        except Exception as e:
            raise _fail(inp.name, None, f"{shape[0]} values of {inp.datatype} in the binary data") from e
    else:
        values = inp.data if inp.data is not None else []
        if isinstance(values, np.ndarray):
            values = values.reshape(-1)
        elif any(isinstance(v, (list, tuple)) for v in values[:1]):  # [[v], [v]] for shape [N, 1]
            values = [v[0] if isinstance(v, (list, tuple)) and len(v) == 1 else v for v in values]
    if len(values) != shape[0]:
        raise _fail(inp.name, None, f"{shape[0]} values as its shape says", f"{len(values)} values")
    return values


_JSON_NUMBER_TYPES = {int, float, type(None)}


def _first_bad_number(name: str, values: Sequence, allow_missing: bool) -> RequestError | None:
    for row, v in enumerate(values):
        if v is None and not allow_missing:
            return _fail(name, row, "a number (this feature may not be missing)", got_text="null")
        if v is not None and (isinstance(v, (bool, str, bytes, list, dict)) or not isinstance(v, (int, float, np.number))):
            return _fail(name, row, "a number", v)
    return None


def decode_numeric(name: str, datatype: str, values: list | np.ndarray, f: FeatureSpec) -> np.ndarray:
    if datatype not in NUMERIC_TYPES:
        raise _fail(name, None, f"a numeric datatype (FP32, FP64, INT32, INT64), as '{name}' is numeric", datatype)
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiu":
        x = values.astype(np.float64)
    else:
        # numpy would parse "12" or True as numbers: a strict protocol rejects them (type set: C-level)
        if not set(map(type, values)) <= _JSON_NUMBER_TYPES:
            error = _first_bad_number(name, values, f.missing == "allow")
            if error is not None:
                raise error
        try:
            x = np.asarray(values, dtype=np.float64)  # None becomes NaN
        except (TypeError, ValueError):
            raise _first_bad_number(name, values, f.missing == "allow") or _fail(name, None, "numbers") from None
        if x.ndim != 1:
            raise _fail(name, None, "one number per row")
    # comparisons with NaN are False, so the checks below skip missing values by themselves
    if not np.isfinite(x).all():
        missing = np.isnan(x)
        if f.missing != "allow" and missing.any():
            row = int(np.flatnonzero(missing)[0])
            raise _fail(name, row, "a number (this feature may not be missing)", got_text="null/NaN")
        infinite = np.isinf(x)
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise _fail(name, row, "a finite number", float(x[row]))
    if f.dtype == "int":
        frac = np.abs(x - np.round(x)) > 0
        if frac.any():
            row = int(np.flatnonzero(frac)[0])
            raise _fail(name, row, "a whole number", float(x[row]))
    if f.min is not None:
        low = x < f.min
        if low.any():
            row = int(np.flatnonzero(low)[0])
            raise _fail(name, row, f"a value >= {f.min:g}", float(x[row]))
    if f.max is not None:
        high = x > f.max
        if high.any():
            row = int(np.flatnonzero(high)[0])
            raise _fail(name, row, f"a value <= {f.max:g}", float(x[row]))
    return x


def _first_row(obj: np.ndarray, bad: object) -> int:
    return next(i for i, v in enumerate(obj) if bad(v))


def decode_categorical(name: str, datatype: str, values: list | np.ndarray, f: FeatureSpec) -> np.ndarray:
    if datatype != "BYTES":
        raise _fail(name, None, f"datatype BYTES (a string per row), as '{name}' is categorical", datatype)
    # fromiter keeps each value whole (a nested list stays one bad value, not extra rows)
    obj = np.fromiter(values, dtype=object, count=len(values))
    # the set of value types, built by C-level map: the whole-column check without a Python loop
    types = set(map(type, obj))
    if bytes in types or bytearray in types:
        try:
            obj = np.fromiter((v.decode("utf-8") if isinstance(v, (bytes, bytearray)) else v for v in obj),
                              dtype=object, count=len(obj))
        except UnicodeDecodeError:
            row = _first_row(obj, lambda v: isinstance(v, (bytes, bytearray)) and not _is_utf8(v))
            raise _fail(name, row, "UTF-8 text") from None
        types = set(map(type, obj))
    if not all(t is type(None) or issubclass(t, str) for t in types):
        row = _first_row(obj, lambda v: not (v is None or isinstance(v, str)))
        raise _fail(name, row, "a string", obj[row])
    if f.missing != "allow" and type(None) in types:
        raise _fail(name, _first_row(obj, lambda v: v is None), "a category (this feature may not be missing)",
                    got_text="null")
    if f.oov == "reject":
        unknown = set(obj) - set(f.categories) - {None}
        if unknown:
            row = _first_row(obj, lambda v: v in unknown)
            raise _fail(name, row, f"one of {f.categories}", obj[row])
    return obj


def _is_utf8(raw: bytes | bytearray) -> bool:
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _records_to_inputs(rows: Sequence, features: Sequence[FeatureSpec], label: str) -> dict[str, tuple[str, list]]:
    """Feature records (JSON objects, or their text) → per-feature value lists; `label` names
    the field in errors (the v2 `records` input, the v1 `instances`)."""
    cols: dict[str, list] = {f.name: [] for f in features}
    for i, raw in enumerate(rows):
        rec = raw
        if not isinstance(raw, dict):
            try:
                rec = json.loads(raw)
            except (TypeError, ValueError):
                raise _fail(label, i, "a JSON object per row") from None
        if not isinstance(rec, dict):
            raise _fail(label, i, "a JSON object per row", type(rec).__name__)
        unknown = sorted(set(rec) - set(cols))
        if unknown:
            raise RequestError(
                f"input '{label}' row {i}: {unknown[0]!r} is not an input of this model; expected only "
                f"the model's inputs as keys ({', '.join(cols)})", label, i, "only the model's inputs as keys")
        for name, col in cols.items():
            col.append(rec.get(name))
    return {f.name: ("BYTES" if f.kind == "categorical" else "FP64", cols[f.name]) for f in features}


def decode_v1(body: object, features: Sequence[FeatureSpec], max_rows: int) -> dict[str, np.ndarray]:
    """KServe's v1 body `{"instances": [{feature: value, ...}, ...]}` → {feature: column},
    through the same checks as a v2 request of records."""
    expected = 'a JSON object {"instances": [{feature: value, ...}, ...]}'
    if not isinstance(body, dict):
        raise RequestError(f"v1 request: expected {expected}", V1_INSTANCES, None, expected)
    unknown = sorted(set(body) - {V1_INSTANCES})
    if unknown:
        raise RequestError(f"v1 request: field '{unknown[0]}' is not part of it; expected {expected}",
                           unknown[0], None, expected)
    rows = body.get(V1_INSTANCES)
    if not isinstance(rows, list):
        raise _fail(V1_INSTANCES, None, "a list of feature records", type(rows).__name__ if rows is not None else "nothing")
    return _columns(_records_to_inputs(rows, features, V1_INSTANCES), features, max_rows, V1_INSTANCES)


def decode_request(request: InferRequest, features: Sequence[FeatureSpec], max_rows: int) -> dict[str, np.ndarray]:
    """v2 request → {feature: column} (numeric float64 with NaN, categorical object with None)."""
    inputs = request.inputs or []
    if not inputs:
        raise RequestError("request has no inputs: expected one input per feature", None, None, "one input per feature")
    names = [i.name for i in inputs]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise _fail(dupes[0], None, "each input once", f"{names.count(dupes[0])} inputs with this name")
    spec = {f.name: f for f in features}
    if names == [RECORDS_INPUT] and RECORDS_INPUT not in spec:
        raw = _records_to_inputs(_flat(inputs[0]), features, RECORDS_INPUT)
    else:
        unknown = [n for n in names if n not in spec]
        if unknown:
            # e.g. a protected attribute (data.protected): read at training, never an input
            raise RequestError(f"input '{unknown[0]}': not an input of this model; its inputs are {', '.join(spec)}",
                               unknown[0], None, "one of the model's inputs")
        raw = {i.name: (i.datatype, _flat(i)) for i in inputs}
    return _columns(raw, features, max_rows, names[0])


def _columns(raw: dict[str, tuple[str, list]], features: Sequence[FeatureSpec], max_rows: int,
             label: str) -> dict[str, np.ndarray]:
    """{input: (datatype, values)} → {feature: column}: equal lengths, the row limit, each feature
    decoded; `label` (the request's first input) is named by errors about the whole batch."""
    lengths = {name: len(v) for name, (_, v) in raw.items()}
    n = next(iter(lengths.values()))
    for name, length in lengths.items():
        if length != n:
            raise _fail(name, None, f"{n} rows like input '{next(iter(lengths))}'", f"{length} rows")
    if n == 0:
        raise RequestError("empty batch: expected at least one row", label, None, "at least one row")
    if n > max_rows:
        raise RequestError(f"batch of {n} rows exceeds the limit of {max_rows}", label, None, f"at most {max_rows} rows")
    columns: dict[str, np.ndarray] = {}
    for f in features:
        if f.name not in raw:
            if f.missing != "allow":
                raise _fail(f.name, None, "this input: the feature is required")
            columns[f.name] = np.full(n, np.nan) if f.kind == "numeric" else np.full(n, None, dtype=object)
            continue
        datatype, values = raw[f.name]
        decode = decode_numeric if f.kind == "numeric" else decode_categorical
        columns[f.name] = decode(f.name, datatype, values, f)
    return columns
