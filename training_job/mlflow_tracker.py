"""The MLflow tracker: one run with everything logged, a registered version, the gate."""

from __future__ import annotations

import json
import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import mlflow
import pandas as pd
from mlflow import MlflowClient

from credit_model.artifact import read_artifact
from credit_model.engine import ScoringEngine
from credit_model.frames import frame_to_columns
from training_job.config import TrainConfig
from training_job.data import Dataset
from training_job.dvc_record import dvc_tags
from training_job.fairness import FairnessReport
from training_job.plots import calibration_plot, fairness_plot, roc_plot, score_distribution_plot
from training_job.registry import FINGERPRINT_TAG, aliases_of, apply_gate, find_version_by_fingerprint
from training_job.tracker import Evaluation, Exported, Published
from training_job.tracking import log_config, log_dataset, log_model

log = logging.getLogger(__name__)


def existing_version(tracking_uri: str, cfg: TrainConfig, fp: str) -> tuple[Published, dict[str, float], str | None] | None:
    """An identical earlier run (same config and data): its version, test metrics and digest."""
    client = MlflowClient(tracking_uri)
    found = find_version_by_fingerprint(client, cfg.registry.model_name, fp)
    if found is None:
        return None
    log.info("config and data match version %s (run %s): nothing new to register", found.version, found.run_id)
    metrics = client.get_run(found.run_id).data.metrics if found.run_id else {}
    published = Published(run_id=found.run_id, version=found.version,
                          aliases=aliases_of(client, cfg.registry.model_name, found.version),
                          gate=found.tags.get("promotion.decision"))
    return published, {k: v for k, v in metrics.items() if k.startswith("test_")}, found.tags.get("artifact_digest")


class MlflowTracker:
    """Logs into the active MLflow run (see `mlflow_tracker`) and registers the model there."""

    def __init__(self, client: MlflowClient, run_id: str, cfg: TrainConfig, ds: Dataset, fp: str, config_name: str,
                 data_tags: dict[str, str] | None = None) -> None:
        self.client, self.run_id, self.cfg, self.ds, self.fp, self.config_name = client, run_id, cfg, ds, fp, config_name
        self.data_tags = data_tags or {}

    def log_params(self, params: dict[str, object]) -> None:
        mlflow.log_params(params)

    def log_epoch(self, epoch: int, row: dict[str, float]) -> None:
        mlflow.log_metrics({"train_loss": row["train_loss"], "val_auc": row["val_auc"]}, step=epoch)

    def log_metrics(self, metrics: dict[str, float]) -> None:
        mlflow.log_metrics(metrics)

    def log_evaluation(self, evaluation: Evaluation, band_floors: list[tuple[str, float]]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            plots = Path(tmp)
            roc_plot(evaluation.y, evaluation.pd, evaluation.metrics["test_auc"], plots / "roc.png")
            calibration_plot(evaluation.y, evaluation.pd, plots / "calibration.png")
            score_distribution_plot(evaluation.y, evaluation.points, band_floors, plots / "score_distribution.png")
            mlflow.log_artifacts(str(plots), "plots")

    def log_fairness(self, report: FairnessReport) -> None:
        """fairness/report.json (everything), groups.csv and proxies.csv (the tables), and the plot."""
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            (folder / "report.json").write_text(json.dumps(report.to_dict(), indent=2, sort_keys=True))
            report.groups_frame().to_csv(folder / "groups.csv", index=False)
            report.proxies_frame().to_csv(folder / "proxies.csv", index=False)
            fairness_plot(report, folder / "approval_and_air.png")
            mlflow.log_artifacts(str(folder), "fairness")
        if report.min_air is not None:
            mlflow.set_tag("fairness.min_air", f"{report.min_air:.4f}")

    def publish(self, exported: Exported, test_auc: float, min_air: float | None = None) -> Published:
        mlflow.log_text(exported.model_card, "model_card.md")
        spec = exported.spec
        # a feature that may be missing must be a double in the signature (NaN is a float)
        example = exported.example.reset_index(drop=True).astype(
            {f.name: "float64" for f in spec.features if f.kind == "numeric" and f.missing == "allow"})
        scored = ScoringEngine(read_artifact(exported.directory)).score(frame_to_columns(example, spec.features))
        example_out = pd.DataFrame({"probability_of_default": scored.probability_of_default, "score": scored.score,
                                    "decision": scored.decision.astype(str), "reason_codes": scored.reason_codes.astype(str)})
        model_uri = log_model(exported.directory, example, example_out)
        mlflow.set_tag("artifact_digest", exported.digest)
        name = self.cfg.registry.model_name
        version = mlflow.register_model(
            model_uri,
            name,
            tags={FINGERPRINT_TAG: self.fp, "data_digest": self.ds.digest, "artifact_digest": exported.digest,
                  "test_auc": f"{test_auc:.6f}", "config_file": self.config_name, **self.data_tags},
        ).version
        card_lines = exported.model_card.splitlines()
        self.client.update_model_version(name, version, description=card_lines[2] if len(card_lines) > 2 else "")
        decision = apply_gate(self.client, name, version, test_auc, self.cfg.registry.promotion_tolerance,
                              min_air, self.cfg.registry.min_air)
        return Published(run_id=self.run_id, version=str(version), aliases=aliases_of(self.client, name, str(version)),
                         gate=("promoted: " if decision.promoted else "held: ") + decision.reason)


@contextmanager
def mlflow_tracker(tracking_uri: str, experiment: str, cfg: TrainConfig, ds: Dataset, fp: str,
                   config_name: str) -> Iterator[MlflowTracker]:
    """A run named for the model and fingerprint, with the config and the dataset logged."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=f"{cfg.registry.model_name}-{fp[:8]}") as run:
        # the DVC hash beside the data digest: where to fetch exactly these bytes again
        data_tags = dvc_tags(ds.source)
        mlflow.set_tags({FINGERPRINT_TAG: fp, "data_digest": ds.digest, "config_file": config_name, **data_tags})
        log_config(cfg)
        log_dataset(ds.frame, ds.target, ds.source, Path(ds.source.rstrip("/")).name,
                    ds.digest if ds.population is not None else None)
        yield MlflowTracker(MlflowClient(tracking_uri), run.info.run_id, cfg, ds, fp, config_name, data_tags)
