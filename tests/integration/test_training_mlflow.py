from __future__ import annotations

import subprocess
import sys

import pytest
from mlflow import MlflowClient

from tests.conftest import CONFIG_000, NOT_INPUTS, PROTECTED, QUICK, REPO

pytestmark = pytest.mark.integration


def train(tracking_uri: str, *overrides: str, experiment: str = "it") -> subprocess.CompletedProcess:
    args = [sys.executable, "-m", "training_job", "--config", str(CONFIG_000), "--tracking-uri", tracking_uri,
            "--experiment", experiment]
    for o in (*QUICK, *overrides):
        args += ["--set", o]
    return subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=300)


@pytest.fixture(scope="module")
def first_run(mlflow):
    done = train(mlflow.url, "registry.model_name=it-credit")
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def test_run_metrics_plots_and_registered_version(mlflow, first_run) -> None:
    client = MlflowClient(mlflow.url)
    versions = client.search_model_versions("name = 'it-credit'")
    assert [v.version for v in versions] == ["1"]
    v = versions[0]
    assert sorted(client.get_model_version("it-credit", "1").aliases) == ["challenger", "champion"]
    assert v.tags["promotion.decision"] == "promoted" and v.tags["promotion.reason"] == "no champion yet"
    assert len(v.tags["training.fingerprint"]) == 64 and len(v.tags["artifact_digest"]) == 64
    run = client.get_run(v.run_id)
    m = run.data.metrics
    for key in ("test_auc", "test_gini", "test_ks", "test_brier", "test_log_loss", "test_ece", "best_val_auc"):
        assert key in m, key
    assert 0.5 < m["test_auc"] <= 1.0
    assert m["test_gini"] == pytest.approx(2 * m["test_auc"] - 1)
    history = client.get_metric_history(v.run_id, "val_auc")
    assert 1 <= len(history) <= 3 and [h.step for h in history] == list(range(1, len(history) + 1))
    assert run.data.params["optimisation.epochs"] == "3"
    artifacts = {a.path for a in client.list_artifacts(v.run_id)}
    assert {"plots", "model_card.md", "config"} <= artifacts
    plots = {a.path for a in client.list_artifacts(v.run_id, "plots")}
    assert plots == {"plots/roc.png", "plots/calibration.png", "plots/score_distribution.png"}
    assert run.inputs.dataset_inputs and run.inputs.dataset_inputs[0].dataset.name == "germancredit.csv"
    assert f"version      1  aliases: challenger, champion" in first_run.stdout
    assert "run id       " + v.run_id in first_run.stdout


def test_identical_rerun_registers_nothing(mlflow, first_run) -> None:
    again = train(mlflow.url, "registry.model_name=it-credit")
    assert again.returncode == 0, again.stderr[-3000:]
    assert "nothing registered" in again.stdout
    client = MlflowClient(mlflow.url)
    assert len(client.search_model_versions("name = 'it-credit'")) == 1
    assert len(client.search_runs([client.get_experiment_by_name("it").experiment_id])) == 1


def test_gate_holds_a_worse_challenger_and_records_why(mlflow, first_run) -> None:
    client = MlflowClient(mlflow.url)
    # a one-epoch network with a tiny learning rate is clearly worse than the champion
    worse = train(mlflow.url, "registry.model_name=it-credit", "optimisation.epochs=1", "optimisation.lr=0.000001",
                  "registry.promotion_tolerance=0")
    assert worse.returncode == 0, worse.stderr[-3000:]
    v2 = client.get_model_version("it-credit", "2")
    assert v2.aliases == ["challenger"]
    assert client.get_model_version_by_alias("it-credit", "champion").version == "1"
    assert v2.tags["promotion.decision"] == "held" and v2.tags["promotion.compared_to"] == "1"
    assert "< champion v1" in v2.tags["promotion.reason"]


def test_generic_mlflow_pyfunc_loads_the_registered_model(mlflow, first_run) -> None:
    import mlflow as mlflow_lib
    import pandas as pd

    mlflow_lib.set_tracking_uri(mlflow.url)
    model = mlflow_lib.pyfunc.load_model("models:/it-credit@champion")
    frame = pd.read_csv(REPO / "training_job" / "datasets" / "germancredit.csv").drop(columns=NOT_INPUTS).head(5)
    out = model.predict(frame)
    assert list(out.columns) == ["probability_of_default", "score", "decision", "reason_codes"]
    assert len(out) == 5 and out["probability_of_default"].between(0, 1).all()


def test_bad_config_fails_before_any_work(mlflow, tmp_path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {target: creditability, positive_label: bad}\nnetwork: {dropout: 2}\n")
    done = subprocess.run([sys.executable, "-m", "training_job", "--config", str(bad), "--tracking-uri", mlflow.url],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "network.dropout: Input should be less than 1" in done.stderr
    assert "Traceback" not in done.stderr


def test_concurrent_runs_log_the_same_dataset(mlflow) -> None:
    """Jobs started together on the same data race on the server's dataset insert; every run
    must still end up linked to the one dataset row."""
    import threading

    import mlflow as mlflow_api
    import numpy as np
    import pandas as pd

    from training_job.tracking import log_dataset

    mlflow_api.set_tracking_uri(mlflow.url)
    client = MlflowClient(mlflow.url)
    experiment_id = client.create_experiment("concurrent-datasets")
    frame = pd.DataFrame({"x": np.arange(50.0), "c": ["a", "b"] * 25})
    target = np.arange(50) % 2
    jobs = 8
    barrier = threading.Barrier(jobs)
    run_ids: list[str] = []
    errors: list[BaseException] = []

    def job() -> None:
        try:
            with mlflow_api.start_run(experiment_id=experiment_id) as run:
                run_ids.append(run.info.run_id)
                barrier.wait(timeout=60)
                log_dataset(frame, target, "/data/same.csv", "same.csv")
        except BaseException as error:  # reported below with the run that hit it
            errors.append(error)

    threads = [threading.Thread(target=job) for _ in range(jobs)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors[0]
    digests = {client.get_run(r).inputs.dataset_inputs[0].dataset.digest for r in run_ids}
    assert len(run_ids) == jobs and len(digests) == 1
