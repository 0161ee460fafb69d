"""Invalid values fail `helm template` (and `helm install`) with a readable message.

Each file in tests/chart/invalid/ starts with `# expect: <text>`: the text that must appear in
helm's error. Schema violations come from values.schema.json; cross-field rules from
templates/_validate.tpl, which holds every `fail` of the chart."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from .support import CHART, INVALID_DIR, helm, template_args

pytestmark = pytest.mark.chart

INVALID = sorted(INVALID_DIR.glob("*.yaml"))


def expected_message(path: Path) -> str:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# expect: "), f"{path.name}: first line must be '# expect: <message>'"
    return first.removeprefix("# expect: ").strip()


def test_there_are_invalid_cases():
    assert len(INVALID) >= 40


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_values_fail_with_the_expected_message(tools, path: Path):
    proc = helm(*template_args((path,)), check=False)
    assert proc.returncode != 0, f"{path.name} rendered without error"
    assert expected_message(path) in proc.stderr, proc.stderr


def test_install_rejects_invalid_values_too(tools):
    proc = helm("install", "demo", str(CHART), "--dry-run=client", "--namespace", "credit",
                "--values", str(INVALID_DIR / "traffic-percent-150.yaml"), check=False)
    assert proc.returncode != 0
    assert "maximum: got 150, want 100" in proc.stderr


def test_ci_values_stay_valid_and_separate():
    """Invalid cases live here, never in ci/ (chart-testing installs every ci/*-values.yaml)."""
    assert not list((CHART / "ci").glob("*invalid*"))


def test_every_fail_of_the_chart_is_in_validate_tpl():
    elsewhere = [f"{path.relative_to(CHART)}:{n}" for path in sorted((CHART / "templates").rglob("*"))
                 if path.is_file() and path.name != "_validate.tpl"
                 for n, line in enumerate(path.read_text().splitlines(), 1) if re.search(r"\bfail\b\s*[(\"]", line)]
    assert elsewhere == []
