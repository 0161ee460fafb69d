"""The path of the design, in containers: an MLflow server (the training image, as in the
cluster), a training container that registers `credit-score`, and the serving image
answering v2 inference for `models:/credit-score@champion`. Every container runs as uid
10001 with a read-only root file system and only /tmp writable, on a throw-away network.
"""

from __future__ import annotations

import json

import httpx
import pandas as pd
import pytest

from tests.conftest import NOT_INPUTS, QUICK, REPO
from tests.containers.support import UID, docker, host_port, logs, wait_http
from tests.procs import v2_inputs

pytestmark = pytest.mark.containers

MODEL = "credit-score"
HARDENED = ["--read-only", "--tmpfs", "/tmp", "--user", str(UID)]
MLFLOW_IN_NET = "http://mlflow:5000"


@pytest.fixture(scope="module")
def mlflow_container(images, session_net):
    """`mlflow server` from the training image, reachable as http://mlflow:5000 inside the
    network and on a published 127.0.0.1 port from the tests."""
    name = session_net.name("mlflow")
    docker("run", "-d", "--name", name, "--network", session_net.network, "--network-alias", "mlflow", *HARDENED,
           "-p", "127.0.0.1::5000", "--entrypoint", "mlflow", images.train,
           "server", "--host", "0.0.0.0", "--port", "5000", "--workers", "1",
           "--backend-store-uri", "sqlite:////tmp/mlflow.db",
           "--artifacts-destination", "/tmp/artifacts", "--serve-artifacts",
           "--allowed-hosts", "mlflow,mlflow:5000,localhost,localhost:*,127.0.0.1,127.0.0.1:*")
    url = f"http://127.0.0.1:{host_port(name, 5000)}"
    wait_http(f"{url}/health", 120, name)
    return url


@pytest.fixture(scope="module")
def trained(images, session_net, mlflow_container) -> dict:
    """One training run in the training image, against the MLflow container."""
    args = ["--config", "/app/config/models-configs/model_config_000.yaml", "--experiment", "containers"]
    for o in QUICK:
        args += ["--set", o]
    done = docker("run", "--rm", "--name", session_net.name("train"), "--network", session_net.network, *HARDENED,
                  "-e", f"MLFLOW_TRACKING_URI={MLFLOW_IN_NET}", images.train, *args, timeout=900, check=False)
    assert done.returncode == 0, f"training container exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}"
    r = httpx.get(f"{mlflow_container}/api/2.0/mlflow/registered-models/alias", params={"name": MODEL, "alias": "champion"})
    assert r.status_code == 200, r.text
    return {"stdout": done.stdout, "version": r.json()["model_version"]["version"]}


@pytest.fixture(scope="module")
def serving(images, session_net, trained) -> dict:
    name = session_net.name("serve")
    docker("run", "-d", "--name", name, "--network", session_net.network, *HARDENED,
           "-p", "127.0.0.1::8080", "-p", "127.0.0.1::8081",
           "-e", f"MODEL_URI=models:/{MODEL}@champion", "-e", f"MLFLOW_TRACKING_URI={MLFLOW_IN_NET}",
           images.serve)
    url = f"http://127.0.0.1:{host_port(name, 8080)}"
    # KServe's /v2/health/ready says 200 as soon as the server is up (DataPlane.ready() is
    # True for a predictor), before the model is loaded: wait for the model itself.
    wait_http(f"{url}/v2/health/ready", 180, name)
    seconds = wait_http(f"{url}/v2/models/{MODEL}/ready", 180, name)
    return {"name": name, "url": url, "grpc": f"127.0.0.1:{host_port(name, 8081)}", "ready_s": seconds}


def applicants(n: int) -> pd.DataFrame:
    return pd.read_csv(REPO / "training_job" / "datasets" / "germancredit.csv").drop(columns=NOT_INPUTS).head(n)


def test_training_container_registers_a_champion(trained) -> None:
    assert trained["version"] == "1"
    assert "version" in trained["stdout"] and "champion" in trained["stdout"]


def test_serving_container_answers_v2_infer_with_the_model_version(serving, trained) -> None:
    r = httpx.post(f"{serving['url']}/v2/models/{MODEL}/infer", json={"id": "c-1", "inputs": v2_inputs(applicants(3))}, timeout=30)
    assert r.status_code == 200, f"{r.status_code} {r.text}\n{logs(serving['name'])}"
    body = r.json()
    out = {o["name"]: o["data"] for o in body["outputs"]}
    assert set(out) == {"probability_of_default", "score", "decision", "reason_codes"}
    assert len(out["decision"]) == 3 and set(out["decision"]) <= {"approve", "refer", "decline"}
    assert all(0 < p < 1 for p in out["probability_of_default"])
    assert all(isinstance(json.loads(rc), list) for rc in out["reason_codes"])
    assert r.headers["x-model-version"] == trained["version"]
    assert r.headers["x-model-name"] == MODEL


def test_serving_container_answers_grpc(serving) -> None:
    grpcclient = pytest.importorskip("tritonclient.grpc", reason="tritonclient[grpc] (dev extra) not installed")
    client = grpcclient.InferenceServerClient(url=serving["grpc"])
    assert client.is_server_ready() and client.is_model_ready(MODEL)


def test_serving_container_writes_nothing_outside_tmp(serving) -> None:
    # --read-only makes a write elsewhere fail; the model was downloaded to the tmpfs.
    assert docker("diff", serving["name"]).stdout.strip() == ""
    cached = docker("exec", serving["name"], "find", "/tmp/model-cache", "-type", "f").stdout.split()
    assert cached, "nothing in MODEL_CACHE_DIR=/tmp/model-cache"
    assert docker("exec", serving["name"], "id", "-u").stdout.strip() == str(UID)
