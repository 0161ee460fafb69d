"""The serving benchmark (benchmarks/serving.py) runs end to end, cheaply: its figures are
produced by real servers (ours, the echo ceiling, MLServer, `mlflow models serve`) and its last
line is the JSON the issue asks for."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.integration, pytest.mark.benchmark, pytest.mark.slow]

V2_KEYS = ("rest_p50_ms", "rest_p99_ms", "grpc_p50_ms", "grpc_p99_ms", "wrk_rps", "batch1k_ms", "batch10k_ms",
           "ready_s")
SERVERS = ("ours", "no_audit", "ceiling", "mlserver", "mlflow")
RATIOS = {"rps_vs_ceiling": ("wrk_rps", "ceiling"), "rps_vs_mlserver": ("wrk_rps", "mlserver"),
          "rps_vs_mlflow": ("wrk_rps", "mlflow"), "rps_audit_vs_off": ("wrk_rps", "no_audit"),
          "rest_p50_vs_mlserver": ("rest_p50_ms", "mlserver"), "rest_p99_vs_mlserver": ("rest_p99_ms", "mlserver"),
          "batch1k_vs_mlserver": ("batch1k_ms", "mlserver")}


def install(script: str) -> str:
    """What `make bench` runs first; a failure here is the test's failure, not a skip."""
    done = subprocess.run(["bash", f"scripts/{script}"], capture_output=True, text=True, cwd=REPO, timeout=1500)
    assert done.returncode == 0, f"{script}: {done.stderr[-3000:]}"
    return done.stdout.strip().splitlines()[-1]


def test_serving_benchmark_prints_every_figure() -> None:
    install("install-wrk.sh")
    install("mlserver-venv.sh")
    done = subprocess.run([sys.executable, "-m", "benchmarks.serving", "--requests", "30", "--wrk-seconds", "1",
                           "--connections", "2"], capture_output=True, text=True, cwd=REPO, timeout=1500)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    result = json.loads(lines[-1])
    assert set(result) == {*SERVERS, "ratios"}
    for name in SERVERS:
        assert set(result[name]) == set(V2_KEYS), name
        for key, value in result[name].items():
            if name == "mlflow" and key.startswith("grpc"):
                assert value is None  # mlflow models serve has no gRPC
            else:
                assert isinstance(value, float) and math.isfinite(value) and value > 0, (name, key, value)
        assert result[name]["rest_p50_ms"] <= result[name]["rest_p99_ms"]
    for ratio, (key, peer) in RATIOS.items():
        assert result["ratios"][ratio] == pytest.approx(result["ours"][key] / result[peer][key]), ratio
    assert result["ratios"]["rest_p99_audit_minus_off_ms"] == pytest.approx(
        result["ours"]["rest_p99_ms"] - result["no_audit"]["rest_p99_ms"])
    assert any("ours/ceiling" in line and "ours/mlserver" in line for line in lines), "the summary line is missing"
    assert any("latency ours/mlserver" in line for line in lines)
    assert any("auditing: throughput on/off" in line for line in lines)
