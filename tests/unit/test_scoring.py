from __future__ import annotations

import math

import numpy as np
import pytest

from credit_model.artifact import Band, Calibration, Scoring
from credit_model.scoring import calibrated_pd, decide, score_points

SCORING = Scoring(
    pdo=20, base_score=600, base_odds=50,
    bands=[Band(name="approve", min_score=560), Band(name="refer", min_score=540), Band(name="decline")],
    adverse_decisions=["decline", "refer"], reason_codes=3,
)


def pd_at_odds(odds: float) -> float:
    return 1 / (1 + odds)


def test_base_score_means_base_odds_and_pdo_doubles_them() -> None:
    pts = score_points(np.array([pd_at_odds(50), pd_at_odds(100), pd_at_odds(25), pd_at_odds(400)]), SCORING)
    assert pts.tolist() == [600, 620, 580, 660]
    assert pts.dtype == np.int32


def test_extreme_probabilities_stay_finite() -> None:
    pts = score_points(np.array([0.0, 1.0]), SCORING)
    factor = 20 / math.log(2)
    offset = 600 - factor * math.log(50)
    assert pts[0] == round(offset + factor * math.log((1 - 1e-6) / 1e-6))
    assert pts[1] == round(offset + factor * math.log(1e-6 / (1 - 1e-6)))


@pytest.mark.parametrize(
    ("points", "band"), [(700, "approve"), (560, "approve"), (559, "refer"), (540, "refer"), (539, "decline"), (-5, "decline")]
)
def test_band_boundaries_are_inclusive_lower_bounds(points: int, band: str) -> None:
    assert decide(np.array([points]), SCORING).tolist() == [band]


def test_calibration_is_an_affine_map_of_the_logit() -> None:
    logit = np.array([-2.0, 0.0, 3.0])
    assert calibrated_pd(logit, Calibration()).tolist() == pytest.approx(1 / (1 + np.exp(-logit)))
    platt = calibrated_pd(logit, Calibration(method="platt", a=0.5, b=-1.0))
    assert platt.tolist() == pytest.approx(1 / (1 + np.exp(-(0.5 * logit - 1.0))))
