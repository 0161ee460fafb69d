"""Names of the predictor's Prometheus series and their labels: the predictor exports them
(kserve_model/metrics.py) and a canary analysis reads them (rollout/promtext.py, PromQL in
rollout/analysis.py). Counter names are given without the `_total` the exposition adds."""

from __future__ import annotations

MODEL_NAME_LABEL = "model_name"
MODEL_VERSION_LABEL = "model_version"
LABELS = (MODEL_NAME_LABEL, MODEL_VERSION_LABEL)
DECISION_LABEL = "decision"
OUTCOME_LABEL = "outcome"
INPUT_LABEL = "input"
BUCKET_LABEL = "le"
FEATURE_LABEL = "feature"

DECISIONS = "credit_score_decisions"
ROWS = "credit_score_rows"
REQUEST_ERRORS = "credit_score_request_errors"
REQUESTS = "credit_score_requests"
LATENCY = "credit_score_request_seconds"
SCORE = "credit_score_score_points"
PD = "credit_score_probability_of_default"
MODEL_INFO = "credit_score_model_info"
# the decision record: commits (fsyncs) and rows committed; rows per commit is the group size
AUDIT_COMMITS = "credit_score_audit_commits"
AUDIT_ROWS = "credit_score_audit_rows"
# drift against the training reference (gauges over the predictor's drift window)
INPUT_PSI = "credit_score_input_psi"
SCORE_DRIFT_PSI = "credit_score_score_drift_psi"
DRIFT_ROWS = "credit_score_drift_window_rows"


def total(counter: str) -> str:
    """A counter's sample name in the text exposition."""
    return f"{counter}_total"
