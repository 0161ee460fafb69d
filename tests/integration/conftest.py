from __future__ import annotations

import pytest

from tests.procs import mlflow_server


@pytest.fixture(scope="session")
def mlflow(tmp_path_factory):
    """A real `mlflow server` (SQLite + proxied local artifacts) on a free 127.0.0.1 port."""
    with mlflow_server(tmp_path_factory.mktemp("mlflow")) as server:
        yield server
