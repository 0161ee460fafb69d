"""Drift maths (credit_model/drift.py) and the predictor's sliding window (kserve_model/drift_monitor.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from credit_model.drift import (
    BinnedReference,
    DriftReference,
    bin_indices,
    categorical_reference,
    drift_reference,
    numeric_reference,
    psi,
)
from kserve_model.drift_monitor import SLOTS, DriftWindow


def test_numeric_bins_are_right_closed_with_a_missing_bin() -> None:
    ref = BinnedReference(name="x", kind="numeric", edges=[1.0, 2.0], shares=[0.25, 0.25, 0.25, 0.25])
    assert bin_indices(ref, np.array([0.5, 1.0, 1.5, 2.0, 9.0, np.nan])).tolist() == [0, 0, 1, 1, 2, 3]


def test_categorical_bins_have_other_and_missing() -> None:
    ref = BinnedReference(name="c", kind="categorical", categories=["a", "b"], shares=[0.5, 0.5, 0.0, 0.0])
    assert bin_indices(ref, np.array(["b", "a", "zzz", None], dtype=object)).tolist() == [1, 0, 2, 3]


def test_reference_shares_are_the_training_distribution() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=10_000)
    x[:1000] = np.nan
    ref = numeric_reference("x", x)
    assert len(ref.edges) == 9 and ref.n_bins == 11
    assert math.isclose(sum(ref.shares), 1.0) and math.isclose(ref.shares[-1], 0.1)
    assert all(math.isclose(s, 0.09, abs_tol=0.002) for s in ref.shares[:-1])
    cat = categorical_reference("c", np.array(["a", "a", "b", None], dtype=object), ["a", "b"])
    assert cat.shares == [0.5, 0.25, 0.0, 0.25]


def test_a_discrete_input_gets_one_bin_per_repeated_edge() -> None:
    assert numeric_reference("n", np.array([1.0] * 50 + [2.0] * 50)).edges == [1.0, 2.0]


def test_psi_is_zero_on_the_reference_and_large_on_a_shift() -> None:
    rng = np.random.default_rng(1)
    train = rng.lognormal(8, 0.6, size=5000)
    ref = numeric_reference("income", train)
    same = np.bincount(bin_indices(ref, rng.lognormal(8, 0.6, size=5000)), minlength=ref.n_bins)
    halved = np.bincount(bin_indices(ref, rng.lognormal(8, 0.6, size=5000) / 2), minlength=ref.n_bins)
    assert psi(ref.shares, same) < 0.02
    assert psi(ref.shares, halved) > 0.25
    assert psi(ref.shares, np.zeros(ref.n_bins)) is None
    # hand-computed: shares (0.5, 0.5) against counts (3, 1): 0.25 ln(1.5) + (-0.25) ln(0.5)
    assert psi([0.5, 0.5], np.array([3, 1])) == pytest.approx(0.25 * math.log(1.5) - 0.25 * math.log(0.5))


def test_an_input_named_like_the_score_is_refused() -> None:
    with pytest.raises(ValueError, match="score"):
        drift_reference({"score": np.array([1.0])}, {"score": ("numeric", [])}, np.array([600.0]))


def window(clock) -> DriftWindow:
    ref = DriftReference(rows=4, inputs=[BinnedReference(name="x", kind="numeric", edges=[0.0], shares=[0.5, 0.5, 0.0])],
                         score=BinnedReference(name="score", kind="numeric", edges=[600.0], shares=[0.5, 0.5, 0.0]))
    return DriftWindow(ref, window_seconds=SLOTS * 10, clock=clock)


def test_the_window_forgets_rows_older_than_its_length() -> None:
    now = [0.0]
    w = window(lambda: now[0])
    w.observe({"x": np.array([-1.0, 1.0])}, np.array([500.0, 700.0]))
    rows, values = w.stability()
    assert rows == 2 and values["x"] == pytest.approx(0.0) and values["score"] == pytest.approx(0.0)
    now[0] = 60.0
    w.observe({"x": np.array([1.0, 1.0])}, np.array([700.0, 700.0]))
    rows, values = w.stability()
    assert rows == 4 and values["x"] > 0.1
    now[0] = 125.0  # the first slot (t=0) is out of the 120 s window
    rows, values = w.stability()
    assert rows == 2 and values["x"] > 1.0
    now[0] = 500.0
    assert w.stability() == (0, {"x": None, "score": None})
