"""Logging a run to MLflow: params, dataset, plots, model card and the model itself."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import onnxruntime
import pandas as pd
import pydantic
import yaml
from mlflow.data.dataset_source_registry import resolve_dataset_source
from mlflow.data.meta_dataset import MetaDataset
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

import credit_model
from credit_model.artifact import MLFLOW_ARTIFACT_KEY
from training_job.config import TrainConfig

log = logging.getLogger(__name__)

MODEL_NAME_IN_RUN = "model"
DATASET_DIGEST_CHARS = 16
"""Of the dataset digest, on MLflow's dataset record (its column holds 36); the run's tags keep all 64."""


def flatten(prefix: str, value: Any) -> dict[str, str]:
    """Nested config → {"network.hidden_sizes": "[64, 32]", ...} for mlflow params."""
    if isinstance(value, dict):
        out: dict[str, str] = {}
        for k, v in value.items():
            out.update(flatten(f"{prefix}.{k}" if prefix else str(k), v))
        return out
    return {prefix: json.dumps(value) if isinstance(value, (list, tuple)) else str(value)}


def log_config(cfg: TrainConfig) -> None:
    params = flatten("", cfg.model_dump(mode="json", exclude={"description"}))
    mlflow.log_params({k: v[:6000] for k, v in params.items()})
    mlflow.log_text(yaml.safe_dump(cfg.model_dump(mode="json"), sort_keys=False), "config/model_config.yaml")


DATASET_LOG_ATTEMPTS = 4


def is_duplicate_dataset_race(error: MlflowException) -> bool:
    """The tracking server inserts a dataset with a check-then-insert, so two jobs logging the
    same data into one experiment at the same moment can both miss it and one insert fails on
    the unique key (SQLite "UNIQUE constraint", PostgreSQL "duplicate key"). The row exists by
    then, so logging again links it instead of inserting."""
    text = str(error.message).lower()
    return "datasets" in text and ("unique constraint" in text or "duplicate key" in text)


def log_dataset(frame: pd.DataFrame, target: np.ndarray, source: str, name: str, streamed_digest: str | None = None) -> None:
    """The training input of the run. A streamed dataset is logged by its digest and schema only:
    a profile of the sample in memory would misstate a data set of millions of rows."""
    df = frame.assign(__target__=target)
    if streamed_digest is None:
        dataset = mlflow.data.from_pandas(df, source=source, name=name, targets="__target__")
    else:
        dataset = MetaDataset(resolve_dataset_source(source), name=name, digest=streamed_digest[:DATASET_DIGEST_CHARS],
                              schema=infer_signature(df).inputs)
    for attempt in range(1, DATASET_LOG_ATTEMPTS + 1):
        try:
            mlflow.log_input(dataset, context="training")
            return
        except MlflowException as error:
            if attempt == DATASET_LOG_ATTEMPTS or not is_duplicate_dataset_race(error):
                raise
            log.info("dataset %s was logged concurrently by another run; linking it (attempt %d)", name, attempt + 1)
            time.sleep(0.2 * attempt)


def pip_requirements() -> list[str]:
    return [
        f"mlflow=={mlflow.__version__}",
        f"onnxruntime=={onnxruntime.__version__}",
        f"numpy=={np.__version__}",
        f"pandas=={pd.__version__}",
        f"pydantic=={pydantic.VERSION}",
        f"pyyaml=={yaml.__version__}",
    ]


def log_model(artifact_dir: Path, example: pd.DataFrame, example_output: pd.DataFrame) -> str:
    """Log the pyfunc model (artifact inside, code alongside) and return its model URI."""
    info = mlflow.pyfunc.log_model(
        name=MODEL_NAME_IN_RUN,
        python_model=str(credit_model.PYFUNC_FILE),
        artifacts={MLFLOW_ARTIFACT_KEY: str(artifact_dir)},
        code_paths=[str(credit_model.PACKAGE_DIR)],  # the contract only: no training or serving code
        signature=infer_signature(example, example_output),
        input_example=example,
        pip_requirements=pip_requirements(),
    )
    return info.model_uri
