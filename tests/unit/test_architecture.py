"""The import contracts of pyproject.toml ([tool.importlinter]) hold: training and serving never
import each other, and the contract package imports neither them nor torch/kserve/mlflow."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "3 kept, 0 broken" in proc.stdout


def test_the_contract_package_loads_without_training_or_serving_stacks() -> None:
    # a fresh interpreter: importing every contract module pulls in none of the heavy stacks
    code = ("import sys, credit_model.artifact, credit_model.engine, credit_model.frames, credit_model.model_uri, "
            "credit_model.metric_names, credit_model.scoring, credit_model.transform; "
            "print(sorted(m for m in ('torch', 'kserve', 'mlflow', 'pandas', 'sklearn', 'training_job', 'kserve_model') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
