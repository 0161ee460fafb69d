"""Per-version figures of a predictor and the maths of comparing two of them.

A `Figures` holds what the predictor exports per model version (kserve_model/metrics.py):
requests by outcome, the request-latency histogram, the score-points histogram, decisions
and rows. Figures subtract (the increase between two scrapes) and add (several pods of one
version). Histograms are kept as Prometheus keeps them: cumulative counts per upper bound `le`.

PSI (population stability index) of canary against stable, over the score buckets:

    PSI = sum_i (c_i - s_i) * ln(c_i / s_i)

with c_i, s_i the shares of canary and stable rows in bucket i. An empty bucket on either
side would make the logarithm infinite: each share is floored at PSI_EPSILON = 1e-4 (0.01 %
of rows) before the sum, without renormalising. So a bucket holding 1 % of one side and
nothing of the other adds 0.01 * ln(100) = 0.046. Rule of thumb: < 0.1 no real shift,
0.1-0.25 moderate, > 0.25 a different population (or a different model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

PSI_EPSILON = 1e-4
INF = math.inf


@dataclass
class Histogram:
    """Cumulative bucket counts by upper bound (the last bound is +Inf), and the sum."""

    buckets: dict[float, float] = field(default_factory=dict)
    sum: float = 0.0

    @property
    def count(self) -> float:
        return self.buckets.get(INF, max(self.buckets.values(), default=0.0))

    def bounds(self) -> list[float]:
        return sorted(self.buckets)

    def per_bucket(self) -> list[tuple[float, float]]:
        """(upper bound, count in that bucket alone), in order of bounds."""
        out, previous = [], 0.0
        for le in self.bounds():
            cumulative = self.buckets[le]
            out.append((le, max(cumulative - previous, 0.0)))
            previous = cumulative
        return out

    def __add__(self, other: Histogram) -> Histogram:
        keys = set(self.buckets) | set(other.buckets)
        return Histogram({k: self.buckets.get(k, 0.0) + other.buckets.get(k, 0.0) for k in keys}, self.sum + other.sum)

    def __sub__(self, other: Histogram) -> Histogram:
        # a counter that went down means the process restarted: then the later value is the increase
        if any(self.buckets.get(k, 0.0) < v for k, v in other.buckets.items()):
            return Histogram(dict(self.buckets), self.sum)
        return Histogram({k: v - other.buckets.get(k, 0.0) for k, v in self.buckets.items()}, self.sum - other.sum)

    def quantile(self, q: float) -> float | None:
        """Like PromQL histogram_quantile: linear inside the bucket; the highest finite bound
        when the rank falls into +Inf; None without observations."""
        total = self.count
        if total <= 0:
            return None
        rank = q * total
        lower, previous = 0.0, 0.0
        finite = [b for b in self.bounds() if b != INF]
        for le in self.bounds():
            cumulative = self.buckets[le]
            if cumulative >= rank:
                if le == INF:
                    return finite[-1] if finite else None
                if cumulative == previous:
                    return le
                return lower + (le - lower) * (rank - previous) / (cumulative - previous)
            lower, previous = le, cumulative
        return finite[-1] if finite else None


def _sub_counts(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    if any(a.get(k, 0.0) < v for k, v in b.items()):
        return dict(a)  # restarted in between
    return {k: v - b.get(k, 0.0) for k, v in a.items()}


def _add_counts(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: a.get(k, 0.0) + b.get(k, 0.0) for k in set(a) | set(b)}


@dataclass
class Figures:
    """What one model version did (cumulative since start, or over a window after subtraction)."""

    requests: dict[str, float] = field(default_factory=dict)
    """Requests by outcome: ok, invalid (HTTP 400), error (HTTP 500)."""
    latency: Histogram = field(default_factory=Histogram)
    """Seconds in the model per successful request (credit_score_request_seconds)."""
    score: Histogram = field(default_factory=Histogram)
    """Score points per row (credit_score_score_points)."""
    decisions: dict[str, float] = field(default_factory=dict)
    rows: float = 0.0
    input_psi: dict[str, float] = field(default_factory=dict)
    """PSI of each input against the version's training reference, over the predictor's drift
    window (a gauge: several pods give the largest, and a later scrape replaces an earlier one)."""

    def __add__(self, other: Figures) -> Figures:
        drift = {k: max(self.input_psi.get(k, 0.0), other.input_psi.get(k, 0.0)) for k in {*self.input_psi, *other.input_psi}}
        return Figures(_add_counts(self.requests, other.requests), self.latency + other.latency,
                       self.score + other.score, _add_counts(self.decisions, other.decisions), self.rows + other.rows,
                       drift)

    def __sub__(self, other: Figures) -> Figures:
        return Figures(_sub_counts(self.requests, other.requests), self.latency - other.latency,
                       self.score - other.score, _sub_counts(self.decisions, other.decisions),
                       self.rows - other.rows if self.rows >= other.rows else self.rows, dict(self.input_psi))

    @property
    def total_requests(self) -> float:
        return sum(self.requests.values())

    def rate(self, outcome: str) -> float | None:
        total = self.total_requests
        return self.requests.get(outcome, 0.0) / total if total else None

    @property
    def p99(self) -> float | None:
        return self.latency.quantile(0.99)

    def summary(self) -> dict:
        return {
            "requests": round(self.total_requests),
            "ok": round(self.requests.get("ok", 0.0)),
            "invalid": round(self.requests.get("invalid", 0.0)),
            "errors": round(self.requests.get("error", 0.0)),
            "error_rate": self.rate("error"),
            "invalid_rate": self.rate("invalid"),
            "p99_seconds": self.p99,
            "rows": round(self.rows),
            "mean_score": self.score.sum / self.score.count if self.score.count else None,
            "decisions": {k: round(v) for k, v in sorted(self.decisions.items())},
            "max_input_psi": max(self.input_psi.values(), default=None),
            "max_input_psi_feature": max(self.input_psi, key=self.input_psi.get) if self.input_psi else None,
        }


def psi(stable: Histogram, canary: Histogram, epsilon: float = PSI_EPSILON) -> float | None:
    """Population stability index of canary against stable (see the module docstring);
    None when either side has no observations."""
    s_total, c_total = stable.count, canary.count
    if s_total <= 0 or c_total <= 0:
        return None
    s_counts, c_counts = dict(stable.per_bucket()), dict(canary.per_bucket())
    value = 0.0
    for le in sorted(set(s_counts) | set(c_counts)):
        s = max(s_counts.get(le, 0.0) / s_total, epsilon)
        c = max(c_counts.get(le, 0.0) / c_total, epsilon)
        value += (c - s) * math.log(c / s)
    return value
