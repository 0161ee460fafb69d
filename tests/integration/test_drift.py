"""Live drift against the training reference, through a real predictor's /metrics: a shifted
population (credit amounts halved) pushes that input's PSI over 0.25 while an untouched input
and an unshifted population stay under 0.1; the offline report from the audit records
(`python -m audit drift`) gives the same numbers."""

from __future__ import annotations

import csv
import subprocess
import sys

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from credit_model import metric_names as names
from tests.integration.test_serving import applicants
from tests.procs import start_predictor, stop, v2_inputs, wait_http

pytestmark = pytest.mark.integration
SHIFTED, UNTOUCHED = "credit_amount", "age_in_years"


def input_psi(url: str) -> tuple[dict[str, float], float]:
    text = httpx.get(f"{url}/metrics", timeout=10).text
    psis, rows = {}, 0.0
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.name == names.INPUT_PSI:
                psis[s.labels[names.FEATURE_LABEL]] = s.value
            elif s.name == names.DRIFT_ROWS:
                rows = s.value
    return psis, rows


@pytest.mark.parametrize("shift", [1.0, 0.5])
def test_input_psi_follows_the_population(artifact, tmp_path, shift) -> None:
    population = applicants(1000)
    population[SHIFTED] = (population[SHIFTED] * shift).round()  # a whole number, as the spec wants
    p = start_predictor(str(artifact), None, tmp_path, "--audit-inputs", "true")
    try:
        wait_http(f"{p.http}/v2/models/credit-score/ready", 90, p.proc)
        for start in range(0, len(population), 100):
            r = httpx.post(f"{p.http}/v2/models/credit-score/infer",
                           json={"inputs": v2_inputs(population.iloc[start:start + 100])}, timeout=30)
            assert r.status_code == 200, r.text
        psis, rows = input_psi(p.http)
    finally:
        stop(p.proc)
    print(f"\ncredit_amount x{shift}: PSI {SHIFTED} {psis[SHIFTED]:.3f}, {UNTOUCHED} {psis[UNTOUCHED]:.3f} over {rows:.0f} rows")
    assert rows == len(population)
    assert psis[UNTOUCHED] < 0.1
    if shift == 1.0:
        assert max(psis.values()) < 0.1, psis
    else:
        assert psis[SHIFTED] > 0.25
    report = subprocess.run([sys.executable, "-m", "audit", "drift", "--dir", str(tmp_path / "audit"),
                             "--artifact", str(artifact), "--out", str(tmp_path / "report")],
                            capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    with (tmp_path / "report" / "drift.csv").open() as f:
        offline = {row["name"]: float(row["psi"]) for row in csv.DictReader(f)}
    assert offline.keys() == {*psis, "score"}
    assert {k: round(offline[k], 5) for k in psis} == {k: round(v, 5) for k, v in psis.items()}  # same bins, same numbers
    assert (tmp_path / "report" / "drift.png").stat().st_size > 0


def test_the_offline_report_needs_recorded_inputs(artifact, tmp_path) -> None:
    p = start_predictor(str(artifact), None, tmp_path)  # inputs hashed only, the default
    try:
        wait_http(f"{p.http}/v2/models/credit-score/ready", 90, p.proc)
        r = httpx.post(f"{p.http}/v2/models/credit-score/infer", json={"inputs": v2_inputs(applicants(3))}, timeout=30)
        assert r.status_code == 200
    finally:
        stop(p.proc)
    report = subprocess.run([sys.executable, "-m", "audit", "drift", "--dir", str(tmp_path / "audit"),
                             "--artifact", str(artifact)], capture_output=True, text=True, timeout=120)
    assert report.returncode == 2 and "AUDIT_INPUTS=true" in report.stderr and "3 hold input hashes only" in report.stderr
