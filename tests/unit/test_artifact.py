from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from credit_model.engine import ScoringEngine
from credit_model.artifact import NETWORK_FILE, SCHEMA_VERSION, SPEC_FILE, ArtifactError, UnsupportedSchemaError, read_artifact
from credit_model.frames import frame_to_columns


def test_round_trip_predicts_exactly_what_the_in_memory_model_did(trained) -> None:
    artifact = read_artifact(trained["dir"])
    assert artifact.digest == trained["digest"]
    frame = trained["ds"].frame.iloc[trained["test_rows"]]
    expected = trained["fm"].predict_pd(frame)
    got = ScoringEngine(artifact).score(frame_to_columns(frame, artifact.spec.features))
    assert np.max(np.abs(got.probability_of_default - expected)) < 1e-5
    # same features, same order, same fitted parameters after the JSON round trip
    assert artifact.spec.features == trained["fm"].features


def test_artifact_holds_no_pickle(trained) -> None:
    files = sorted(p.name for p in Path(trained["dir"]).iterdir())
    assert files == [SPEC_FILE, NETWORK_FILE]
    raw = json.loads((trained["dir"] / SPEC_FILE).read_text())
    assert raw["schema_version"] == SCHEMA_VERSION and raw["reference"] is not None and raw["network"]["sha256"]


def copy_artifact(trained, tmp_path: Path) -> Path:
    dst = tmp_path / "a"
    shutil.copytree(trained["dir"], dst)
    return dst


def test_unknown_schema_version_is_refused(trained, tmp_path: Path) -> None:
    d = copy_artifact(trained, tmp_path)
    raw = json.loads((d / SPEC_FILE).read_text())
    raw["schema_version"] = 99
    (d / SPEC_FILE).write_text(json.dumps(raw))
    with pytest.raises(UnsupportedSchemaError, match="schema_version 99 .* not supported"):
        read_artifact(d)


def test_corrupt_network_is_refused(trained, tmp_path: Path) -> None:
    d = copy_artifact(trained, tmp_path)
    (d / NETWORK_FILE).write_bytes(b"not onnx")
    with pytest.raises(ArtifactError, match="network.onnx is corrupt"):
        read_artifact(d)


def test_broken_json_and_missing_files_are_named(trained, tmp_path: Path) -> None:
    d = copy_artifact(trained, tmp_path)
    (d / SPEC_FILE).write_text("{")
    with pytest.raises(ArtifactError, match="artifact.json is not valid JSON"):
        read_artifact(d)
    with pytest.raises(ArtifactError, match="no artifact.json under"):
        read_artifact(tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else tmp_path)


def test_artifact_is_found_inside_an_mlflow_model_folder(trained, tmp_path: Path) -> None:
    nested = tmp_path / "model" / "artifacts" / "credit_model"
    shutil.copytree(trained["dir"], nested)
    assert read_artifact(tmp_path / "model").digest == trained["digest"]
