"""Table rows → the raw columns `transform.encode` takes (numeric float64 with NaN,
categorical object with None): what serving builds from a v2 request, built from a frame.

Duck-typed over pandas (Series.to_numpy / isna / astype): the training job and the MLflow
flavour pass DataFrames, and this package does not depend on pandas.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from credit_model.artifact import FeatureSpec


def frame_to_columns(frame: Any, features: Sequence[FeatureSpec]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for f in features:
        col = frame[f.name]
        if f.kind == "numeric":
            out[f.name] = col.to_numpy(dtype=np.float64, na_value=np.nan)
        else:
            out[f.name] = np.where(col.isna(), None, col.astype(object).astype(str)).astype(object)
    return out
