"""What the pipeline tells a tracker, and the tracker that records nothing.

The training pipeline (training_job/job.py) is written once; where its results go is the
tracker's business, as with pytorch_tabular's and Lightning's loggers. `NullTracker` runs the
job without a tracking server (`python -m training_job` without `--tracking-uri`);
training_job/mlflow_tracker.py logs and registers in MLflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from credit_model.artifact import ArtifactSpec
from training_job.fairness import FairnessReport


@dataclass
class Evaluation:
    """The test split as scored by the fitted model."""

    metrics: dict[str, float]
    pd: np.ndarray
    points: np.ndarray
    y: np.ndarray
    decisions: np.ndarray | None = None


@dataclass
class Exported:
    """A written artifact and what a registry wants beside it."""

    directory: Path
    spec: ArtifactSpec
    digest: str
    model_card: str
    example: pd.DataFrame
    """A few test rows, the input example and signature of a registered model."""


@dataclass
class Published:
    run_id: str | None = None
    version: str | None = None
    aliases: list[str] = field(default_factory=list)
    gate: str | None = None


class Tracker(Protocol):
    def log_params(self, params: dict[str, object]) -> None: ...

    def log_epoch(self, epoch: int, row: dict[str, float]) -> None: ...

    def log_metrics(self, metrics: dict[str, float]) -> None: ...

    def log_evaluation(self, evaluation: Evaluation, band_floors: list[tuple[str, float]]) -> None: ...

    def log_fairness(self, report: FairnessReport) -> None:
        """The fairness report (tables and plot); only called when the data has protected attributes."""

    def publish(self, exported: Exported, test_auc: float, min_air: float | None = None) -> Published:
        """Register the model; the gate weighs `test_auc` and, when set, the lowest adverse impact ratio."""


class NullTracker:
    """Records nothing: the artifact on disk is the whole result."""

    def log_params(self, params: dict[str, object]) -> None:
        pass

    def log_epoch(self, epoch: int, row: dict[str, float]) -> None:
        pass

    def log_metrics(self, metrics: dict[str, float]) -> None:
        pass

    def log_evaluation(self, evaluation: Evaluation, band_floors: list[tuple[str, float]]) -> None:
        pass

    def log_fairness(self, report: FairnessReport) -> None:
        pass

    def publish(self, exported: Exported, test_auc: float, min_air: float | None = None) -> Published:
        return Published()
