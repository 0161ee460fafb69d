"""Binomial intervals for the canary share (exact Clopper-Pearson and Wilson score)."""

from __future__ import annotations

import math


def clopper_pearson(k: int, n: int, confidence: float = 0.999) -> tuple[float, float]:
    """Exact two-sided interval for a binomial proportion: k successes out of n."""
    from scipy.stats import beta

    if not 0 <= k <= n or n <= 0:
        raise ValueError(f"need 0 <= k <= n and n > 0, got k={k}, n={n}")
    alpha = 1.0 - confidence
    lo = 0.0 if k == 0 else float(beta.ppf(alpha / 2, k, n - k + 1))
    hi = 1.0 if k == n else float(beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lo, hi


def wilson(k: int, n: int, confidence: float = 0.999) -> tuple[float, float]:
    """Wilson score interval (a cross-check of the exact one)."""
    from scipy.stats import norm

    z = float(norm.ppf(1 - (1 - confidence) / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def acceptance_region(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    """Counts k that a Binomial(n, p) produces with probability >= confidence (equal tails):
    the observed canary count must fall inside when the split really is p."""
    from scipy.stats import binom

    alpha = 1.0 - confidence
    return int(binom.ppf(alpha / 2, n, p)), int(binom.isf(alpha / 2, n, p))


def share_consistent(k: int, n: int, p: float, confidence: float = 0.999) -> bool:
    lo, hi = clopper_pearson(k, n, confidence)
    return lo <= p <= hi
