"""PSI, histogram quantiles and the arithmetic of figures between scrapes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rollout.figures import INF, PSI_EPSILON, Figures, Histogram, psi


def hist(per_bucket: dict[float, float], total_sum: float = 0.0) -> Histogram:
    """From counts per bucket (not cumulative) to a Prometheus-style cumulative histogram."""
    cumulative, running = {}, 0.0
    for le in sorted(per_bucket):
        running += per_bucket[le]
        cumulative[le] = running
    return Histogram(cumulative, total_sum)


def test_psi_of_identical_distributions_is_zero_whatever_the_scale() -> None:
    a = hist({500: 10, 520: 30, 540: 60, INF: 0})
    b = hist({500: 100, 520: 300, 540: 600, INF: 0})
    assert psi(a, b) == pytest.approx(0.0, abs=1e-12)


def test_psi_matches_the_textbook_formula() -> None:
    stable = hist({1: 25, 2: 25, 3: 25, 4: 25})
    canary = hist({1: 10, 2: 20, 3: 30, 4: 40})
    s, c = np.array([0.25] * 4), np.array([0.1, 0.2, 0.3, 0.4])
    assert psi(stable, canary) == pytest.approx(float(np.sum((c - s) * np.log(c / s))))
    assert psi(stable, canary) == pytest.approx(0.2282, abs=1e-4)


def test_psi_is_symmetric_in_its_arguments() -> None:
    a, b = hist({1: 5, 2: 50, 3: 45}), hist({1: 30, 2: 30, 3: 40})
    assert psi(a, b) == pytest.approx(psi(b, a))


def test_empty_buckets_are_floored_at_epsilon() -> None:
    stable = hist({1: 100, 2: 0})
    canary = hist({1: 99, 2: 1})
    expected = (0.99 - 1.0) * math.log(0.99 / 1.0) + (0.01 - PSI_EPSILON) * math.log(0.01 / PSI_EPSILON)
    assert psi(stable, canary) == pytest.approx(expected)
    assert math.isfinite(psi(hist({1: 100, 2: 0}), hist({1: 0, 2: 100})))


def test_psi_without_observations_is_none() -> None:
    assert psi(Histogram(), hist({1: 3})) is None
    assert psi(hist({1: 3}), hist({1: 0, INF: 0})) is None


def test_psi_of_a_shifted_score_distribution_is_large() -> None:
    rng = np.random.default_rng(0)
    edges = list(np.arange(300, 901, 20, dtype=float)) + [INF]

    def scores(mu: float) -> Histogram:
        values = rng.normal(mu, 40, 5000)
        idx = np.searchsorted(edges, values, side="left")
        return hist(dict(zip(edges, np.bincount(idx, minlength=len(edges)).astype(float))))

    same = psi(scores(560), scores(560))
    shifted = psi(scores(560), scores(600))
    assert same < 0.02
    assert shifted > 0.25


def test_quantile_interpolates_like_histogram_quantile() -> None:
    h = hist({0.001: 0, 0.002: 50, 0.005: 50, INF: 0})
    assert h.quantile(0.5) == pytest.approx(0.002)
    assert h.quantile(0.99) == pytest.approx(0.002 + 0.003 * (99 - 50) / 50)
    assert hist({0.01: 1, INF: 99}).quantile(0.99) == 0.01  # rank in +Inf: the highest finite bound
    assert Histogram().quantile(0.99) is None


def test_figures_subtract_between_scrapes_and_add_across_pods() -> None:
    before = Figures({"ok": 10, "error": 1}, hist({0.01: 10, INF: 0}), hist({500: 4, 520: 6, INF: 0}, 5100), {"approve": 6}, 10)
    after = Figures({"ok": 30, "error": 1, "invalid": 2}, hist({0.01: 25, INF: 5}), hist({500: 10, 520: 20, INF: 0}, 15500),
                    {"approve": 20, "decline": 10}, 30)
    d = after - before
    assert d.requests == {"ok": 20, "error": 0, "invalid": 2}
    assert d.latency.per_bucket() == [(0.01, 15), (INF, 5)]
    assert d.score.count == 20 and d.score.sum == pytest.approx(10400)
    assert d.decisions == {"approve": 14, "decline": 10}
    assert d.rows == 20
    assert d.total_requests == 22 and d.rate("invalid") == pytest.approx(2 / 22)
    both = d + d
    assert both.requests["ok"] == 40 and both.score.count == 40


def test_a_restarted_process_counts_from_zero() -> None:
    before = Figures({"ok": 100}, rows=100)
    after = Figures({"ok": 7}, rows=7)
    d = after - before
    assert d.requests == {"ok": 7} and d.rows == 7


def test_summary_reports_rates_and_p99() -> None:
    f = Figures({"ok": 98, "error": 2}, hist({0.002: 90, 0.005: 8, INF: 0}), hist({500: 98}, 49000), {"approve": 98}, 98)
    s = f.summary()
    assert s["requests"] == 100 and s["errors"] == 2 and s["error_rate"] == pytest.approx(0.02)
    assert 0.002 < s["p99_seconds"] <= 0.005
    assert s["mean_score"] == pytest.approx(500)
