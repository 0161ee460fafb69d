"""The small programs the chart runs with `python -c` (files/*.py), run for real against local
servers: the helm test, the MLflow wait, the data download and the model-reference check."""

from __future__ import annotations

import csv
import hashlib
import http.server
import json
import os
import subprocess
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

from tests.conftest import NOT_INPUTS

from .support import CHART, REPO, env_of, one, render_ci

pytestmark = pytest.mark.chart

FILES = CHART / "files"
GERMAN = REPO / "training_job" / "datasets" / "germancredit.csv"
NUMERIC = {"duration_in_month", "credit_amount", "installment_rate_in_percentage_of_disposable_income",
           "present_residence_since", "age_in_years", "number_of_existing_credits_at_this_bank",
           "number_of_people_being_liable_to_provide_maintenance_for"}
OUTPUTS = ("probability_of_default", "score", "decision", "reason_codes")


def run_script(name: str, env: dict[str, str], timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a chart file exactly as the pods do: `python -c <file content>`."""
    return subprocess.run([sys.executable, "-c", (FILES / name).read_text()], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=timeout)


@contextmanager
def serve(routes: dict[tuple[str, str], tuple[int, dict, bytes]]) -> Iterator[str]:
    seen: list[tuple[str, str, bytes]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, method: str) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            seen.append((method, self.path, body))
            status, headers, payload = routes.get((method, self.path), (404, {}, b"{}"))
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self):  # noqa: N802
            self._answer("GET")

        def do_POST(self):  # noqa: N802
            self._answer("POST")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        serve.seen = seen
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_sample_applicant_is_the_first_german_credit_row():
    sample = json.loads((FILES / "sample-applicant.json").read_text())
    with GERMAN.open() as f:
        row = next(csv.DictReader(f))
    assert "creditability" not in sample
    assert set(sample) == set(row) - set(NOT_INPUTS)  # no protected attribute: not an input of the model
    for name, value in sample.items():
        if name in NUMERIC:
            assert isinstance(value, int) and value == int(row[name]), name
        else:
            assert isinstance(value, str) and value == row[name], name


def test_helm_test_scores_one_applicant(tools):
    pod = one(render_ci("default-values.yaml"), "Pod")
    env = env_of(pod["spec"]["containers"][0])
    infer = {"model_name": "credit-score", "id": "helm-test", "outputs": [
        {"name": "probability_of_default", "datatype": "FP32", "shape": [1], "data": [0.12]},
        {"name": "score", "datatype": "INT32", "shape": [1], "data": [612]},
        {"name": "decision", "datatype": "BYTES", "shape": [1], "data": ["approve"]},
        {"name": "reason_codes", "datatype": "BYTES", "shape": [1], "data": ["[]"]}]}
    ok = (200, {"Content-Type": "application/json"}, b"{}")
    routes = {("GET", "/v2/health/live"): ok, ("GET", "/v2/health/ready"): ok,
              ("GET", "/v2/models/credit-score/ready"): ok,
              ("POST", "/v2/models/credit-score/infer"): (200, {"x-model-version": "1"}, json.dumps(infer).encode())}
    with serve(routes) as url:
        proc = run_script("helm-test.py", {**env, "BASE_URL": url})
        seen = serve.seen
    assert proc.returncode == 0, proc.stderr
    assert "decision=approve model version=1" in proc.stdout
    request = json.loads(next(body for method, _, body in seen if method == "POST"))
    inputs = {i["name"]: i for i in request["inputs"]}
    assert set(inputs) == set(json.loads((FILES / "sample-applicant.json").read_text()))
    assert inputs["age_in_years"] == {"name": "age_in_years", "datatype": "INT64", "shape": [1], "data": [67]}
    assert inputs["purpose"]["datatype"] == "BYTES" and inputs["purpose"]["shape"] == [1]


def test_helm_test_fails_on_a_predictor_that_is_not_ready(tools):
    env = env_of(one(render_ci("default-values.yaml"), "Pod")["spec"]["containers"][0])
    routes = {("GET", "/v2/health/live"): (200, {}, b"{}"), ("GET", "/v2/health/ready"): (503, {}, b'{"ready": false}')}
    with serve(routes) as url:
        proc = run_script("helm-test.py", {**env, "BASE_URL": url})
    assert proc.returncode != 0
    assert "GET /v2/health/ready answered 503" in proc.stderr


def test_wait_for_mlflow(tools):
    with serve({("GET", "/health"): (200, {}, b"OK")}) as url:
        proc = run_script("wait-for-mlflow.py", {"MLFLOW_TRACKING_URI": url, "WAIT_SECONDS": "10"})
    assert proc.returncode == 0 and "mlflow is up" in proc.stdout
    proc = run_script("wait-for-mlflow.py", {"MLFLOW_TRACKING_URI": "http://127.0.0.1:9", "WAIT_SECONDS": "0"})
    assert proc.returncode != 0 and "did not answer /health in time" in proc.stderr


def test_download_data_verifies_the_checksum(tmp_path):
    data = b"a,b\n1,2\n"
    good = hashlib.sha256(data).hexdigest()
    with serve({("GET", "/credit.csv"): (200, {}, data)}) as url:
        target = tmp_path / "credit.csv"
        proc = run_script("download-data.py", {"DATA_URL": f"{url}/credit.csv", "DATA_SHA256": good, "DATA_PATH": str(target)})
        assert proc.returncode == 0, proc.stderr
        assert target.read_bytes() == data
        bad = tmp_path / "bad.csv"
        proc = run_script("download-data.py", {"DATA_URL": f"{url}/credit.csv", "DATA_SHA256": "0" * 64, "DATA_PATH": str(bad)})
        assert proc.returncode != 0 and "sha256 mismatch" in proc.stderr
        assert not bad.exists() and not Path(f"{bad}.part").exists()


def run_in_process(name: str, env: dict[str, str], monkeypatch, capsys) -> tuple[int, str, str]:
    """Run a chart file that imports mlflow in this process (mlflow is slow to import)."""
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        exec(compile((FILES / name).read_text(), name, "exec"), {"__name__": "__main__"})
        code = 0
    except SystemExit as e:
        code = 0 if e.code in (None, 0) else 1
        if isinstance(e.code, str):
            print(e.code, file=sys.stderr)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def registry(tmp_path_factory) -> str:
    """A real MLflow registry (SQLite) with credit-score version 1, alias champion."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model("credit-score")
    version = client.create_model_version("credit-score", source="file:///tmp/artifact")
    client.set_registered_model_alias("credit-score", "champion", version.version)
    return uri


@pytest.mark.parametrize("model_uri", ["models:/credit-score/1", "models:/credit-score@champion"])
def test_model_reference_check_resolves(registry, model_uri, monkeypatch, capsys):
    code, out, err = run_in_process("check-model-ref.py", {"MLFLOW_TRACKING_URI": registry, "MODEL_URI": model_uri, "WAIT_SECONDS": "0"}, monkeypatch, capsys)
    assert code == 0, err
    assert "-> credit-score version 1" in out


def test_model_reference_check_fails_clearly(registry, monkeypatch, capsys):
    code, _, err = run_in_process("check-model-ref.py", {"MLFLOW_TRACKING_URI": registry, "MODEL_URI": "models:/credit-score/7", "WAIT_SECONDS": "0"}, monkeypatch, capsys)
    assert code != 0
    assert "could not resolve models:/credit-score/7" in err
    proc = run_script("check-model-ref.py", {"MLFLOW_TRACKING_URI": registry, "MODEL_URI": "s3://bucket/model", "WAIT_SECONDS": "0"})
    assert proc.returncode != 0 and "is neither models:/<name>@<alias> nor models:/<name>/<version>" in proc.stderr
