"""GitHub Actions workflows: actionlint-clean, actions pinned to exact versions, Python 3.11,
and each workflow runs what it claims (the tiers of `make test`; scripts/e2e-kind.sh)."""

from __future__ import annotations

import json
import re
import subprocess

import pytest
import yaml

from tests.chart.support import REPO

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.y*ml"))
EXACT = re.compile(r"^[^@\s]+@(v\d+\.\d+\.\d+|[0-9a-f]{40})$")


def load(path):
    return yaml.safe_load(path.read_text())


def steps(workflow):
    for job in workflow["jobs"].values():
        yield from job.get("steps", [])


def test_the_two_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} >= {"ci.yaml", "e2e-kind.yaml"}


def test_actionlint_is_clean(actionlint) -> None:
    proc = subprocess.run([*actionlint, *map(str, WORKFLOWS)], capture_output=True, text=True, timeout=120)
    assert proc.returncode in (0, 1), proc.stderr
    reports = [json.loads(line) for line in proc.stdout.splitlines()]
    assert {r["file"] for r in reports} == set(map(str, WORKFLOWS))
    errors = [f"{r['file']}:{e['line']}:{e['column']}: {e['message']} [{e['kind']}]" for r in reports for e in r["errors"]]
    assert not errors, "\n".join(errors)


def test_actionlint_catches_a_broken_workflow(actionlint, tmp_path) -> None:
    """The linter really lints: an undefined context property and a bad runner label fail."""
    bad = tmp_path / "bad.yaml"
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-lastest\n    steps:\n      - run: echo ${{ github.nope }}\n")
    proc = subprocess.run([*actionlint, str(bad)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    kinds = {e["kind"] for e in json.loads(proc.stdout)["errors"]}
    assert {"expression", "runner-label"} <= kinds, proc.stdout


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_actions_are_pinned_to_exact_versions(path) -> None:
    uses = [s["uses"] for s in steps(load(path)) if "uses" in s]
    assert uses
    loose = [u for u in uses if not EXACT.match(u)]
    assert not loose, f"{path.name}: pin to an exact tag (v1.2.3) or a commit SHA: {loose}"


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_python_is_3_11(path) -> None:
    versions = [s["with"]["python-version"] for s in steps(load(path)) if s.get("uses", "").startswith("actions/setup-python@")]
    assert versions and set(versions) == {"3.11"}, versions


def test_ci_runs_every_tier_of_make_test() -> None:
    wf = load(REPO / ".github" / "workflows" / "ci.yaml")
    runs = "\n".join(s.get("run", "") for s in steps(wf))
    for command in ("make test-unit", "make test-chart", "make test-containers", '-m "integration and not slow"',
                    "pytest tests/ci", "scripts/fetch-node-tools.sh"):
        assert command in runs, f"ci.yaml does not run {command!r}"
    makefile = (REPO / "Makefile").read_text()
    for target in ("test-unit", "test-chart", "test-containers", "venv"):
        assert re.search(rf"^{target}:", makefile, re.M), f"Makefile has no {target} target"


def test_e2e_workflow_runs_the_script_with_the_pinned_kind() -> None:
    wf = load(REPO / ".github" / "workflows" / "e2e-kind.yaml")
    all_steps = list(steps(wf))
    assert any(s.get("run", "").strip() == "scripts/e2e-kind.sh" for s in all_steps)
    pins = dict(line.split("=", 1) for line in (REPO / "manifests" / "versions.env").read_text().splitlines()
                if line and not line.startswith("#"))
    kind = next(s for s in all_steps if s.get("uses", "").startswith("helm/kind-action@"))
    assert kind["with"]["version"] == pins["KIND_VERSION"]
    assert kind["with"]["install_only"] is True
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") and "failure()" in s.get("if", "") for s in all_steps)
