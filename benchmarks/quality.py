"""Model quality under cross-validation: our training pipeline against gradient boosting and logistic regression.

    python -m benchmarks.quality --config config/models-configs/model_config_001.yaml
    python -m benchmarks.quality --config config/models-configs/model_config_000.yaml --repeats 5

One protocol for every model: StratifiedKFold(folds, shuffle, random_state=42), or
RepeatedStratifiedKFold(folds, repeats, random_state=42) with `--repeats R > 1`. In each fold

- "ours" is `training_job.pipeline.fit_model`, the code path of the training job, fitted on the
  fold's training part; its validation split (early stopping, calibration) is carved out of that
  training part with the config's `split.validation_fraction` and `split.seed`;
- "lightgbm", "catboost", "xgboost" are the gradient-boosting challengers, each with the same
  small tuning budget (three tree shapes, early stopping on an inner split of the fold's
  training part: benchmarks/baselines.py);
- "hgb" is a tuned HistGradientBoostingClassifier (categoricals ordinal-encoded and declared);
- "logreg" is LogisticRegression on median-imputed, normal-quantile-transformed numerics and
  one-hot categoricals.

All are scored on the fold's test part with `training_job.evaluation`. With "ours" among the
models, every other one is compared with it fold by fold (benchmarks/paired.py): the mean and SD
of the differences, the folds won, and the corrected resampled t-test's p-value. Progress goes to stderr,
a table to stdout, and the last stdout line is one JSON object with the summary. A missing data
file is not an error: the run prints "skipped: ..." and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.baselines import BASELINES, GBDT, Columns, baseline_frame, fit_baseline
from benchmarks.paired import compare
from training_job.config import ConfigError, FeatureOverride, TrainConfig, load_config
from training_job.data import DataError, load_dataset, resolve_path
from training_job.features import infer_kind

# torch, sklearn and mlflow are imported where they are used: a skipped run stays cheap.

CV_SEED = 42
MODELS = ("ours", *BASELINES)
METRICS = ("auc", "brier", "ks", "ece")
EXPERIMENT = "credit-score-benchmarks"

FoldCallback = Callable[[dict[str, Any]], None]


# --- protocol ---------------------------------------------------------------------------------


def cv_splits(y: np.ndarray, folds: int, repeats: int = 1, seed: int = CV_SEED) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train, test) row indices of every fold, in order; repeats > 1 means RepeatedStratifiedKFold."""
    from sklearn.model_selection import RepeatedStratifiedKFold, StratifiedKFold

    if repeats > 1:
        splitter = RepeatedStratifiedKFold(n_splits=folds, n_repeats=repeats, random_state=seed)
    else:
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    placeholder = np.zeros((len(y), 1))
    return [(np.asarray(tr), np.asarray(te)) for tr, te in splitter.split(placeholder, y)]


def validation_carve(y: np.ndarray, train_rows: np.ndarray, cfg: TrainConfig) -> tuple[np.ndarray, np.ndarray]:
    """Split a fold's training rows into (fit, validation) the way the training job splits its rows."""
    from sklearn.model_selection import train_test_split

    strat = y[train_rows] if cfg.split.stratified else None
    fit, val = train_test_split(
        train_rows, test_size=cfg.split.validation_fraction, random_state=cfg.split.seed, stratify=strat
    )
    return np.sort(fit), np.sort(val)


def stratified_sample(y: np.ndarray, n: int, seed: int = CV_SEED) -> np.ndarray:
    """Sorted row indices of a stratified subsample of n rows (all rows if n >= len(y))."""
    from sklearn.model_selection import train_test_split

    if n >= len(y):
        return np.arange(len(y))
    rows, _ = train_test_split(np.arange(len(y)), train_size=n, random_state=seed, stratify=y)
    return np.sort(rows)


def categorical_columns(frame: pd.DataFrame, cfg: TrainConfig) -> list[str]:
    """Columns the training job treats as categorical (same inference, same overrides)."""
    return [c for c in frame.columns if infer_kind(frame[c], cfg.data.features.get(c, FeatureOverride())) == "categorical"]


