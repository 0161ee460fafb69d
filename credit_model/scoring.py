"""From logit to probability of default, points and decision: shared by training and serving."""

from __future__ import annotations

import math

import numpy as np

from credit_model.artifact import Calibration, Scoring

PD_CLIP = 1e-6


def calibrated_pd(logit: np.ndarray, calibration: Calibration) -> np.ndarray:
    z = calibration.a * np.asarray(logit, dtype=np.float64) + calibration.b
    return 1.0 / (1.0 + np.exp(-z))


def score_points(pd_: np.ndarray, scoring: Scoring) -> np.ndarray:
    """Points = offset + factor * ln(good:bad odds), factor = PDO / ln 2.

    Chosen so that `base_score` points mean odds of `base_odds`:1 and every `pdo` points
    double the odds.
    """
    factor = scoring.pdo / math.log(2.0)
    offset = scoring.base_score - factor * math.log(scoring.base_odds)
    p = np.clip(np.asarray(pd_, dtype=np.float64), PD_CLIP, 1 - PD_CLIP)
    return np.rint(offset + factor * np.log((1 - p) / p)).astype(np.int32)


def decide(points: np.ndarray, scoring: Scoring) -> np.ndarray:
    """Band name per row: the first band (highest first) whose min_score the points reach."""
    names = np.array([b.name for b in scoring.bands], dtype=object)
    # Bands are ordered by decreasing min_score; the last has none and catches the rest.
    cut = np.array([b.min_score for b in scoring.bands[:-1]], dtype=np.float64)
    # index of the first band with min_score <= points
    idx = np.searchsorted(-cut, -np.asarray(points, dtype=np.float64), side="left")
    return names[idx]
