"""Paired per-fold comparison of two models scored on the same folds.

Folds of one cross-validation share training rows, so their differences are not independent
and a plain paired t-test is too confident. Beside it we report Nadeau and Bengio's corrected
resampled t-test (Machine Learning 52, 2003; the variance inflated by n_test / n_train), the
usual test for repeated k-fold comparisons, and the Wilcoxon signed-rank test.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def corrected_t_test(d: np.ndarray, test_over_train: float) -> tuple[float, float]:
    """(t, two-sided p) of Nadeau and Bengio's corrected resampled t-test on differences `d`."""
    from scipy import stats

    j = len(d)
    var = float(np.var(d, ddof=1)) if j > 1 else 0.0
    if var == 0.0:
        return (math.inf if d.mean() else 0.0), (0.0 if d.mean() else 1.0)
    t = float(d.mean()) / math.sqrt((1.0 / j + test_over_train) * var)
    return t, float(2 * stats.t.sf(abs(t), df=j - 1))


def compare(ours: Sequence[float], theirs: Sequence[float], test_over_train: float,
            higher_is_better: bool = True) -> dict[str, float]:
    """Differences ours − theirs over the folds: mean, SD, folds won, and three p-values."""
    from scipy import stats

    a, b = np.asarray(ours, dtype=np.float64), np.asarray(theirs, dtype=np.float64)
    if a.shape != b.shape or a.size < 2:
        raise ValueError(f"need the same folds (at least 2) for both models, got {a.size} and {b.size}")
    d = a - b
    better = d > 0 if higher_is_better else d < 0
    t, p = corrected_t_test(d, test_over_train)
    nonzero = d[d != 0]
    return {
        "diff_mean": float(d.mean()),
        "diff_std": float(d.std(ddof=1)),
        "wins": int(better.sum()),
        "folds": int(d.size),
        "t_corrected": t,
        "p_corrected": p,
        "p_paired_t": float(stats.ttest_rel(a, b).pvalue) if d.std() else p,
        "p_wilcoxon": float(stats.wilcoxon(nonzero).pvalue) if nonzero.size else 1.0,
    }
