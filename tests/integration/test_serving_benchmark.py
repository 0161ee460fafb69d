"""The serving benchmark (benchmarks/serving.py) runs end to end, cheaply: its figures are
produced by real servers and its last line is the JSON the issue asks for."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.benchmark, pytest.mark.slow]

V2_KEYS = ("rest_p50_ms", "rest_p99_ms", "grpc_p50_ms", "grpc_p99_ms", "wrk_rps", "batch10k_ms", "ready_s")


def test_serving_benchmark_prints_every_figure() -> None:
    done = subprocess.run([sys.executable, "-m", "benchmarks.serving", "--requests", "30", "--wrk-seconds", "1",
                           "--connections", "2"], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) == {"ours", "no_audit", "ceiling", "mlflow", "ratios"}
    have_wrk = shutil.which("wrk") is not None
    for name in ("ours", "no_audit", "ceiling", "mlflow"):
        assert set(result[name]) == set(V2_KEYS), name
        for key, value in result[name].items():
            if name == "mlflow" and key.startswith("grpc"):
                assert value is None  # mlflow models serve has no gRPC
            elif key == "wrk_rps" and not have_wrk:
                assert value is None
            else:
                assert isinstance(value, float) and math.isfinite(value) and value > 0, (name, key, value)
        assert result[name]["rest_p50_ms"] <= result[name]["rest_p99_ms"]
    if have_wrk:
        assert result["ratios"]["rps_vs_ceiling"] == pytest.approx(result["ours"]["wrk_rps"] / result["ceiling"]["wrk_rps"])
        assert result["ratios"]["rps_vs_mlflow"] == pytest.approx(result["ours"]["wrk_rps"] / result["mlflow"]["wrk_rps"])
        assert result["ratios"]["rps_audit_vs_off"] == pytest.approx(result["ours"]["wrk_rps"] / result["no_audit"]["wrk_rps"])
    assert result["ratios"]["rest_p99_audit_minus_off_ms"] == pytest.approx(
        result["ours"]["rest_p99_ms"] - result["no_audit"]["rest_p99_ms"])
    assert any("ours/ceiling" in line for line in lines), "the human-readable summary line is missing"
    assert any("auditing: throughput on/off" in line for line in lines)
