"""Inferring the feature spec from a table and fitting its transform parameters.

Kinds, dtypes and missing-value policy come from the whole table (schema, not statistics);
quantiles, vocabularies and baselines are fitted on the training split only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np
import pandas as pd

from credit_model.artifact import FeatureSpec, NetworkInfo, NumericTransform
from training_job.config import DataConfig, FeatureOverride
from training_job.data import DataError

log = logging.getLogger(__name__)

N_QUANTILES = 256
# Normal scores are clamped at the quantiles of 1e-4 and 1 - 1e-4 (about ±3.7): enough
# resolution for 150k rows, and no point is mapped to an extreme the network never saw.
_EDGE = 1e-4


def _pretty(name: str) -> str:
    return name.replace("_", " ").replace("-", " ").strip()


def infer_kind(column: pd.Series, override: FeatureOverride) -> str:
    if override.kind:
        return override.kind
    if pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column):
        return "categorical"
    return "numeric"


def fit_numeric_transform(values: np.ndarray, sentinels: list[float]) -> NumericTransform:
    x = values[~np.isnan(values)]
    if sentinels:
        x = x[~np.isin(x, sentinels)]
    if x.size == 0:
        raise DataError("no usable (non-missing, non-sentinel) values in the training split")
    levels = np.linspace(_EDGE, 1 - _EDGE, N_QUANTILES)
    quantiles = np.quantile(x, levels)
    scores = np.array([NormalDist().inv_cdf(p) for p in levels])
    # Mass points (many zeros in day-past-due counts) give tied quantiles: keep one breakpoint
    # per value at the mean score of its tied levels, so np.interp sees increasing x.
    unique, inverse = np.unique(quantiles, return_inverse=True)
    merged = np.bincount(inverse, weights=scores) / np.bincount(inverse)
    fill = float(np.interp(np.median(x), unique, merged))
    return NumericTransform(quantiles=unique.tolist(), normal_scores=merged.tolist(), fill=fill)


@dataclass(frozen=True)
class ColumnFacts:
    """What the spec takes from the whole table rather than from the rows in memory: a streamed
    dataset is surveyed for these (training_job/parquet_stream.py), a sample fits the rest."""

    has_missing: bool
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] = ()
    """Categorical: the values seen in the training split."""
    distinct: int = 0
    """Categorical: distinct values in the whole table."""


def is_constant(train: pd.Series, known: ColumnFacts | None) -> bool:
    """One value and no missing ones: the feature cannot move a score (nor be a reason code)."""
    if known is not None:
        if known.has_missing:
            return False
        return known.distinct == 1 if known.categories else known.minimum == known.maximum
    return train.nunique(dropna=False) <= 1


def build_feature_spec(frame: pd.DataFrame, train_rows: np.ndarray, cfg: DataConfig,
                       facts: dict[str, ColumnFacts] | None = None) -> tuple[list[FeatureSpec], NetworkInfo]:
    """Infer and fit the spec: `frame` is the whole feature table, `train_rows` indexes the training
    split; or, with `facts` of the whole table, `frame` is a sample of it."""
    specs: list[FeatureSpec] = []
    n_numeric = n_flags = n_categorical = 0
    for i, name in enumerate(frame.columns):
        column = frame[name]
        override = cfg.features.get(name, FeatureOverride())
        kind = infer_kind(column, override)
        known = facts.get(name) if facts else None
        has_missing = known.has_missing if known else bool(column.isna().any())
        missing = override.missing or ("allow" if has_missing else "reject")
        common = dict(
            name=name,
            kind=kind,
            missing=missing,
            code=f"R{i + 1:02d}",
            reason=override.reason or f"{_pretty(name).capitalize()} raised the estimated risk",
        )
        train = column.iloc[train_rows]
        if is_constant(train, known):
            log.warning("feature %r holds one value (%s) throughout the training data: it cannot inform the model; "
                        "list it in data.drop_columns", name, train.iloc[0] if len(train) else "none")
        if kind == "numeric":
            try:
                values = pd.to_numeric(column, errors="raise").to_numpy(dtype=np.float64)
            except (ValueError, TypeError) as e:
                raise DataError(f"feature {name!r} is declared numeric but holds non-numbers: {e}") from e
            train_values = values[train_rows]
            try:
                transform = fit_numeric_transform(train_values, override.sentinels)
            except DataError as e:
                raise DataError(f"feature {name!r}: {e}") from e
            is_int = pd.api.types.is_integer_dtype(column)
            n_ind = (1 if missing == "allow" else 0) + len(override.sentinels)
            usable = train_values[~np.isnan(train_values) & ~np.isin(train_values, override.sentinels)]
            specs.append(
                FeatureSpec(
                    **common,
                    dtype="int" if is_int else "float",
                    min=override.min,
                    max=override.max,
                    observed_min=known.minimum if known else float(np.nanmin(values)),
                    observed_max=known.maximum if known else float(np.nanmax(values)),
                    sentinels=override.sentinels,
                    transform=transform,
                    baseline=float(np.median(usable)),
                    numeric_index=n_numeric,
                    flag_indices=list(range(n_flags, n_flags + n_ind)),
                )
            )
            n_numeric += 1
            n_flags += n_ind
        else:
            text = train.dropna().astype(str)
            distinct = known.distinct if known else column.dropna().astype(str).nunique()
            if distinct > cfg.max_categories:
                raise DataError(
                    f"feature {name!r} has {distinct} distinct values (> data.max_categories="
                    f"{cfg.max_categories}); drop it, declare it numeric, or raise the limit"
                )
            specs.append(
                FeatureSpec(
                    **common,
                    dtype="string",
                    categories=list(known.categories) if known else sorted(text.unique().tolist()),
                    oov=override.oov or "bucket",
                    baseline=str(text.mode().iloc[0]),
                    categorical_index=n_categorical,
                )
            )
            n_categorical += 1
    counts = {"numeric": n_numeric, "flags": n_flags, "categorical": n_categorical}
    network = NetworkInfo(
        sha256="",
        inputs=[k for k, v in counts.items() if v > 0],
        n_numeric=n_numeric,
        n_flags=n_flags,
        n_categorical=n_categorical,
    )
    return specs, network
