"""Fixtures of the chart tier: the pinned helm/checkov tools and the CRD schemas."""

from __future__ import annotations

import subprocess

import pytest

from .support import CHECKOV, CRD_DIR, FETCH_TOOLS, HELM, tools_supported


def _fetch(target: str) -> None:
    why = tools_supported()
    if why:
        pytest.skip(why)
    proc = subprocess.run(["bash", str(FETCH_TOOLS), target], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"scripts/fetch-tools.sh {target} failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


@pytest.fixture(scope="session")
def tools() -> None:
    """helm (v4) and kubectl in .tools/bin, fetched and checksum-verified on first use."""
    _fetch("helm")
    assert HELM.is_file()


@pytest.fixture(scope="session")
def checkov() -> str:
    """checkov in its own virtual environment .tools/checkov-venv."""
    _fetch("checkov")
    assert CHECKOV.is_file()
    return str(CHECKOV)


@pytest.fixture(scope="session")
def crds() -> None:
    if not CRD_DIR.is_dir():
        pytest.skip(f"CRD schemas not found at {CRD_DIR} (CI clones the repo with shared/ beside it)")
