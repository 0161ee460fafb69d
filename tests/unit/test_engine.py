from __future__ import annotations

import json

import numpy as np

from credit_model.engine import ScoringEngine
from credit_model.artifact import read_artifact
from credit_model.frames import frame_to_columns


def score_frame(trained, frame):
    engine = ScoringEngine(read_artifact(trained["dir"]))
    return engine, engine.score(frame_to_columns(frame, engine.spec.features))


def test_outputs_have_the_contract_types(trained) -> None:
    frame = trained["ds"].frame.iloc[:50]
    _, out = score_frame(trained, frame)
    assert out.probability_of_default.dtype == np.float32 and out.probability_of_default.shape == (50,)
    assert out.score.dtype == np.int32
    assert set(out.decision) <= {"approve", "refer", "decline"}
    assert np.all((out.probability_of_default > 0) & (out.probability_of_default < 1))


def test_reason_codes_only_for_adverse_decisions_and_ranked(trained) -> None:
    frame = trained["ds"].frame
    engine, out = score_frame(trained, frame)
    adverse = np.isin(out.decision, ["decline", "refer"])
    assert adverse.any() and (~adverse).any()
    assert all(r == "[]" for r in out.reason_codes[~adverse])
    codes = {f.code: f for f in engine.spec.features}
    for text in out.reason_codes[adverse]:
        reasons = json.loads(text)
        assert 1 <= len(reasons) <= engine.spec.scoring.reason_codes
        for r in reasons:
            assert codes[r["code"]].name == r["feature"] and codes[r["code"]].reason == r["reason"]


def test_reason_is_the_feature_that_moved_the_risk(trained) -> None:
    """Make one applicant's risk come from a single feature: that feature must rank first."""
    engine = ScoringEngine(read_artifact(trained["dir"]))
    spec = engine.spec
    base = {f.name: [f.baseline] for f in spec.features}
    frame_rows = []
    import pandas as pd

    row = pd.DataFrame(base)
    logits = {}
    for f in spec.features:
        if f.kind != "numeric":
            continue
        for value in (f.observed_min, f.observed_max):
            probe = row.copy()
            probe[f.name] = value
            logits[(f.name, value)] = engine.logits(engine_inputs(engine, probe))[0]
            frame_rows.append(probe)
    (name, value), _ = max(logits.items(), key=lambda kv: kv[1])
    probe = row.copy()
    probe[name] = value
    batch = engine.score(frame_to_columns(probe, spec.features))
    if batch.decision[0] in spec.scoring.adverse_decisions:
        assert json.loads(batch.reason_codes[0])[0]["feature"] == name
    else:  # the lone feature was not enough to make it adverse: nothing to rank
        assert batch.reason_codes[0] == "[]"


def engine_inputs(engine, frame):
    from credit_model.transform import encode

    return encode(frame_to_columns(frame, engine.spec.features), engine.spec.features, engine.spec.network)


def test_batch_and_single_rows_agree(trained) -> None:
    frame = trained["ds"].frame.iloc[:20]
    engine, batch = score_frame(trained, frame)
    singles = [engine.score(frame_to_columns(frame.iloc[[i]], engine.spec.features)) for i in range(20)]
    assert np.allclose([s.probability_of_default[0] for s in singles], batch.probability_of_default, atol=1e-6)
    assert [s.reason_codes[0] for s in singles] == list(batch.reason_codes)


def test_chunked_onnx_calls_give_the_same_answers(trained, monkeypatch) -> None:
    import credit_model.engine as engine_module

    frame = trained["ds"].frame.iloc[:60]
    _, whole = score_frame(trained, frame)
    monkeypatch.setattr(engine_module, "ONNX_CHUNK_ROWS", 7)  # 60 rows, and their occlusions, in pieces
    _, chunked = score_frame(trained, frame)
    assert np.allclose(chunked.probability_of_default, whole.probability_of_default, atol=1e-6)
    assert list(chunked.reason_codes) == list(whole.reason_codes)
    assert sum(r != "[]" for r in whole.reason_codes) > 0
