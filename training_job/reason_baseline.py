"""Baselines for reason codes: each feature's most favourable value.

Scorecards explain a decline by the attributes where the applicant "lost the most points"
against the best attainable value. For a network the best value depends on the other
features, so we take the minimum of the partial-dependence curve: for each feature, every
candidate value (training quantiles, or every category) is substituted into a sample of
training rows and the value with the lowest mean logit is the baseline. Serving then ranks
an applicant's features by how much the logit drops when that feature alone is set to its
baseline (see credit_model.engine).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from credit_model.artifact import FeatureSpec

SAMPLE_ROWS = 400
QUANTILE_LEVELS = np.linspace(0.05, 0.95, 19)


def _candidates(frame: pd.DataFrame, f: FeatureSpec) -> list[float | str]:
    if f.kind == "categorical":
        return list(f.categories)
    values = pd.to_numeric(frame[f.name]).to_numpy(dtype=np.float64)
    values = values[~np.isnan(values) & ~np.isin(values, f.sentinels)]
    return sorted(set(np.quantile(values, QUANTILE_LEVELS).round(6).tolist()))


def favourable_baselines(logits, features: list[FeatureSpec], train: pd.DataFrame, seed: int) -> list[FeatureSpec]:
    """`logits(frame) -> np.ndarray` scores raw rows; returns features with `baseline` set."""
    sample = train.sample(n=min(SAMPLE_ROWS, len(train)), random_state=seed)
    out = []
    for f in features:
        candidates = _candidates(train, f)
        # all candidates in one batch: [len(candidates) * len(sample)] rows
        probe = pd.concat([sample] * len(candidates), ignore_index=True)
        probe[f.name] = np.repeat(np.asarray(candidates, dtype=object), len(sample))
        if f.kind == "numeric":
            probe[f.name] = probe[f.name].astype(np.float64)
        mean_logit = logits(probe).reshape(len(candidates), len(sample)).mean(axis=1)
        best = candidates[int(np.argmin(mean_logit))]
        out.append(f.model_copy(update={"baseline": best}))
    return out
