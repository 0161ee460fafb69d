"""The paired fold-by-fold comparison of benchmarks/paired.py against scipy's own tests."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from benchmarks.paired import compare, corrected_t_test

OURS = [0.870, 0.868, 0.865, 0.871, 0.866]
THEIRS = [0.868, 0.867, 0.866, 0.869, 0.864]


def test_differences_and_wins() -> None:
    r = compare(OURS, THEIRS, test_over_train=0.25)
    d = np.subtract(OURS, THEIRS)
    assert r["diff_mean"] == pytest.approx(d.mean())
    assert r["diff_std"] == pytest.approx(d.std(ddof=1))
    assert (r["wins"], r["folds"]) == (4, 5)
    assert r["p_paired_t"] == pytest.approx(stats.ttest_rel(OURS, THEIRS).pvalue)
    assert r["p_wilcoxon"] == pytest.approx(stats.wilcoxon(d).pvalue)


def test_lower_is_better_counts_the_other_way() -> None:
    r = compare(OURS, THEIRS, test_over_train=0.25, higher_is_better=False)
    assert r["wins"] == 1


def test_the_correction_only_widens() -> None:
    d = np.subtract(OURS, THEIRS)
    t0, p0 = corrected_t_test(d, 0.0)
    assert t0 == pytest.approx(stats.ttest_rel(OURS, THEIRS).statistic)  # no overlap: the plain paired t
    t, p = corrected_t_test(d, 0.25)
    assert abs(t) < abs(t0) and p > p0
    assert t == pytest.approx(t0 / np.sqrt(1 + 5 * 0.25))


def test_unequal_folds_are_refused() -> None:
    with pytest.raises(ValueError, match="same folds"):
        compare(OURS, THEIRS[:4], 0.25)
