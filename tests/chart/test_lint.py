"""`helm lint --strict` passes for the defaults and for every values file of the matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from .support import CHART, ci_values_files, helm

pytestmark = pytest.mark.chart


def test_chart_metadata():
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert chart["apiVersion"] == "v2"
    assert chart["appVersion"] == "0.1.0"
    assert chart["kubeVersion"].startswith(">=")
    assert chart["type"] == "application"


def test_lint_strict_defaults(tools):
    proc = helm("lint", "--strict", str(CHART))
    assert "0 chart(s) failed" in proc.stdout, proc.stdout


@pytest.mark.parametrize("values", ci_values_files(), ids=lambda p: p.name)
def test_lint_strict_with_values(tools, values: Path):
    proc = helm("lint", "--strict", str(CHART), "--values", str(values))
    assert "0 chart(s) failed" in proc.stdout, proc.stdout


def test_matrix_covers_the_issue(tools):
    names = {p.name for p in ci_values_files()}
    required = {"default-values.yaml", "gateway-shadow-values.yaml", "postgres-values.yaml", "s3-values.yaml",
                "auth-values.yaml", "mlflow-disabled-values.yaml"}
    required |= {f"{mode}-canary-{pct}-values.yaml" for mode in ("knative", "standard", "gateway") for pct in (0, 10, 100)}
    assert required <= names, sorted(required - names)
