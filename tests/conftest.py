from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
CONFIG_000 = REPO / "config" / "models-configs" / "model_config_000.yaml"
CONFIG_001 = REPO / "config" / "models-configs" / "model_config_001.yaml"
SHARED = REPO.parent / "shared"
GMSC = SHARED / "data" / "gmsc" / "give_me_some_credit.csv.gz"

# Columns of the German data that are no input of the model: the target and the protected
# attributes of config 000's data.protected (a request naming one gets a 400).
PROTECTED = ("personal_status_and_sex", "foreign_worker")
NOT_INPUTS = ["creditability", *PROTECTED]

# Few epochs, one seed: training tests really train, cheaply.
QUICK = ["optimisation.epochs=3", "optimisation.seeds=1", "optimisation.patience=2", "fairness.bootstrap=20"]


MLFLOW_PROCESS_ENV = ("MLFLOW_TRACKING_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")


@pytest.fixture(autouse=True)
def _mlflow_environment_restored():
    """MLflow 3 writes MLFLOW_TRACKING_URI and MLFLOW_EXPERIMENT_ID into os.environ when code in
    the test process sets a tracking URI or an experiment, and keeps the URI as a process-wide
    setting that wins over the environment: every later subprocess (a training job against
    another test's server) and every later in-process MLflow call would use another test's server."""
    saved = {k: os.environ.get(k) for k in MLFLOW_PROCESS_ENV}
    yield
    if "mlflow" in sys.modules:
        sys.modules["mlflow"].set_tracking_uri(saved["MLFLOW_TRACKING_URI"])  # None: back to the environment's
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="session")
def quick_config():
    from training_job.config import load_config

    return load_config(CONFIG_000, QUICK)


@pytest.fixture(scope="session")
def trained(quick_config, tmp_path_factory):
    """A quickly trained German credit model and its exported artifact folder."""
    from training_job.data import load_dataset
    from training_job.export import export_artifact, training_reference
    from training_job.pipeline import fit_model, split_indices

    ds = load_dataset(quick_config.data)
    train, val, test = split_indices(ds.target, quick_config.split)
    fm = fit_model(ds.frame, ds.target, train, val, quick_config)
    out = tmp_path_factory.mktemp("artifact")
    spec, digest = export_artifact(fm, quick_config, ds.frame.iloc[test], out, {"test_auc": 0.5}, {"fingerprint": "x"},
                                   training_reference(fm, quick_config, ds.frame.iloc[train]))
    return {"fm": fm, "ds": ds, "test_rows": test, "dir": out, "spec": spec, "digest": digest}
