"""The predictors' decision records on a kept PersistentVolumeClaim (serving.audit)."""

from __future__ import annotations

import pytest

from .support import by_kind, render_ci

pytestmark = pytest.mark.chart


def test_the_predictors_record_every_decision_on_the_audit_claim(tools):
    objects = render_ci("default-values.yaml")
    pvc = next(p for p in by_kind(objects, "PersistentVolumeClaim") if p["metadata"]["name"] == "demo-credit-score-audit")
    assert pvc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    for isvc in by_kind(objects, "InferenceService"):
        pod = isvc["spec"]["predictor"]
        (c,) = pod["containers"]
        env = {e["name"]: e.get("value") for e in c["env"]}
        assert env["AUDIT"] == "true" and env["AUDIT_DIR"] == "/var/lib/credit-score/audit"
        assert {"name": "audit", "mountPath": "/var/lib/credit-score/audit"} in c["volumeMounts"]
        assert {"name": "audit", "persistentVolumeClaim": {"claimName": "demo-credit-score-audit"}} in pod["volumes"]
