"""The cross-validation benchmark (benchmarks/quality.py) on German credit, cheaply."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from benchmarks import baselines, quality
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
    models = ("ours", "hgb", "logreg")
    result = quality.run_benchmark(cfg, ds.frame, ds.target, folds=2, repeats=1, models=models, on_fold=records.append)
    assert_summary(result, folds=2, rows=len(ds.target), models=models)

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
        quality.run_benchmark(cfg, ds.frame, ds.target, folds=2, models=["ours", "gbm"])


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
        "paired": {"lightgbm": {"auc": {"diff_mean": 0.001, "p_corrected": 0.4}, "brier": {"wins": 3}}},
        "folds": 2, "repeats": 1, "rows": 1000,
    }
    uri = (tmp_path / "mlruns").as_uri()
    run_id = quality.log_to_mlflow(uri, cfg, result, {"folds": 2, "repeats": 1}, "model_config_000.yaml")
    run = mlflow.MlflowClient(uri).get_run(run_id)
    assert run.data.metrics["ours_auc_mean"] == 0.8
    assert run.data.metrics["logreg_fit_seconds"] == 1.0
    assert run.data.metrics["ours_vs_lightgbm_auc_p_corrected"] == 0.4
    assert run.data.metrics["ours_vs_lightgbm_brier_wins"] == 3
    assert run.data.params["protocol.folds"] == "2"
    assert run.data.params["config.optimisation.epochs"] == str(cfg.optimisation.epochs)
    local = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path="quality.json", tracking_uri=uri)
    assert json.loads(open(local).read()) == result


def test_gradient_boosting_baselines_pick_a_candidate_on_the_inner_split(german, monkeypatch) -> None:
    cfg, ds = german
    frame, y = ds.frame, ds.target
    seen = []
    real = baselines.inner_split

    def spy(y_, train_rows):
        fit, stop = real(y_, train_rows)
        seen.append((train_rows, fit, stop))
        return fit, stop

    monkeypatch.setattr(baselines, "inner_split", spy)
    models = baselines.GBDT
    result = quality.run_benchmark(cfg, frame, y, folds=2, models=models, baseline_threads=1)
    assert_summary(result, folds=2, rows=len(y), models=models)
    assert result["best_gbdt"] == max(models, key=lambda m: result["models"][m]["auc_mean"])
    for (train_rows, fit, stop), (fold_train, fold_test) in zip(seen, [s for s in quality.cv_splits(y, 2) for _ in models]):
        assert np.array_equal(np.sort(np.concatenate([fit, stop])), np.sort(fold_train))
        assert abs(stop.size - baselines.INNER_FRACTION * fold_train.size) <= 1
        assert np.intersect1d(stop, fold_test).size == 0
    for record in result["records"]:
        chosen = dict(record["chosen"])
        trees = chosen.pop("trees")
        assert chosen in baselines.CANDIDATES[record["model"]]
        assert 1 <= trees < baselines.MAX_ROUNDS  # early stopping stopped it
        assert record["candidates"] == len(baselines.CANDIDATES[record["model"]])
    assert result["paired"] == {}  # nothing to pair without ours


def test_categoricals_past_hgbs_limit_are_fitted_by_every_baseline() -> None:
    # 300 professions with Zipf-like frequencies, a third of them riskier: HistGradientBoosting
    # alone cannot take more than 255 categories
    rng = np.random.default_rng(0)
    n = 6000
    freq = 1 / np.arange(1, 301)
    code = rng.choice(300, n, p=freq / freq.sum())
    frame = pd.DataFrame({"profession": code.astype(str), "income": rng.lognormal(7, 1, n)})
    y = (rng.random(n) < 0.1 + 0.3 * (code % 3 == 0)).astype(np.int64)
    cols = baselines.Columns(["profession"], ["income"])
    base = baselines.baseline_frame(frame, cols)
    assert base["profession"].nunique() > baselines.HGB_MAX_CATEGORIES
    train, test = np.arange(4000), np.arange(4000, n)
    for name in baselines.BASELINES:
        fitted = baselines.fit_baseline(name, base, y, train, cols, threads=1)
        pd_ = fitted.predict(test)
        assert pd_.shape == (2000,) and np.all((pd_ > 0) & (pd_ < 1)), name
        assert roc_auc_score(y[test], pd_) > 0.65, name  # the profession carries the signal


def test_paired_rows_and_cpu_ratio_come_from_the_same_folds(german) -> None:
    cfg, ds = german
    rows = quality.stratified_sample(ds.target, 400)
    frame, y = ds.frame.iloc[rows].reset_index(drop=True), ds.target[rows]
    result = quality.run_benchmark(cfg, frame, y, folds=2, models=("ours", "lightgbm", "logreg"), baseline_threads=1)
    by = {(r["model"], r["fold"]): r for r in result["records"]}
    auc = result["paired"]["logreg"]["auc"]
    diffs = [by[("ours", k)]["auc"] - by[("logreg", k)]["auc"] for k in range(2)]
    assert auc["diff_mean"] == pytest.approx(np.mean(diffs))
    assert auc["wins"] == sum(d > 0 for d in diffs)
    assert set(result["paired"]) == {"lightgbm", "logreg"}
    lgbm = result["models"]["lightgbm"]
    assert lgbm["cpu_seconds_per_candidate"] == pytest.approx(lgbm["fit_cpu_seconds"] / 3)
    assert result["cpu_ours_vs_lightgbm"] == pytest.approx(
        result["models"]["ours"]["fit_cpu_seconds"] / lgbm["cpu_seconds_per_candidate"])
    assert "ours − model" in quality.table(result)
