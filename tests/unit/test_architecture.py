"""The architecture as the imports show it: the import contracts of pyproject.toml
([tool.importlinter]) hold (training and serving never import each other; the contract package
imports neither them nor torch/kserve/mlflow), every import is a declared dependency (deptry),
and each package imports only the base dependencies and its own extras."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    proc = subprocess.run([str(lint), "--no-cache"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert "4 kept, 0 broken" in proc.stdout


def test_the_contract_package_loads_without_training_or_serving_stacks() -> None:
    # a fresh interpreter: importing every contract module pulls in none of the heavy stacks
    code = ("import sys, credit_model.artifact, credit_model.engine, credit_model.frames, credit_model.model_uri, "
            "credit_model.metric_names, credit_model.scoring, credit_model.transform, credit_model.audit_record; "
            "print(sorted(m for m in ('torch', 'kserve', 'mlflow', 'pandas', 'sklearn', 'training_job', 'kserve_model') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_every_import_is_a_declared_dependency() -> None:
    deptry = Path(sys.executable).with_name("deptry")
    proc = subprocess.run([str(deptry), "--no-ansi", "."], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]


def test_the_dependency_check_fails_on_an_undeclared_import(tmp_path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "probe"\nversion = "0"\ndependencies = ["numpy"]\n')
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "__init__.py").write_text("import numpy\nimport undeclared_probe_module\n")
    deptry = Path(sys.executable).with_name("deptry")
    proc = subprocess.run([str(deptry), "--no-ansi", "."], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 1 and "DEP001 'undeclared_probe_module' imported but missing" in proc.stderr + proc.stdout, proc.stderr


# Which extras of pyproject.toml each package may import from (beside the base dependencies):
# the images install exactly these (Dockerfile.serve: serve,rollout,web; Dockerfile.train: train,server).
PACKAGE_EXTRAS = {
    "credit_model": [],
    "kserve_model": ["serve"],
    "rollout": ["rollout"],
    "audit": ["audit"],
    "training_job": ["train"],
    "examples/client_web": ["web", "serve"],
}


# MLflow itself executes the pyfunc flavour (never our packages), in an environment that has
# mlflow and pandas by construction.
RUN_BY_MLFLOW = {"credit_model/mlflow_pyfunc.py"}


def imported_top_levels(package: Path) -> set[str]:
    names = set()
    for path in package.rglob("*.py"):
        if path.relative_to(REPO).as_posix() in RUN_BY_MLFLOW:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names.update(a.name.split(".")[0] for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return names


def requirement_name(req: str) -> str:
    return re.sub(r"[-_.]+", "-", re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1)).lower()


@pytest.mark.parametrize("package", list(PACKAGE_EXTRAS))
def test_each_package_imports_only_its_own_extras(package: str) -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    allowed = {requirement_name(r) for r in project["dependencies"]}
    for extra in PACKAGE_EXTRAS[package]:
        allowed |= {requirement_name(r) for r in project["optional-dependencies"][extra]}
    dists = importlib.metadata.packages_distributions()
    first_party = {p.split("/")[0] for p in PACKAGE_EXTRAS}
    undeclared = {}
    for name in imported_top_levels(REPO / package) - set(sys.stdlib_module_names) - first_party:
        owners = {requirement_name(d) for d in dists.get(name, [name])}
        if not owners & allowed:
            undeclared[name] = sorted(owners)
    assert not undeclared, f"{package} imports {undeclared}, not in the base dependencies or extras {PACKAGE_EXTRAS[package]}"


def test_collecting_the_suite_leaves_tritonclients_grpc_importable() -> None:
    # KServe's and tritonclient's v2 protos share the package `inference` in protobuf's default pool:
    # once any module pytest collects has loaded KServe's, every tritonclient.grpc test fails with
    # "duplicate symbol 'inference.ServerLiveRequest'" — only in a full run, never alone
    code = ("import sys, pytest\n"
            "rc = pytest.main(['--collect-only', '-q', '-p', 'no:cacheprovider', 'tests'])\n"
            "assert rc == 0, rc\n"
            "loaded = sorted(m for m in sys.modules if m.startswith('kserve.protocol.grpc'))\n"
            "import tritonclient.grpc  # noqa: F401\n"
            "print('kserve grpc modules loaded by collection:', loaded)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
