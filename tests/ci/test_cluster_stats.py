"""The binomial intervals the canary test judges the observed split with."""

from __future__ import annotations

import pytest
from scipy.stats import binom, binomtest

from tests.cluster.stats import acceptance_region, clopper_pearson, share_consistent, wilson


@pytest.mark.parametrize("k", [0, 1, 73, 100, 128, 499, 500])
def test_clopper_pearson_matches_scipy_exact(k: int) -> None:
    ci = binomtest(k, 500, 0.2).proportion_ci(confidence_level=0.999, method="exact")
    assert clopper_pearson(k, 500, 0.999) == pytest.approx((ci.low, ci.high), abs=1e-9)


@pytest.mark.parametrize("k", [1, 100, 250, 499])
def test_wilson_matches_scipy(k: int) -> None:
    ci = binomtest(k, 500).proportion_ci(confidence_level=0.999, method="wilson")
    assert wilson(k, 500, 0.999) == pytest.approx((ci.low, ci.high), abs=1e-9)


def test_acceptance_region_of_a_20_percent_canary_over_500_requests() -> None:
    lo, hi = acceptance_region(500, 0.2, 0.999)
    assert lo < 100 < hi
    assert binom.cdf(hi, 500, 0.2) - binom.cdf(lo - 1, 500, 0.2) >= 0.999
    # equal tails of at most 0.0005 each outside the region
    assert binom.cdf(lo - 1, 500, 0.2) <= 0.0005 and binom.sf(hi, 500, 0.2) <= 0.0005


def test_share_consistent_accepts_a_fair_split_and_rejects_a_wrong_one() -> None:
    assert share_consistent(100, 500, 0.2)
    assert share_consistent(82, 500, 0.2)
    assert not share_consistent(150, 500, 0.2)   # 30%: not a 20% split
    assert not share_consistent(50, 500, 0.2)    # 10%
    with pytest.raises(ValueError):
        clopper_pearson(501, 500)
