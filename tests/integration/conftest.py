from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import CONFIG_000, QUICK
from tests.procs import mlflow_server


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory):
    """A real `mlflow server` (SQLite + proxied local artifacts) on a free 127.0.0.1 port."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


@pytest.fixture(scope="session")
def artifact(tmp_path_factory):
    """A quickly trained German model exported to a folder (no MLflow): what a predictor serves
    from a local MODEL_URI."""
    out = tmp_path_factory.mktemp("artifact")
    args = [sys.executable, "-m", "training_job", "--config", str(CONFIG_000), "--output-dir", str(out)]
    for o in QUICK:
        args += ["--set", o]
    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return out
