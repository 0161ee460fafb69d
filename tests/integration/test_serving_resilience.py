"""The predictor against an MLflow outage and against bad artifacts."""

from __future__ import annotations

import json
import shutil
import time

import httpx
import pytest

from tests.integration.test_serving import MODEL, _good, infer, registered  # noqa: F401  (fixture)
from tests.procs import start_predictor, stop, wait_http

pytestmark = pytest.mark.integration


def model_ready(p) -> int:
    return httpx.get(f"{p.http}/v2/models/credit-score/ready", timeout=5).status_code


def test_starts_before_mlflow_and_survives_its_outage(registered, tmp_path) -> None:
    mlflow = registered
    mlflow.stop()
    p = start_predictor(f"models:/{MODEL}@champion", mlflow.url, tmp_path)
    try:
        wait_http(f"{p.http}/v2/health/live", 60, p.proc)
        deadline = time.time() + 60  # the first attempt imports mlflow first: seconds on a busy machine
        while "retrying in" not in p.log_text() and time.time() < deadline:
            time.sleep(0.2)
        assert "retrying in" in p.log_text()  # one log line per attempt
        assert model_ready(p) == 503
        assert infer(p, _good()).status_code == 503
        mlflow.start()
        wait_http(f"{p.http}/v2/models/credit-score/ready", 60, p.proc)
        mlflow.stop()  # once loaded, MLflow going away does not matter
        r = infer(p, _good())
        assert r.status_code == 200 and r.headers["x-model-version"] == "1"
    finally:
        stop(p.proc)
        if mlflow.proc.poll() is not None:
            mlflow.start()


def test_version_uri_with_a_warm_cache_needs_no_mlflow(registered, tmp_path) -> None:
    first = start_predictor(f"models:/{MODEL}/1", registered.url, tmp_path)
    try:
        wait_http(f"{first.http}/v2/models/credit-score/ready", 60, first.proc)
    finally:
        stop(first.proc)
    # a restarted pod with the same cache volume: MLflow is not even asked
    again = start_predictor(f"models:/{MODEL}/1", "http://127.0.0.1:9", tmp_path)
    try:
        wait_http(f"{again.http}/v2/models/credit-score/ready", 60, again.proc)
        assert infer(again, _good()).status_code == 200
    finally:
        stop(again.proc)


def _local_artifact(registered, tmp_path):
    from mlflow.artifacts import download_artifacts

    from credit_model.artifact import find_artifact_dir

    root = download_artifacts(artifact_uri=f"models:/{MODEL}/1", dst_path=str(tmp_path / "dl"), tracking_uri=registered.url)
    src = find_artifact_dir(tmp_path / "dl" if root else tmp_path)
    dst = tmp_path / "artifact"
    shutil.copytree(src, dst)
    return dst


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("schema", "schema_version 99"),
        ("network", "network.onnx is corrupt"),
    ],
)
def test_bad_artifact_leaves_the_server_live_but_not_ready(registered, tmp_path, monkeypatch, damage, message) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered.url)
    art = _local_artifact(registered, tmp_path)
    if damage == "schema":
        raw = json.loads((art / "artifact.json").read_text())
        raw["schema_version"] = 99
        (art / "artifact.json").write_text(json.dumps(raw))
    else:
        (art / "network.onnx").write_bytes(b"\x00" * 64)
    p = start_predictor(str(art), None, tmp_path / "srv")
    try:
        wait_http(f"{p.http}/v2/health/live", 60, p.proc)
        deadline = time.time() + 20
        while message not in p.log_text() and time.time() < deadline:
            time.sleep(0.2)
        assert message in p.log_text() and "NOT READY" in p.log_text()
        assert p.proc.poll() is None  # no crash loop
        r = httpx.get(f"{p.http}/v2/models/credit-score/ready", timeout=5)
        assert r.status_code == 503 and message in r.text
        assert infer(p, _good()).status_code == 503
    finally:
        stop(p.proc)


def test_local_folder_uri_serves_without_mlflow(registered, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", registered.url)
    art = _local_artifact(registered, tmp_path)
    p = start_predictor(str(art), None, tmp_path / "srv")
    try:
        wait_http(f"{p.http}/v2/models/credit-score/ready", 60, p.proc)
        r = infer(p, _good())
        assert r.status_code == 200 and r.headers["x-model-version"] == "local"
    finally:
        stop(p.proc)
