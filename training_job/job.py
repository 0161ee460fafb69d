"""The training job: load → split → fit → evaluate → export → publish (tracker: training_job/tracker.py)."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from credit_model.artifact import SCHEMA_VERSION
from credit_model.scoring import decide, score_points
from training_job.config import TrainConfig
from training_job.data import Dataset, is_streamed, load_dataset
from training_job.distributed import Group, process_group
from training_job.evaluation import classification_metrics
from training_job.export import export_artifact, scoring_params, training_reference
from training_job.fairness import FairnessReport, evaluate_fairness
from training_job.model_card import model_card
from training_job.parquet_stream import survey_dataset
from training_job.pipeline import FittedModel, fit_model, fit_streamed, split_indices
from training_job.tracker import Evaluation, Exported, NullTracker, Tracker
from training_job.train import EpochCallback

log = logging.getLogger(__name__)
EXAMPLE_ROWS = 3


@dataclass
class JobResult:
    metrics: dict[str, float]
    artifact_dir: Path | None = None
    artifact_digest: str | None = None
    run_id: str | None = None
    version: str | None = None
    aliases: list[str] = field(default_factory=list)
    reused: bool = False
    """True when an identical earlier run was found and nothing new was registered."""
    gate: str | None = None
    seconds: float = 0.0
    fairness: FairnessReport | None = None
    """Per protected attribute and group (None without `data.protected`)."""
    main: bool = True
    """False on the ranks other than 0 of a torchrun launch: they train and report nothing."""
    processes: int = 1
    """The torchrun world that trained it."""


def fingerprint(cfg: TrainConfig, data_digest: str) -> str:
    """Same config + same data bytes + same artifact schema → same fingerprint.

    The data path is left out: the digest already says what the data is, wherever it lies.
    """
    body = cfg.model_dump(mode="json")
    body["data"].pop("path", None)
    text = json.dumps({"config": body, "data": data_digest, "schema": SCHEMA_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def evaluate(fm: FittedModel, ds: Dataset, rows: np.ndarray, cfg: TrainConfig) -> Evaluation:
    pd_ = fm.predict_pd(ds.frame.iloc[rows])
    y = ds.target[rows]
    metrics = {f"test_{k}": v for k, v in classification_metrics(y, pd_).items()}
    scoring = scoring_params(cfg.scoring)
    points = score_points(pd_, scoring)
    decisions = decide(points, scoring)
    for band in scoring.bands:
        share = decisions == band.name
        metrics[f"test_share_{band.name}"] = float(share.mean())
        if share.any():
            metrics[f"test_default_rate_{band.name}"] = float(y[share].mean())
    return Evaluation(metrics, pd_, points, y, decisions)


def fairness(fm: FittedModel, ds: Dataset, ev: Evaluation, train_rows: np.ndarray, test_rows: np.ndarray,
             cfg: TrainConfig) -> FairnessReport | None:
    """The fairness report of the test split (approval: a decision outside scoring.adverse_decisions)."""
    if ds.protected.shape[1] == 0:
        return None
    approved = ~np.isin(ev.decisions, cfg.scoring.adverse_decisions)
    categorical = {f.name for f in fm.features if f.kind == "categorical"}
    # fairlearn's bootstrap takes minutes on a large test split: say what is running
    log.info("fairness: %d protected attribute(s) over %d test rows, %d bootstrap resamples each, then the "
             "proxy screen over %d inputs", ds.protected.shape[1], len(test_rows), cfg.fairness.bootstrap,
             ds.frame.shape[1])
    report = evaluate_fairness(ds.protected.iloc[test_rows], ev.y, ev.pd, ev.points, approved,
                               ds.frame.iloc[train_rows], ds.protected.iloc[train_rows], categorical, cfg.fairness)
    if report is not None:
        for g in report.groups:
            log.info("fairness %s = %r: %d test rows, approval %.3f, AIR %.3f%s", g["attribute"], g["group"], g["rows"],
                     g["approval_rate"], g["air"], " (small group)" if g["small"] else "")
    return report


def provenance(cfg: TrainConfig, ds: Dataset, fp: str, data_path: str) -> dict[str, str]:
    """What the artifact says about its making: only what the inputs decide, so that the same
    lock, data, config and seed give the same artifact bytes in any folder (no resolved absolute
    path, no run id, no clock); the MLflow run and version carry the rest, and name the artifact."""
    return {
        "fingerprint": fp,
        "data_digest": ds.digest,
        "data_source": data_path,
        "seed": str(cfg.split.seed),
        "torch": torch.__version__,
    }


@dataclass
class Prepared:
    """The data as the pipeline takes it, from a file in memory or a streamed Parquet dataset."""

    ds: Dataset
    """The whole table, or (streamed) the samples of it held in memory."""
    rows: tuple[np.ndarray, np.ndarray, np.ndarray]
    """Train, validation and test rows of `ds` (streamed: the training sample and the evaluation rows)."""
    split_rows: dict[str, int]
    """Rows of each split in the whole data set."""
    fit: Callable[[EpochCallback | None], FittedModel | None]
    path: str
    """The data path as given (--data or data.path), not resolved: the artifact records it."""


def streamed_config(cfg: TrainConfig, data_path: str | None) -> TrainConfig:
    """A streamed dataset cannot be shuffled in memory: it is split by a hash of each row's id
    whatever `split.method` says, and the run's params say so."""
    path = data_path or cfg.data.path
    if not is_streamed(path) or cfg.split.method == "hash":
        return cfg
    log.info("%s is a Parquet dataset, streamed: split by a hash of each row's id (split.method hash)", path)
    return cfg.model_copy(update={"split": cfg.split.model_copy(update={"method": "hash"})})


