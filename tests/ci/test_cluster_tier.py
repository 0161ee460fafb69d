"""The cluster tier is collected by `pytest -m cluster` and, without a cluster, every test of
it skips with the reason "no Kubernetes cluster" (never passes, never errors)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.chart.support import REPO
from tests.cluster.kube import NO_CLUSTER, cluster_unavailable

CLUSTER_TESTS = ("canary_share", "promotion", "rollback", "shadow", "grpc_infer", "rest_infer", "helm_test")


def pytest_run(*args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "E2E_REQUIRE_CLUSTER"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *args],
                          cwd=REPO, capture_output=True, text=True, timeout=120, env=env)


def test_marker_collects_the_cluster_tests() -> None:
    # tests/ci beside tests/cluster: the marker selects the cluster tests and nothing else
    # (collecting the whole suite imports torch and takes ~40 s on two cores).
    proc = pytest_run("-m", "cluster", "--collect-only", "-q", "tests/cluster", "tests/ci")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ids = [line for line in proc.stdout.splitlines() if "::" in line]
    assert ids and all(i.startswith("tests/cluster/") for i in ids), ids
    for name in CLUSTER_TESTS:
        assert any(name in i for i in ids), f"no cluster test about {name}: {ids}"


def test_without_a_cluster_every_cluster_test_skips_with_the_reason() -> None:
    if cluster_unavailable() is None:
        pytest.skip("a Kubernetes cluster is reachable here: the cluster tier runs for real")
    proc = pytest_run("-m", "cluster", "tests/cluster", "-rs", "-q")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = proc.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"=*\s*\d+ skipped in [\d.]+s\s*=*", summary), summary
    reasons = [line for line in proc.stdout.splitlines() if line.startswith("SKIPPED")]
    assert reasons and all(f": {NO_CLUSTER}" in r for r in reasons), reasons
