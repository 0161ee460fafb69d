"""Cluster tier: runs only against a reachable kind cluster with the release installed by
scripts/e2e-kind.sh; everywhere else every test skips with the reason "no Kubernetes cluster".
E2E_REQUIRE_CLUSTER=1 (set by the script) turns that skip into a failure."""

from __future__ import annotations

import os

import pytest

from .kube import Cluster, cluster_unavailable, settings


@pytest.fixture(scope="session")
def cluster() -> Cluster:
    why = cluster_unavailable()
    if why:
        if os.environ.get("E2E_REQUIRE_CLUSTER") == "1":
            pytest.fail(why)
        pytest.skip(why)
    c = Cluster(settings())
    status = c.helm("status", c.s.release, check=False)
    if status.returncode != 0:
        pytest.fail(f"release {c.s.release!r} is not installed in namespace {c.s.namespace!r}: "
                    f"scripts/e2e-kind.sh installs it ({status.stderr.strip()[:300]})")
    return c


@pytest.fixture(autouse=True)
def _needs_cluster(cluster: Cluster) -> None:
    """Every test of this folder needs the cluster (and so skips together without one)."""
