"""Discrimination and calibration metrics of predicted PDs against outcomes."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import brier_score_loss, log_loss, roc_auc_score, roc_curve

ECE_BINS = 10


def expected_calibration_error(y: np.ndarray, pd_: np.ndarray, bins: int = ECE_BINS) -> float:
    """Row-weighted mean |observed default rate - mean PD| over equal-width PD bins."""
    idx = np.minimum((np.asarray(pd_) * bins).astype(int), bins - 1)
    counts = np.bincount(idx, minlength=bins)
    observed = np.bincount(idx, weights=y, minlength=bins)
    predicted = np.bincount(idx, weights=pd_, minlength=bins)
    used = counts > 0
    return float(np.sum(np.abs(observed[used] - predicted[used])) / len(y))


def ks_statistic(y: np.ndarray, pd_: np.ndarray) -> float:
    fpr, tpr, _ = roc_curve(y, pd_)
    return float(np.max(tpr - fpr))


def classification_metrics(y: np.ndarray, pd_: np.ndarray) -> dict[str, float]:
    y = np.asarray(y)
    pd_ = np.clip(np.asarray(pd_, dtype=np.float64), 1e-7, 1 - 1e-7)
    auc = float(roc_auc_score(y, pd_))
    return {
        "auc": auc,
        "gini": 2 * auc - 1,
        "ks": ks_statistic(y, pd_),
        "brier": float(brier_score_loss(y, pd_)),
        "log_loss": float(log_loss(y, pd_, labels=[0, 1])),
        "ece": expected_calibration_error(y, pd_),
        "default_rate": float(y.mean()),
        "mean_pd": float(pd_.mean()),
    }
