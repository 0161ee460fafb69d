"""Prometheus text exposition (a predictor's /metrics page) -> Figures per model version.

Parsing is prometheus_client's own parser; this module only picks our series
(kserve_model/metrics.py) and groups them by (model_name, model_version).
"""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from rollout.figures import Figures

REQUESTS = "credit_score_requests_total"
LATENCY = "credit_score_request_seconds"
SCORE = "credit_score_score_points"
DECISIONS = "credit_score_decisions_total"
ROWS = "credit_score_rows_total"

Key = tuple[str, str]
"""(model_name, model_version)"""


def parse_le(value: str) -> float:
    return math.inf if value in {"+Inf", "Inf", "inf"} else float(value)


def parse_metrics(text: str) -> dict[Key, Figures]:
    """Our series in a /metrics page, by (model_name, model_version). Other series are ignored."""
    out: dict[Key, Figures] = {}

    def fig(labels: dict[str, str]) -> Figures:
        key = (labels.get("model_name", ""), labels.get("model_version", ""))
        return out.setdefault(key, Figures())

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            name, labels, value = s.name, s.labels, float(s.value)
            if "model_version" not in labels:
                continue
            if name == REQUESTS:
                f = fig(labels)
                f.requests[labels.get("outcome", "")] = f.requests.get(labels.get("outcome", ""), 0.0) + value
            elif name == DECISIONS:
                f = fig(labels)
                f.decisions[labels.get("decision", "")] = f.decisions.get(labels.get("decision", ""), 0.0) + value
            elif name == ROWS:
                fig(labels).rows += value
            elif name in (f"{LATENCY}_bucket", f"{SCORE}_bucket"):
                hist = fig(labels).latency if name.startswith(LATENCY) else fig(labels).score
                le = parse_le(labels["le"])
                hist.buckets[le] = hist.buckets.get(le, 0.0) + value
            elif name in (f"{LATENCY}_sum", f"{SCORE}_sum"):
                hist = fig(labels).latency if name.startswith(LATENCY) else fig(labels).score
                hist.sum += value
    return out


def select(figures: dict[Key, Figures], model_name: str | None = None, version: str | None = None) -> Figures:
    """The sum of the matching series (all of them when name and version are None)."""
    total = Figures()
    for (name, ver), f in figures.items():
        if (model_name is None or name == model_name) and (version is None or ver == version):
            total = total + f
    return total
