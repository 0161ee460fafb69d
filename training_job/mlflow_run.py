"""The training job's MLflow side: one run with everything logged, a registered version, the gate."""

from __future__ import annotations

import logging
import tempfile
import time
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from credit_model.artifact import read_artifact
from credit_model.engine import ScoringEngine
from credit_model.frames import frame_to_columns
from training_job.config import TrainConfig
from training_job.data import Dataset
from training_job.export import export_artifact
from training_job.job import JobResult, evaluate, provenance
from training_job.model_card import model_card
from training_job.pipeline import fit_model
from training_job.plots import calibration_plot, roc_plot, score_distribution_plot
from training_job.registry import (
    FINGERPRINT_TAG,
    aliases_of,
    apply_gate,
    find_version_by_fingerprint,
)
from training_job.tracking import log_config, log_dataset, log_model

log = logging.getLogger(__name__)
EXAMPLE_ROWS = 3


def existing_result(tracking_uri: str, cfg: TrainConfig, fp: str) -> JobResult | None:
    """An identical earlier run (same config and data) → its result; nothing is retrained."""
    client = MlflowClient(tracking_uri)
    found = find_version_by_fingerprint(client, cfg.registry.model_name, fp)
    if found is None:
        return None
    log.info("config and data match version %s (run %s): nothing new to register", found.version, found.run_id)
    metrics = client.get_run(found.run_id).data.metrics if found.run_id else {}
    return JobResult(
        metrics={k: v for k, v in metrics.items() if k.startswith("test_")},
        artifact_digest=found.tags.get("artifact_digest"),
        run_id=found.run_id,
        version=found.version,
        aliases=aliases_of(client, cfg.registry.model_name, found.version),
        reused=True,
        gate=found.tags.get("promotion.decision"),
    )


def logged_run(
    tracking_uri: str,
    experiment: str,
    cfg: TrainConfig,
    ds: Dataset,
    fp: str,
    splits: tuple[np.ndarray, np.ndarray, np.ndarray],
    config_name: str,
    started: float,
) -> JobResult:
    train_rows, val_rows, test_rows = splits
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    client = MlflowClient(tracking_uri)
    name = cfg.registry.model_name
    with mlflow.start_run(run_name=f"{name}-{fp[:8]}") as run, tempfile.TemporaryDirectory() as tmp:
        mlflow.set_tags({FINGERPRINT_TAG: fp, "data_digest": ds.digest, "config_file": config_name})
        log_config(cfg)
        log_dataset(ds.frame, ds.target, ds.source, Path(ds.source).name)
        mlflow.log_params({"data.rows": len(ds.target), "split.train_rows": len(train_rows),
                           "split.validation_rows": len(val_rows), "split.test_rows": len(test_rows)})

        def on_epoch(epoch: int, row: dict[str, float]) -> None:
            mlflow.log_metrics({"train_loss": row["train_loss"], "val_auc": row["val_auc"]}, step=epoch)

        fit_started = time.perf_counter()
        fm = fit_model(ds.frame, ds.target, train_rows, val_rows, cfg, on_epoch=on_epoch)
        fit_seconds = time.perf_counter() - fit_started
        ev = evaluate(fm, ds, test_rows, cfg)
        best = fm.histories[0]
        metrics = {
            **ev.metrics,
            "best_epoch": float(best.best_epoch),
            "best_val_auc": best.best_val_auc,
            "fit_seconds": fit_seconds,
        }
        mlflow.log_metrics(metrics)

        plots = Path(tmp) / "plots"
        plots.mkdir()
        roc_plot(ev.y, ev.pd, ev.metrics["test_auc"], plots / "roc.png")
        calibration_plot(ev.y, ev.pd, plots / "calibration.png")
        score_distribution_plot(ev.y, ev.points, [(b.name, b.min_score) for b in cfg.scoring.bands], plots / "score_distribution.png")
        mlflow.log_artifacts(str(plots), "plots")

        artifact_dir = Path(tmp) / "credit_model"
        training = {**provenance(cfg, ds, fp), "run_id": run.info.run_id}
        spec, digest = export_artifact(fm, cfg, ds.frame.iloc[test_rows], artifact_dir, metrics, training)
        card = model_card(
            spec, cfg,
            data={"source": ds.source, "digest": ds.digest, "rows": str(len(ds.target)),
                  "default_rate": f"{ds.target.mean():.3f}"},
            fit={"summary": f"Best epoch {best.best_epoch} (validation AUC {best.best_val_auc:.4f}); fit {fit_seconds:.1f} s."},
        )
        mlflow.log_text(card, "model_card.md")
        example = ds.frame.iloc[test_rows[:EXAMPLE_ROWS]].reset_index(drop=True)
        # a feature that may be missing must be a double in the signature (NaN is a float)
        example = example.astype({f.name: "float64" for f in spec.features if f.kind == "numeric" and f.missing == "allow"})
        scored = ScoringEngine(read_artifact(artifact_dir)).score(frame_to_columns(example, spec.features))
        example_out = pd.DataFrame({"probability_of_default": scored.probability_of_default, "score": scored.score,
                                    "decision": scored.decision.astype(str), "reason_codes": scored.reason_codes.astype(str)})
        model_uri = log_model(artifact_dir, example, example_out)
        mlflow.set_tag("artifact_digest", digest)

        test_auc = ev.metrics["test_auc"]
        version = mlflow.register_model(
            model_uri,
            name,
            tags={FINGERPRINT_TAG: fp, "data_digest": ds.digest, "artifact_digest": digest,
                  "test_auc": f"{test_auc:.6f}", "config_file": config_name},
        ).version
        client.update_model_version(name, version, description=card.splitlines()[2] if len(card.splitlines()) > 2 else "")
        decision = apply_gate(client, name, version, test_auc, cfg.registry.promotion_tolerance)
        return JobResult(
            metrics=metrics,
            artifact_digest=digest,
            run_id=run.info.run_id,
            version=str(version),
            aliases=aliases_of(client, name, str(version)),
            gate=("promoted: " if decision.promoted else "held: ") + decision.reason,
            seconds=time.perf_counter() - started,
        )
