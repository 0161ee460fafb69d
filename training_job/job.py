"""The training job: load → split → fit → evaluate → export → log, register, gate."""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from credit_model.artifact import SCHEMA_VERSION
from training_job.config import TrainConfig
from training_job.data import Dataset, load_dataset
from training_job.evaluation import classification_metrics
from training_job.export import export_artifact, scoring_params
from training_job.pipeline import FittedModel, fit_model, split_indices
from credit_model.scoring import decide, score_points

log = logging.getLogger(__name__)


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


def fingerprint(cfg: TrainConfig, data_digest: str) -> str:
    """Same config + same data bytes + same artifact schema → same fingerprint.

    The data path is left out: the digest already says what the data is, wherever it lies.
    """
    body = cfg.model_dump(mode="json")
    body["data"].pop("path", None)
    text = json.dumps({"config": body, "data": data_digest, "schema": SCHEMA_VERSION}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass
class Evaluation:
    metrics: dict[str, float]
    pd: np.ndarray
    points: np.ndarray
    y: np.ndarray


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
    return Evaluation(metrics, pd_, points, y)


def provenance(cfg: TrainConfig, ds: Dataset, fp: str) -> dict[str, str]:
    return {
        "fingerprint": fp,
        "data_digest": ds.digest,
        "data_source": ds.source,
        "seed": str(cfg.split.seed),
        "torch": torch.__version__,
    }


def run_job(
    cfg: TrainConfig,
    data_path: str | None = None,
    tracking_uri: str | None = None,
    experiment: str | None = None,
    output_dir: Path | None = None,
    config_name: str = "",
) -> JobResult:
    started = time.perf_counter()
    ds = load_dataset(cfg.data, data_path)
    fp = fingerprint(cfg, ds.digest)
    log.info("data %s: %d rows, %d features, default rate %.3f", ds.source, len(ds.target), ds.frame.shape[1], ds.target.mean())
    if tracking_uri:
        from training_job.mlflow_run import existing_result, logged_run

        previous = existing_result(tracking_uri, cfg, fp)
        if previous is not None:
            return previous
    train_rows, val_rows, test_rows = split_indices(ds.target, cfg.split)
    if tracking_uri:
        return logged_run(tracking_uri, experiment or cfg.registry.experiment, cfg, ds, fp, (train_rows, val_rows, test_rows), config_name, started)
    fm = fit_model(ds.frame, ds.target, train_rows, val_rows, cfg)
    ev = evaluate(fm, ds, test_rows, cfg)
    out = output_dir or Path(tempfile.mkdtemp(prefix="credit-model-"))
    _, digest = export_artifact(fm, cfg, ds.frame.iloc[test_rows], out, ev.metrics, provenance(cfg, ds, fp))
    return JobResult(metrics=ev.metrics, artifact_dir=out, artifact_digest=digest, seconds=time.perf_counter() - started)
