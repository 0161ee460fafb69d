"""The pyfunc flavour's frame conversion (its fast path) gives exactly frame_to_columns' arrays,
and the flavour's answers are those of the engine on frame_to_columns' arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from credit_model.artifact import MLFLOW_ARTIFACT_KEY
from credit_model.frames import frame_to_columns
from credit_model.mlflow_pyfunc import CreditScorePyfunc, frame_columns
from tests.conftest import NOT_INPUTS, REPO

DATA = REPO / "training_job" / "datasets" / "germancredit.csv"


def applicants(n: int) -> pd.DataFrame:
    return pd.read_csv(DATA).drop(columns=NOT_INPUTS).head(n)


def same_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    assert list(a) == list(b)
    for name in a:
        assert a[name].dtype == b[name].dtype, name
        assert a[name].shape == b[name].shape, name
        if a[name].dtype == np.float64:
            np.testing.assert_array_equal(a[name], b[name], err_msg=name)  # NaN equals NaN here
        else:
            assert [(type(v), v) for v in a[name]] == [(type(v), v) for v in b[name]], name


def _numeric(spec) -> list[str]:
    return [f.name for f in spec.features if f.kind == "numeric"]


def _categorical(spec) -> list[str]:
    return [f.name for f in spec.features if f.kind != "numeric"]


def plain(frame, spec):
    return frame


def float_with_nan(frame, spec):
    col = _numeric(spec)[0]
    return frame.assign(**{col: frame[col].astype(float).where(frame.index % 3 != 0)})


def nullable_int(frame, spec):
    col = _numeric(spec)[1]
    return frame.assign(**{col: pd.array(frame[col].where(frame.index % 2 == 0), dtype="Int64")})


def numbers_as_text(frame, spec):
    col = _numeric(spec)[2]
    return frame.assign(**{col: frame[col].astype(str).astype(object)})


def bools_and_unsigned(frame, spec):
    a, b = _numeric(spec)[:2]
    return frame.assign(**{a: frame[a] > frame[a].median(), b: frame[b].astype(np.uint16)})


def text_with_missing(frame, spec):
    col = _categorical(spec)[0]
    values = frame[col].astype(object).copy()
    values.iloc[0] = None
    values.iloc[-1] = np.nan
    return frame.assign(**{col: values})


def category_and_string_dtypes(frame, spec):
    a, b = _categorical(spec)[:2]
    s = frame[b].astype("string")
    s.iloc[-1] = pd.NA
    return frame.assign(**{a: frame[a].astype("category"), b: s})


def non_str_text(frame, spec):
    col = _categorical(spec)[0]
    return frame.assign(**{col: [i if i % 2 else str(i) for i in range(len(frame))]})


CASES = [plain, float_with_nan, nullable_int, numbers_as_text, bools_and_unsigned, text_with_missing,
         category_and_string_dtypes, non_str_text]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
@pytest.mark.parametrize("rows", [1, 7])
def test_fast_path_gives_frame_to_columns_arrays(trained, case, rows) -> None:
    spec = trained["spec"]
    frame = case(applicants(rows), spec)
    same_arrays(frame_columns(frame, spec.features), frame_to_columns(frame, spec.features))


class _Context:
    def __init__(self, artifact_dir) -> None:
        self.artifacts = {MLFLOW_ARTIFACT_KEY: str(artifact_dir)}


@pytest.mark.parametrize("rows", [1, 300])
def test_pyfunc_answers_unchanged(trained, rows) -> None:
    model = CreditScorePyfunc()
    model.load_context(_Context(trained["dir"]))
    frame = applicants(rows)
    got = model.predict(None, frame)
    batch = model.engine.score(frame_to_columns(frame, model.engine.spec.features))
    want = pd.DataFrame({"probability_of_default": batch.probability_of_default, "score": batch.score,
                         "decision": batch.decision, "reason_codes": batch.reason_codes})
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    assert (got["decision"] != "").all() and got["reason_codes"].str.startswith("[").all()
