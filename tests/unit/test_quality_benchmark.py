"""The cross-validation benchmark (benchmarks/quality.py) on German credit, cheaply."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest

from benchmarks import quality
from tests.conftest import CONFIG_000, CONFIG_001, QUICK, REPO
from training_job import pipeline
from training_job.config import load_config
from training_job.data import load_dataset

FAST = [*QUICK, "optimisation.threads=1"]


@pytest.fixture(scope="module")
def german():
    cfg = load_config(CONFIG_000, FAST)
    ds = load_dataset(cfg.data)
    return cfg, ds


def assert_summary(result: dict, folds: int, rows: int, models=quality.MODELS) -> None:
    json.loads(json.dumps(result))  # plain JSON
    assert result["folds"] == folds
    assert result["rows"] == rows
    assert list(result["models"]) == list(models)
    for name, summary in result["models"].items():
        for key in ("auc_mean", "auc_std", "brier_mean", "ks_mean", "ece_mean", "fit_seconds"):
            value = summary[key]
            assert math.isfinite(value), (name, key, value)
            if key != "fit_seconds":
                assert 0.0 <= value <= 1.0, (name, key, value)
        assert summary["fit_seconds"] > 0
        assert summary["auc_mean"] > 0.6, (name, summary)  # learned something


@pytest.mark.parametrize(("folds", "repeats"), [(5, 1), (3, 2)])
def test_folds_are_stratified_and_disjoint(german, folds: int, repeats: int) -> None:
    _, ds = german
    y = ds.target
    splits = quality.cv_splits(y, folds, repeats)
    assert len(splits) == folds * repeats
    for r in range(repeats):
        tests = [te for _, te in splits[r * folds : (r + 1) * folds]]
        joined = np.concatenate(tests)
        assert np.array_equal(np.sort(joined), np.arange(len(y)))  # a partition of all rows
        for train, test in splits[r * folds : (r + 1) * folds]:
            assert np.intersect1d(train, test).size == 0
            assert train.size + test.size == len(y)
            expected = y.sum() * test.size / len(y)
            assert abs(y[test].sum() - expected) <= 1.0  # stratified
    if repeats > 1:
        assert not np.array_equal(splits[0][1], splits[folds][1])  # a repeat reshuffles


def test_validation_is_carved_from_the_fold_training_part(german) -> None:
    cfg, ds = german
    train, test = quality.cv_splits(ds.target, 5)[0]
    fit, val = quality.validation_carve(ds.target, train, cfg)
    assert np.array_equal(np.sort(np.concatenate([fit, val])), np.sort(train))
    assert np.intersect1d(fit, val).size == 0
    assert abs(val.size - cfg.split.validation_fraction * train.size) <= 1
    assert abs(ds.target[val].mean() - ds.target[train].mean()) < 0.01


def test_run_benchmark_goes_through_fit_model(german, monkeypatch) -> None:
    cfg, ds = german
    calls = []
    real = pipeline.fit_model

    def spy(frame, y, train_rows, val_rows, cfg_, *args, **kwargs):
        fitted = real(frame, y, train_rows, val_rows, cfg_, *args, **kwargs)
        calls.append((np.asarray(train_rows), np.asarray(val_rows), cfg_, fitted))
        return fitted

    monkeypatch.setattr(pipeline, "fit_model", spy)
    records = []
    result = quality.run_benchmark(cfg, ds.frame, ds.target, folds=2, repeats=1, on_fold=records.append)
    assert_summary(result, folds=2, rows=len(ds.target))

    assert len(calls) == 2  # one pipeline fit per fold
    splits = quality.cv_splits(ds.target, 2)
    for (train_rows, val_rows, cfg_, fitted), (fold_train, fold_test) in zip(calls, splits):
        assert cfg_ is cfg
        assert isinstance(fitted, pipeline.FittedModel)
        used = np.concatenate([train_rows, val_rows])
        assert np.array_equal(np.sort(used), np.sort(fold_train))  # validation carved from the fold's training part
        assert np.intersect1d(used, fold_test).size == 0  # the fold's test rows never seen
    assert [(r["model"], r["fold"]) for r in records] == [
        ("ours", 0), ("hgb", 0), ("logreg", 0), ("ours", 1), ("hgb", 1), ("logreg", 1)
    ]


def test_run_benchmark_rejects_unknown_models(german) -> None:
    cfg, ds = german
    with pytest.raises(ValueError, match="subset"):
        quality.run_benchmark(cfg, ds.frame, ds.target, folds=2, models=["ours", "xgboost"])


def test_cli_prints_table_and_json_last(capsys) -> None:
    argv = ["--config", str(CONFIG_000), "--folds", "2", "--sample", "400", "--models", "hgb,logreg"]
    assert quality.main([*argv, *(a for s in FAST for a in ("--set", s))]) == 0
    out = capsys.readouterr()
    lines = out.out.strip().splitlines()
    assert lines[0].split()[:2] == ["model", "auc"]
    result = json.loads(lines[-1])
    assert_summary(result, folds=2, rows=400, models=("hgb", "logreg"))
    assert out.err.count("] repeat 1 fold ") == 4  # a progress line per fold per model


def test_missing_data_is_skipped_with_exit_0(tmp_path) -> None:
    missing = tmp_path / "nowhere" / "give_me_some_credit.csv.gz"
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.quality", "--config", str(CONFIG_001), "--data", str(missing)],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("skipped: data file not found"), proc.stdout
    assert str(missing) in proc.stdout


def test_summary_is_logged_to_mlflow(german, tmp_path, monkeypatch) -> None:
    mlflow = pytest.importorskip("mlflow")
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    cfg, _ = german
    result = {
        "models": {m: {"auc_mean": 0.8, "auc_std": 0.01, "brier_mean": 0.1, "ks_mean": 0.5, "ece_mean": 0.02,
                       "fit_seconds": 1.0} for m in quality.MODELS},
        "folds": 2, "repeats": 1, "rows": 1000,
    }
    uri = (tmp_path / "mlruns").as_uri()
    run_id = quality.log_to_mlflow(uri, cfg, result, {"folds": 2, "repeats": 1}, "model_config_000.yaml")
    run = mlflow.MlflowClient(uri).get_run(run_id)
    assert run.data.metrics["ours_auc_mean"] == 0.8
    assert run.data.metrics["logreg_fit_seconds"] == 1.0
    assert run.data.params["protocol.folds"] == "2"
    assert run.data.params["config.optimisation.epochs"] == str(cfg.optimisation.epochs)
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="quality.json", tracking_uri=uri)
    assert json.loads(open(local).read()) == result
