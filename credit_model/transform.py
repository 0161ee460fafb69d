"""Applying a fitted feature spec to raw columns: the exact encoding both training and serving use.

numpy only, vectorised over rows: serving imports this module, so it must not pull in pandas,
scikit-learn or torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache
from itertools import repeat

import numpy as np

from credit_model.artifact import FeatureSpec, NetworkInfo


def encode_numeric(values: np.ndarray, feature: FeatureSpec) -> tuple[np.ndarray, list[np.ndarray]]:
    """Return the transformed value column and the feature's indicator columns."""
    assert feature.transform is not None
    x = np.asarray(values, dtype=np.float64)
    imputed = np.isnan(x)
    flags: list[np.ndarray] = []
    if feature.missing == "allow":
        flags.append(imputed.astype(np.float32))
    for code in feature.sentinels:
        hit = x == code
        flags.append(hit.astype(np.float32))
        imputed |= hit
    t = np.interp(x, feature.transform.quantiles, feature.transform.normal_scores)
    t[imputed] = feature.transform.fill
    return t.astype(np.float32), flags


@lru_cache(maxsize=256)
def _vocabulary_index(categories: tuple[str, ...]) -> dict[str, int]:
    return {c: i + 1 for i, c in enumerate(categories)}


def encode_categorical(values: np.ndarray, feature: FeatureSpec) -> np.ndarray:
    """Vocabulary index per row; 0 for missing or unseen categories."""
    index = _vocabulary_index(tuple(feature.categories))
    obj = values if isinstance(values, np.ndarray) else np.asarray(values, dtype=object)
    if not set(map(type, obj)) <= {str, type(None)}:
        # training data may hold numbers in a categorical column; the vocabulary holds their text
        obj = np.array([v if v is None else str(v) for v in obj], dtype=object)
    # a hash lookup per value through C-level map: faster than sorting strings at every size
    return np.fromiter(map(index.get, obj, repeat(0)), dtype=np.int64, count=len(obj))


def encode(
    columns: Mapping[str, np.ndarray], features: Sequence[FeatureSpec], network: NetworkInfo
) -> dict[str, np.ndarray]:
    """Raw columns (numeric float64 with NaN, categorical object with None) → ONNX inputs."""
    n = len(next(iter(columns.values())))
    numeric = np.zeros((n, network.n_numeric), dtype=np.float32)
    flags = np.zeros((n, network.n_flags), dtype=np.float32)
    categorical = np.zeros((n, network.n_categorical), dtype=np.int64)
    for f in features:
        if f.kind == "numeric":
            value, indicator_cols = encode_numeric(columns[f.name], f)
            numeric[:, f.numeric_index] = value
            for idx, col in zip(f.flag_indices, indicator_cols):
                flags[:, idx] = col
        else:
            categorical[:, f.categorical_index] = encode_categorical(columns[f.name], f)
    inputs = {"numeric": numeric, "flags": flags, "categorical": categorical}
    return {name: inputs[name] for name in network.inputs}
