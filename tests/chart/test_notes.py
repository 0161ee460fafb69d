"""NOTES.txt tells how to call the endpoint, promote and roll back, in every rollout mode."""

from __future__ import annotations

import pytest

from .support import CHART, CI_DIR, NAMESPACE, RELEASE, helm

pytestmark = pytest.mark.chart


def notes(values: str) -> str:
    out = helm("install", RELEASE, str(CHART), "--dry-run=client", "--namespace", NAMESPACE,
               "--values", str(CI_DIR / values)).stdout
    assert "NOTES:" in out
    return out.split("NOTES:", 1)[1]


@pytest.mark.parametrize("values", ["default-values.yaml", "knative-canary-10-values.yaml", "gateway-canary-10-values.yaml"])
def test_notes_explain_calling_promoting_and_rolling_back(tools, values):
    text = notes(values)
    assert "/v2/models/credit-score/infer" in text and "/v2/health/ready" in text
    assert "helm test demo" in text
    assert "Promote:" in text and "serving.stable.version=<N>" in text
    assert "helm rollback demo" in text
    assert "x-model-version" in text


def test_notes_describe_the_split(tools):
    assert "canary models:/credit-score/2 at 10%" in notes("standard-canary-10-values.yaml")
    assert "previous ready revision" in notes("knative-canary-10-values.yaml")
    assert "shadow: mirrored, stable answers 100%" in notes("gateway-shadow-values.yaml")
    assert "External tracking server:  https://mlflow.example.com" in notes("mlflow-disabled-values.yaml")


def test_notes_point_at_the_trainjob_when_distributed(tools):
    text = notes("training-distributed-values.yaml")
    assert "get trainjobs,jobsets" in text and "2 nodes × 2 ranks" in text
    assert "get jobs" not in text
    assert "get jobs" in notes("default-values.yaml")
