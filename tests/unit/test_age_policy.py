"""Regulation B 1002.6(b)(2): applicants aged 62+ are never assigned a negative value for age."""

from __future__ import annotations

import numpy as np
import pytest

from credit_model.artifact import FeatureSpec, NumericTransform
from credit_model.transform import encode_numeric
from training_job.age_policy import apply_age_policy, elderly_floor
from training_job.config import AgePolicy
from training_job.features import fit_numeric_transform

AGES = np.arange(19, 76, dtype=np.float64)


def age_feature(baseline: float) -> FeatureSpec:
    transform = fit_numeric_transform(np.repeat(AGES, 3), [])
    return FeatureSpec(name="age", kind="numeric", dtype="int", missing="reject", code="R01", reason="Age",
                       transform=transform, baseline=baseline, numeric_index=0)


@pytest.mark.parametrize("baseline", [35.0, 62.0, 70.0])
def test_every_elderly_age_encodes_as_the_most_favourable_age(baseline: float) -> None:
    before = age_feature(baseline)
    (after,) = apply_age_policy([before], AgePolicy(feature="age"))
    favourable, _ = encode_numeric(np.array([baseline]), before)
    elderly, _ = encode_numeric(np.array([62.0, 63.0, 75.0, 99.0]), after)
    assert np.all(elderly == favourable[0])
    # younger applicants keep their own encoding, so the model is unchanged below 62
    young = AGES[AGES < 62]
    assert np.array_equal(encode_numeric(young, after)[0], encode_numeric(young, before)[0])
    # the baseline itself still encodes as the favourable value: occlusion impact of age is 0 at 62+
    assert encode_numeric(np.array([baseline]), after)[0][0] == favourable[0]


def test_floor_keeps_the_knots_increasing_and_other_features_alone() -> None:
    t = NumericTransform(quantiles=[20.0, 40.0, 60.0, 80.0], normal_scores=[-1.0, 0.0, 1.0, 2.0], fill=0.0)
    floored = elderly_floor(t, favourable=40.0, elderly_from=62)
    assert np.all(np.diff(floored.quantiles) > 0)
    assert floored.normal_scores[-1] == 0.0
    other = age_feature(30.0).model_copy(update={"name": "income"})
    assert apply_age_policy([other], AgePolicy(feature="age")) == [other]
    assert apply_age_policy([other], None) == [other]
