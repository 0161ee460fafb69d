"""Prometheus text exposition (a predictor's /metrics page) -> Figures per model version.

Parsing is prometheus_client's own parser; this module only picks our series
(kserve_model/metrics.py) and groups them by (model_name, model_version).
"""

from __future__ import annotations

import math

from prometheus_client.parser import text_string_to_metric_families

from credit_model import metric_names as names
from rollout.figures import Figures

REQUESTS = names.total(names.REQUESTS)
LATENCY = names.LATENCY
SCORE = names.SCORE
DECISIONS = names.total(names.DECISIONS)
ROWS = names.total(names.ROWS)

Key = tuple[str, str]
"""(model_name, model_version)"""


def parse_le(value: str) -> float:
    return math.inf if value in {"+Inf", "Inf", "inf"} else float(value)


def parse_metrics(text: str) -> dict[Key, Figures]:
    """Our series in a /metrics page, by (model_name, model_version). Other series are ignored."""
    out: dict[Key, Figures] = {}

    def fig(labels: dict[str, str]) -> Figures:
        key = (labels.get(names.MODEL_NAME_LABEL, ""), labels.get(names.MODEL_VERSION_LABEL, ""))
        return out.setdefault(key, Figures())

    for family in text_string_to_metric_families(text):
        for s in family.samples:
            name, labels, value = s.name, s.labels, float(s.value)
            if names.MODEL_VERSION_LABEL not in labels:
                continue
            if name == REQUESTS:
                f = fig(labels)
                f.requests[labels.get(names.OUTCOME_LABEL, "")] = f.requests.get(labels.get(names.OUTCOME_LABEL, ""), 0.0) + value
            elif name == DECISIONS:
                f = fig(labels)
                f.decisions[labels.get(names.DECISION_LABEL, "")] = f.decisions.get(labels.get(names.DECISION_LABEL, ""), 0.0) + value
            elif name == ROWS:
                fig(labels).rows += value
            elif name == names.INPUT_PSI:
                f, feature = fig(labels), labels.get(names.FEATURE_LABEL, "")
                f.input_psi[feature] = max(f.input_psi.get(feature, 0.0), value)
            elif name in (f"{LATENCY}_bucket", f"{SCORE}_bucket"):
                hist = fig(labels).latency if name.startswith(LATENCY) else fig(labels).score
                le = parse_le(labels[names.BUCKET_LABEL])
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
