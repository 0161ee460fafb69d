"""Post-hoc calibration of logits on the validation split (Platt or temperature scaling)."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize

from credit_model.artifact import Calibration


def _nll(params: np.ndarray, logit: np.ndarray, y: np.ndarray) -> float:
    z = params[0] * logit + (params[1] if params.size > 1 else 0.0)
    # log(1 + e^z) - y z, computed stably
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def fit_calibration(logit: np.ndarray, y: np.ndarray, method: str) -> Calibration:
    logit = np.asarray(logit, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    if method == "none":
        return Calibration(method="none")
    start = np.array([1.0, 0.0]) if method == "platt" else np.array([1.0])
    result = minimize(_nll, start, args=(logit, y), method="L-BFGS-B")
    a = float(result.x[0])
    b = float(result.x[1]) if method == "platt" else 0.0
    return Calibration(method=method, a=a, b=b)