# --- our model: fit on rows, return PDs of other rows -----------------------------------------


def fit_ours(cfg: TrainConfig, frame: pd.DataFrame, y: np.ndarray, train_rows: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    from training_job import pipeline  # looked up at call time: the training job's own fit_model

    fit_rows, val_rows = validation_carve(y, train_rows, cfg)
    fitted = pipeline.fit_model(frame, y, fit_rows, val_rows, cfg)
    return lambda rows: fitted.predict_pd(frame.iloc[rows])


# --- the run ----------------------------------------------------------------------------------


def _summary(records: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for m in METRICS:
        values = np.array([r[m] for r in records], dtype=np.float64)
        out[f"{m}_mean"] = float(values.mean())
        out[f"{m}_std"] = float(values.std(ddof=1)) if len(values) > 1 else 0.0
    out["fit_seconds"] = float(np.mean([r["fit_seconds"] for r in records]))
    # CPU seconds of this process (all threads): the wall time above depends on other load
    out["fit_cpu_seconds"] = float(np.mean([r["fit_cpu_seconds"] for r in records]))
    # a gradient-boosting fit is the selection among its candidates; one candidate is one model
    out["cpu_seconds_per_candidate"] = float(np.mean([r["fit_cpu_seconds"] / r["candidates"] for r in records]))
    return out


def paired_against_ours(records: dict[str, list[dict[str, Any]]], test_over_train: float) -> dict[str, Any]:
    """Every other model against "ours", fold by fold (ours − theirs: AUC up is better, Brier down)."""
    if "ours" not in records:
        return {}
    ours = records["ours"]
    out: dict[str, Any] = {}
    for name, rs in records.items():
        if name == "ours":
            continue
        out[name] = {
            "auc": compare([r["auc"] for r in ours], [r["auc"] for r in rs], test_over_train),
            "brier": compare([r["brier"] for r in ours], [r["brier"] for r in rs], test_over_train,
                             higher_is_better=False),
        }
    return out


def best_gbdt(summaries: dict[str, dict[str, float]]) -> str | None:
    """The gradient-boosting library with the highest mean AUC in this run."""
    present = [m for m in GBDT if m in summaries]
    return max(present, key=lambda m: summaries[m]["auc_mean"]) if present else None


def run_benchmark(
    cfg: TrainConfig,
    frame: pd.DataFrame,
    y: np.ndarray,
    folds: int = 5,
    repeats: int = 1,
    models: Iterable[str] = MODELS,
    on_fold: FoldCallback | None = None,
    baseline_threads: int = 2,
) -> dict[str, Any]:
    """Cross-validate every model in `models` on the same folds; returns the JSON summary.

    `on_fold` receives one record per fold and model (model, repeat, fold, metrics, fit_seconds).
    """
    wanted = set(models)
    if not wanted or wanted - set(MODELS):
        raise ValueError(f"models must be a non-empty subset of {MODELS}, got {sorted(wanted)}")
    models = [m for m in MODELS if m in wanted]
    from training_job.evaluation import classification_metrics

    y = np.asarray(y)
    categorical = categorical_columns(frame, cfg)
    cols = Columns(categorical, [c for c in frame.columns if c not in categorical])
    base = baseline_frame(frame, cols) if set(models) - {"ours"} else None
    records: dict[str, list[dict[str, Any]]] = {m: [] for m in models}
    splits = cv_splits(y, folds, repeats)
    for k, (train_rows, test_rows) in enumerate(splits):
        for name in models:
            started, cpu_started = time.perf_counter(), time.process_time()
            chosen: dict[str, Any] = {}
            candidates = 1
            if name == "ours":
                predict = fit_ours(cfg, frame, y, train_rows)
            else:
                fitted = fit_baseline(name, base, y, train_rows, cols, baseline_threads)
                predict, chosen, candidates = fitted.predict, fitted.chosen, fitted.candidates
            seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu_started
            metrics = classification_metrics(y[test_rows], predict(test_rows))
            record = {
                "model": name,
                "repeat": k // folds,
                "fold": k % folds,
                **{m: metrics[m] for m in METRICS},
                "fit_seconds": seconds,
                "fit_cpu_seconds": cpu_seconds,
                "candidates": candidates,
                **({"chosen": chosen} if chosen else {}),
            }
            records[name].append(record)
            if on_fold is not None:
                on_fold(record)
    summaries = {name: _summary(rs) for name, rs in records.items()}
    test_over_train = float(np.mean([len(te) / len(tr) for tr, te in splits]))
    result: dict[str, Any] = {
        "models": summaries,
        "paired": paired_against_ours(records, test_over_train),
        "best_gbdt": best_gbdt(summaries),
        "folds": folds,
        "repeats": repeats,
        "rows": int(len(y)),
        "records": [r for rs in records.values() for r in rs],
    }
    if "ours" in summaries and "lightgbm" in summaries:
        result["cpu_ours_vs_lightgbm"] = (
            summaries["ours"]["fit_cpu_seconds"] / summaries["lightgbm"]["cpu_seconds_per_candidate"])
    return result


# --- output -----------------------------------------------------------------------------------


def progress_line(record: dict[str, Any]) -> str:
    chosen = record.get("chosen")
    shape = f"  [{', '.join(f'{k} {v}' for k, v in chosen.items())}]" if chosen else ""
    return (
        f"[{record['model']:>8}] repeat {record['repeat'] + 1} fold {record['fold'] + 1}: "
        f"auc {record['auc']:.4f}  brier {record['brier']:.5f}  ks {record['ks']:.4f}  "
        f"ece {record['ece']:.4f}  fit {record['fit_seconds']:.1f} s (cpu {record['fit_cpu_seconds']:.1f} s){shape}"
    )


def table(result: dict[str, Any]) -> str:
    lines = [f"{'model':<9} {'auc':>16} {'brier':>9} {'ks':>7} {'ece':>7} {'fit s':>7} {'cpu s':>7} {'cpu/cand':>8}"]
    for name, s in result["models"].items():
        lines.append(
            f"{name:<9} {s['auc_mean']:.4f} ± {s['auc_std']:.4f} {s['brier_mean']:>9.5f} "
            f"{s['ks_mean']:>7.4f} {s['ece_mean']:>7.4f} {s['fit_seconds']:>7.1f} {s['fit_cpu_seconds']:>7.1f} "
            f"{s['cpu_seconds_per_candidate']:>8.1f}"
        )
    if result.get("paired"):
        lines += ["", f"ours − {'model':<9} {'Δauc mean ± sd':>20} {'won':>6} {'p corr':>7} "
                      f"{'Δbrier mean ± sd':>22} {'won':>6} {'p corr':>7}"]
        for name, p in result["paired"].items():
            a, b = p["auc"], p["brier"]
            lines.append(
                f"       {name:<9} {a['diff_mean']:>+9.4f} ± {a['diff_std']:.4f} {a['wins']:>3}/{a['folds']:<2} "
                f"{a['p_corrected']:>7.3f} {b['diff_mean']:>+11.5f} ± {b['diff_std']:.5f} {b['wins']:>3}/{b['folds']:<2} "
                f"{b['p_corrected']:>7.3f}"
            )
        lines.append("(won: folds where ours is better — AUC higher, Brier lower; p corr: Nadeau–Bengio "
                     "corrected resampled t-test, two-sided)")
    if result.get("best_gbdt"):
        lines.append(f"best gradient boosting by mean AUC: {result['best_gbdt']}")
    if "cpu_ours_vs_lightgbm" in result:
        lines.append(f"CPU per fit, ours / one LightGBM candidate: {result['cpu_ours_vs_lightgbm']:.2f}x")
    return "\n".join(lines)


def log_to_mlflow(
    tracking_uri: str, cfg: TrainConfig, result: dict[str, Any], protocol: dict[str, Any], config_name: str,
    experiment: str = EXPERIMENT,
) -> str:
    """Log the CV summary as a run of its own; returns the run id."""
    import mlflow

    from training_job.tracking import flatten

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    params = flatten("config", cfg.model_dump(mode="json", exclude={"description"}))
    params.update(flatten("protocol", protocol))
    with mlflow.start_run(run_name=f"quality-{Path(config_name).stem or 'config'}") as run:
        mlflow.set_tags({"benchmark": "quality", "config_file": config_name})
        mlflow.log_params({k: v[:6000] for k, v in params.items()})
        metrics = {
            f"{name}_{key}": value
            for name, summary in result["models"].items()
            for key, value in summary.items()
            if math.isfinite(value)
        }
        metrics.update({
            f"ours_vs_{name}_{metric}_{key}": value
            for name, by_metric in result.get("paired", {}).items()
            for metric, stats in by_metric.items()
            for key, value in stats.items()
            if math.isfinite(value)
        })
        mlflow.log_metrics(metrics)
        mlflow.log_dict(result, "quality.json")
        return run.info.run_id


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.quality", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="YAML config (config/models-configs/model_config_NNN.yaml)")
    p.add_argument("--data", default=None, help="data file overriding data.path")
    p.add_argument("--folds", type=int, default=5)
    p.add_argument("--repeats", type=int, default=1, help="> 1: RepeatedStratifiedKFold(folds, repeats)")
    p.add_argument("--sample", type=int, default=None, help="stratified subsample of N rows (quick checks)")
    p.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    p.add_argument("--baseline-threads", type=int, default=2,
                   help="threads of each gradient-boosting fit (ours: the config's optimisation.threads)")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                   help="override a config field, e.g. --set optimisation.seeds=1 (repeatable)")
    p.add_argument("--tracking-uri", default=os.environ.get("MLFLOW_TRACKING_URI"),
                   help="log the summary to MLflow (default $MLFLOW_TRACKING_URI)")
    p.add_argument("--experiment", default=EXPERIMENT, help=f"MLflow experiment (default {EXPERIMENT})")
    args = p.parse_args(argv)
    if args.folds < 2:
        p.error("--folds must be at least 2")
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    if args.sample is not None and args.sample < 2 * args.folds:
        p.error("--sample is too small for the number of folds")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = load_config(args.config, args.set)
    except ConfigError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    models = [m.strip() for m in args.models.split(",") if m.strip()]
    if not models or set(models) - set(MODELS):
        print(f"error: --models must name some of {', '.join(MODELS)}, got {args.models!r}", file=sys.stderr)
        return 2
    path = resolve_path(args.data or cfg.data.path)
    if not path.exists():
        print(f"skipped: data file not found: {path} (pass --data PATH or place the file there; "
              "`python -m benchmarks.credit_datasets` fetches the public ones it knows)")
        return 0
    try:
        ds = load_dataset(cfg.data, str(path))
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    frame, y = ds.frame, ds.target
    if args.sample is not None:
        rows = stratified_sample(y, args.sample)
        frame, y = frame.iloc[rows].reset_index(drop=True), y[rows]
    print(
        f"data {ds.source}: {len(y)} rows, {frame.shape[1]} features, default rate {y.mean():.4f}; "
        f"{'repeated ' if args.repeats > 1 else ''}stratified {args.folds}-fold CV"
        f"{f' x {args.repeats}' if args.repeats > 1 else ''}, seed {CV_SEED}; models {', '.join(models)}",
        file=sys.stderr, flush=True,
    )

    def show(record: dict[str, Any]) -> None:
        print(progress_line(record), file=sys.stderr, flush=True)

    result = run_benchmark(cfg, frame, y, args.folds, args.repeats, models, on_fold=show,
                           baseline_threads=args.baseline_threads)
    print(table(result))
    if args.tracking_uri:
        protocol = {
            "folds": args.folds, "repeats": args.repeats, "cv_seed": CV_SEED, "rows": len(y),
            "sample": args.sample, "data_digest": ds.digest, "models": models, "overrides": args.set,
        }
        run_id = log_to_mlflow(args.tracking_uri, cfg, result, protocol, Path(args.config).name, args.experiment)
        print(f"mlflow run {run_id} in experiment {args.experiment!r} at {args.tracking_uri}", file=sys.stderr)
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
