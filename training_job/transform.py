"""Applying a fitted feature spec to raw columns: the exact encoding both training and serving use.

numpy only, vectorised over rows: serving imports this module, so it must not pull in pandas,
scikit-learn or torch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from training_job.artifact import FeatureSpec, NetworkInfo


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


def encode_categorical(values: np.ndarray, feature: FeatureSpec) -> np.ndarray:
    """Vocabulary index per row; 0 for missing or unseen categories."""
    vocab = np.asarray(feature.categories, dtype=str)
    obj = np.asarray(values, dtype=object)
    missing = np.equal(obj, None)
    text = np.where(missing, "", obj).astype(str)
    pos = np.searchsorted(vocab, text)
    clipped = np.minimum(pos, len(vocab) - 1)
    found = (pos < len(vocab)) & (vocab[clipped] == text) & ~missing
    return np.where(found, clipped + 1, 0).astype(np.int64)


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
