"""`python -m training_job tune` against a real `mlflow server`: one parent run for the study, a
nested run per trial (a pruned one tagged pruned), the tuned config on the parent; and the tuned
file trains with the training job as any config does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import optuna
import pytest
from mlflow import MlflowClient
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

from tests.conftest import CONFIG_000, QUICK, REPO

pytestmark = pytest.mark.integration

TINY = [*QUICK, "optimisation.threads=1"]


class PruneTrialOne(optuna.pruners.BasePruner):
    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        return trial.number == 1


def runs(client: MlflowClient, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    assert found is not None, f"no experiment {experiment!r}"
    return client.search_runs([found.experiment_id], max_results=100)


def test_study_is_a_parent_run_with_a_nested_run_per_trial(mlflow, tmp_path: Path, capsys) -> None:
    from training_job.config import load_config
    from training_job.data import load_dataset
    from training_job.tune import tune_job

    cfg = load_config(CONFIG_000, TINY)
    output = tmp_path / "tuned.yaml"
    result, parent_id = tune_job(load_dataset(cfg), cfg, data_label="embedded:german_credit", config_path=CONFIG_000,
                                 overrides=TINY, output=output, seed=5, budget_seconds=600, trials=3,
                                 tracking_uri=mlflow.url, experiment="tune-it", pruner=PruneTrialOne())
    out = capsys.readouterr().out
    assert out.count("View run") == 1 and "View run tune-model_config_000" in out  # the parent's link, no trial's
    client = MlflowClient(mlflow.url)
    everything = runs(client, "tune-it")
    parents = [r for r in everything if MLFLOW_PARENT_RUN_ID not in r.data.tags]
    assert [p.info.run_id for p in parents] == [parent_id]
    parent = parents[0]
    assert parent.info.status == "FINISHED" and parent.info.run_name == "tune-model_config_000"
    assert parent.data.params["seed"] == "5" and parent.data.params["trials"] == "3"
    assert parent.data.metrics["best_val_auc"] == pytest.approx(result.best_value)
    assert parent.data.metrics["trials_pruned"] == 1 and parent.data.metrics["trials_complete"] == 2
    assert parent.data.tags["best_trial"] == str(result.best_number)
    downloaded = client.download_artifacts(parent_id, "tuned/tuned.yaml", str(tmp_path / "dl"))
    assert Path(downloaded).read_text() == output.read_text()

    nested = sorted((r for r in everything if r.data.tags.get(MLFLOW_PARENT_RUN_ID) == parent_id),
                    key=lambda r: int(r.data.tags["trial.number"]))
    assert [r.info.run_name for r in nested] == ["trial-0", "trial-1", "trial-2"]
    assert [r.data.tags["trial.state"] for r in nested] == ["complete", "pruned", "complete"]
    for r in nested:
        p = r.data.params
        assert {"optimisation.lr", "optimisation.batch_size", "network.hidden_sizes", "network.depth",
                "network.numeric_embedding.kind"} <= set(p)
        assert 0.5 < r.data.metrics["val_auc"] <= 1.0
    best = nested[result.best_number]
    assert best.data.metrics["val_auc"] == pytest.approx(result.best_value)
    assert float(best.data.params["optimisation.lr"]) == pytest.approx(result.best_config.optimisation.lr)
    pruned = client.get_metric_history(nested[1].info.run_id, "val_auc_best_so_far")
    assert [m.step for m in pruned] == [1]  # reported once, then pruned


def test_the_command_line_tunes_and_the_tuned_file_trains(mlflow, tmp_path: Path) -> None:
    output = tmp_path / "out" / "german-tuned.yaml"
    args = [sys.executable, "-m", "training_job", "tune", "--config", str(CONFIG_000), "--budget-minutes", "3",
            "--trials", "2", "--seed", "3", "--tracking-uri", mlflow.url, "--output", str(output)]
    for o in TINY:
        args += ["--set", o]
    done = subprocess.run(args, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"tuned config {output}" in done.stdout and "trials       2 (" in done.stdout
    assert "[2/2] trial 1 " in done.stderr and "the test split is not used" in done.stderr
    client = MlflowClient(mlflow.url)
    tuned = runs(client, "credit-score-tuning")  # the default: <registry.experiment>-tuning
    assert len(tuned) == 3 and sum(MLFLOW_PARENT_RUN_ID in r.data.tags for r in tuned) == 2
    train = subprocess.run([sys.executable, "-m", "training_job", "--config", str(output), "--tracking-uri",
                            mlflow.url, "--experiment", "tune-train", "--set", "registry.model_name=tuned-credit"],
                           capture_output=True, text=True, cwd=REPO, timeout=300)
    assert train.returncode == 0, train.stderr[-3000:]
    assert "version      1  aliases: challenger, champion" in train.stdout