def prepare(cfg: TrainConfig, data_path: str | None, group: Group) -> Prepared:
    path = data_path or cfg.data.path
    if is_streamed(path):
        data = survey_dataset(cfg, path, group)
        return Prepared(data.view, data.rows, data.split_rows, lambda on_epoch: fit_streamed(data, cfg, on_epoch, group),
                        path)
    ds = load_dataset(cfg, data_path)
    rows = split_indices(ds.target, cfg.split, ds.ids)
    return Prepared(ds, rows, dict(zip(("train", "validation", "test"), map(len, rows))),
                    lambda on_epoch: fit_model(ds.frame, ds.target, rows[0], rows[1], cfg, on_epoch, group), path)


def train(cfg: TrainConfig, data: Prepared, fp: str, out: Path, tracker: Tracker, started: float,
          group: Group) -> JobResult:
    """The one pipeline: fit → evaluate → export → publish, whatever the tracker and the data source."""
    ds = data.ds
    train_rows, val_rows, test_rows = data.rows
    params: dict[str, object] = {"data.rows": ds.rows, **{f"split.{k}_rows": v for k, v in data.split_rows.items()},
                                 "distributed.processes": group.world}
    if ds.population is not None:
        params.update({"streaming.train_sample_rows": len(train_rows), "streaming.validation_rows_kept": len(val_rows),
                       "streaming.test_rows_kept": len(test_rows)})
    tracker.log_params(params)
    fit_started = time.perf_counter()
    fm = data.fit(tracker.log_epoch)
    if fm is None:  # a rank other than 0: it helped train, rank 0 does the rest
        return JobResult(metrics={}, seconds=time.perf_counter() - started, main=False)
    fit_seconds = time.perf_counter() - fit_started
    ev = evaluate(fm, ds, test_rows, cfg)
    report = fairness(fm, ds, ev, train_rows, test_rows, cfg)
    best = fm.histories[0]
    metrics = {**ev.metrics, "best_epoch": float(best.best_epoch), "best_val_auc": best.best_val_auc,
               "fit_seconds": fit_seconds, **(report.metrics() if report else {})}
    tracker.log_metrics(metrics)
    tracker.log_evaluation(ev, [(b.name, b.min_score) for b in cfg.scoring.bands])
    if report is not None:
        tracker.log_fairness(report)
    training = provenance(cfg, ds, fp, data.path)
    reference = training_reference(fm, cfg, ds.frame.iloc[train_rows])
    # fit_seconds is the clock's, not the model's: MLflow has it, the artifact does not
    artifact_metrics = {k: v for k, v in metrics.items() if k != "fit_seconds"}
    spec, digest = export_artifact(fm, cfg, ds.frame.iloc[test_rows], out, artifact_metrics, training, reference)
    card = model_card(
        spec, cfg,
        data={"source": ds.source, "digest": ds.digest, "rows": str(ds.rows),
              "default_rate": f"{ds.target.mean():.3f}"},
        fit={"summary": f"Best epoch {best.best_epoch} (validation AUC {best.best_val_auc:.4f}); fit {fit_seconds:.1f} s."},
        fairness=report,
    )
    example = ds.frame.iloc[test_rows[:EXAMPLE_ROWS]]
    published = tracker.publish(Exported(out, spec, digest, card, example), ev.metrics["test_auc"],
                                report.min_air if report else None)
    return JobResult(metrics=metrics, artifact_dir=out, artifact_digest=digest, run_id=published.run_id,
                     version=published.version, aliases=published.aliases, gate=published.gate,
                     seconds=time.perf_counter() - started, fairness=report, processes=group.world)


def run_job(
    cfg: TrainConfig,
    data_path: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    output_dir: Path | None = None,
    config_name: str = "",
) -> JobResult:
    """Train with MLflow tracking when `tracking_uri` is given (the artifact then lives in a
    temporary directory unless `output_dir` is set), or without: the artifact in `output_dir`
    or a new temporary directory that is kept.

    Under torchrun every rank trains its share; rank 0 alone looks up, logs, exports and registers."""
    started = time.perf_counter()
    cfg = streamed_config(cfg, data_path)
    with process_group(cfg.optimisation.device) as group:
        data = prepare(cfg, data_path, group)
        ds = data.ds
        fp = fingerprint(cfg, ds.digest)
        log.info("data %s: %d rows, %d features, default rate %.3f", ds.source, ds.rows, ds.frame.shape[1],
                 ds.target.mean())
        if not group.main:
            # rank 0's answer to "already registered?" decides for every rank, so none trains alone
            if group.broadcast(None) is not None:
                return JobResult(metrics={}, reused=True, main=False)
            return train(cfg, data, fp, Path(), NullTracker(), started, group)
        if not tracking_uri:
            group.broadcast(None)
            return train(cfg, data, fp, output_dir or Path(tempfile.mkdtemp(prefix="credit-model-")), NullTracker(),
                         started, group)
        from training_job.mlflow_tracker import existing_version, mlflow_tracker

        previous = group.broadcast(existing_version(tracking_uri, cfg, fp))
        if previous is not None:
            published, metrics, digest = previous
            return JobResult(metrics=metrics, artifact_digest=digest, run_id=published.run_id,
                             version=published.version, aliases=published.aliases, reused=True, gate=published.gate)
        with mlflow_tracker(tracking_uri, experiment or cfg.registry.experiment, cfg, ds, fp, config_name) as tracker, \
                tempfile.TemporaryDirectory() as tmp:
            result = train(cfg, data, fp, output_dir or Path(tmp) / "credit_model", tracker, started, group)
            if output_dir is None:
                result.artifact_dir = None  # it goes with the temporary directory
            return result
