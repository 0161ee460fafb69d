"""Loading the training table and its target, with errors that name what is wrong."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from training_job.config import EMBEDDED_PREFIX, DataConfig

EMBEDDED = {"german_credit": "germancredit.csv"}


class DataError(ValueError):
    """The data cannot train a model; the message names the column or file."""


@dataclass(frozen=True)
class Dataset:
    frame: pd.DataFrame
    """Feature columns only (target, ids and dropped columns removed)."""
    target: np.ndarray
    """1 = default (the configured positive label), 0 otherwise."""
    source: str
    digest: str
    """sha256 of the file's bytes: identifies the data a version was trained on."""


def resolve_path(path: str) -> Path:
    if path.startswith(EMBEDDED_PREFIX):
        key = path[len(EMBEDDED_PREFIX):]
        if key not in EMBEDDED:
            raise DataError(f"unknown embedded data set {key!r}; known: {sorted(EMBEDDED)}")
        return Path(str(resources.files("training_job") / "datasets" / EMBEDDED[key]))
    return Path(path)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_table(path: Path, fmt: str = "auto") -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    if fmt == "auto":
        fmt = "parquet" if path.suffix in {".parquet", ".pq"} else "csv"
    try:
        frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path)
    except pd.errors.EmptyDataError as e:
        raise DataError(f"data file {path} is empty") from e
    except Exception as e:  # parser errors carry the line; keep them
        raise DataError(f"cannot read {path} as {fmt}: {e}") from e
    if frame.empty:
        raise DataError(f"data file {path} has no rows")
    return frame


def encode_target(column: pd.Series, positive_label: object, name: str) -> np.ndarray:
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise DataError(f"target column {name!r} has missing values (first at row {row})")
    values = column.unique()
    if len(values) != 2:
        raise DataError(
            f"target column {name!r} must have exactly two classes, found {len(values)}: "
            f"{sorted(map(str, values))[:10]}"
        )
    # YAML may give 1 where the CSV holds "1" (or the reverse): compare as text too.
    matches = [v for v in values if v == positive_label or str(v) == str(positive_label)]
    if not matches:
        raise DataError(
            f"positive_label {positive_label!r} does not occur in target column {name!r}; "
            f"its values are {sorted(map(str, values))}"
        )
    return (column == matches[0]).to_numpy(dtype=np.int64)


def load_dataset(cfg: DataConfig, path_override: str | None = None) -> Dataset:
    path = resolve_path(path_override or cfg.path)
    frame = read_table(path, cfg.format)
    if cfg.target not in frame.columns:
        raise DataError(f"target column {cfg.target!r} not in {path}; columns: {list(frame.columns)}")
    missing = [c for c in cfg.id_columns + cfg.drop_columns if c not in frame.columns]
    if missing:
        raise DataError(f"id/drop columns {missing} not in {path}")
    target = encode_target(frame[cfg.target], cfg.positive_label, cfg.target)
    features = frame.drop(columns=[cfg.target, *cfg.id_columns, *cfg.drop_columns])
    unknown = sorted(set(cfg.features) - set(features.columns))
    if unknown:
        raise DataError(f"data.features overrides name columns that are not features: {unknown}")
    if features.shape[1] == 0:
        raise DataError(f"{path} has no feature columns left after removing target/id/drop columns")
    empty = [c for c in features.columns if features[c].isna().all()]
    if empty:
        raise DataError(f"feature columns entirely missing in {path}: {empty}")
    return Dataset(frame=features.reset_index(drop=True), target=target, source=str(path), digest=file_digest(path))
