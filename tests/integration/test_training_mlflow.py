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


def test_fairness_report_metrics_and_model_card_in_the_run(mlflow, first_run, tmp_path) -> None:
    import json

    import mlflow as mlflow_lib

    from credit_model.artifact import read_artifact

    client = MlflowClient(mlflow.url)
    v = client.get_model_version("it-credit", "1")
    run = client.get_run(v.run_id)
    files = {a.path for a in client.list_artifacts(v.run_id, "fairness")}
    assert files == {"fairness/report.json", "fairness/groups.csv", "fairness/proxies.csv",
                     "fairness/approval_and_air.png"}
    report = json.loads(open(client.download_artifacts(v.run_id, "fairness/report.json", str(tmp_path))).read())
    assert set(report["attributes"]) == set(PROTECTED)
    groups = {(g["attribute"], g["group"]): g for g in report["groups"]}
    assert {g for a, g in groups if a == "foreign_worker"} == {"yes", "no"}
    assert sum(g["rows"] for (a, _), g in groups.items() if a == "foreign_worker") == 200  # the test split
    for g in groups.values():
        assert 0 <= g["approval_rate"] <= 1 and g["air"] >= 0
        assert g["mean_pd_low"] <= g["mean_pd"] <= g["mean_pd_high"]  # bootstrap intervals
    # proxy screening covers every input against every protected attribute
    assert len(report["proxies"]) == 18 * len(PROTECTED)
    m = run.data.metrics
    for name in PROTECTED:
        assert f"fairness/{name}/max_proxy_auc" in m
    assert m["fairness/min_air"] == pytest.approx(report["min_air"])
    assert m["fairness/personal_status_and_sex/min_air"] == pytest.approx(report["attributes"]["personal_status_and_sex"]["min_air"])
    assert v.tags["fairness.min_air"] == f"{report['min_air']:.6f}"
    card = client.download_artifacts(v.run_id, "model_card.md", str(tmp_path))
    text = open(card).read()
    assert "## Fair lending" in text and "| `foreign_worker` | yes |" in text and "Regulation B 1002.6(b)(2)" in text
    # never an input: not in the artifact, hence in no request and no reason code
    mlflow_lib.set_tracking_uri(mlflow.url)
    folder = mlflow_lib.artifacts.download_artifacts("models:/it-credit/1", dst_path=str(tmp_path / "model"))
    spec = read_artifact(folder).spec
    assert {f.name for f in spec.features}.isdisjoint(PROTECTED)
    assert len(spec.features) == 18


def test_elderly_applicants_are_never_assigned_a_negative_value_for_age(mlflow, first_run, tmp_path) -> None:
    """Regulation B 1002.6(b)(2): for every applicant aged 62+, age encodes as its most favourable
    value, so setting it to that value changes nothing and age is never one of their reasons."""
    import json

    import mlflow as mlflow_lib
    import pandas as pd

    from credit_model.artifact import read_artifact
    from credit_model.engine import ScoringEngine
    from credit_model.frames import frame_to_columns

    mlflow_lib.set_tracking_uri(mlflow.url)
    artifact = read_artifact(mlflow_lib.artifacts.download_artifacts("models:/it-credit/1", dst_path=str(tmp_path)))
    engine = ScoringEngine(artifact)
    frame = pd.read_csv(REPO / "training_job" / "datasets" / "germancredit.csv").drop(columns=NOT_INPUTS)
    elderly = frame[frame["age_in_years"] >= 62].reset_index(drop=True)
    assert len(elderly) >= 20
    age = artifact.spec.feature("age_in_years")
    scored = engine.score(frame_to_columns(elderly, artifact.spec.features))
    at_best = engine.score(frame_to_columns(elderly.assign(age_in_years=age.baseline), artifact.spec.features))
    assert (scored.probability_of_default == at_best.probability_of_default).all()
    assert any(d != "approve" for d in scored.decision)  # some carry reasons, and none of them is age
    for reasons in scored.reason_codes:
        assert "age_in_years" not in {r["feature"] for r in json.loads(reasons)}


def test_fairness_gate_registers_and_tags_but_never_crowns(mlflow) -> None:
    """registry.min_air = 1 holds any version whose groups' approval rates differ at all."""
    client = MlflowClient(mlflow.url)
    done = train(mlflow.url, "registry.model_name=it-fair", "registry.min_air=1.0")
    assert done.returncode == 0, done.stderr[-3000:]
    v = client.get_model_version("it-fair", "1")
    assert v.aliases == ["challenger"]
    assert v.tags["promotion.decision"] == "held"
    assert v.tags["promotion.reason"].startswith("adverse impact ratio ")
    assert "< registry.min_air 1.0" in v.tags["promotion.reason"]
    assert float(v.tags["fairness.min_air"]) < 1.0
    with pytest.raises(Exception):
        client.get_model_version_by_alias("it-fair", "champion")
    assert "held: adverse impact ratio" in done.stdout
