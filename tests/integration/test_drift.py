"""Live drift against the training reference, through a real predictor's /metrics: a shifted
population (credit amounts halved) pushes that input's PSI over 0.25 while an untouched input
and an unshifted population stay under 0.1."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from credit_model import metric_names as names
from tests.integration.test_audit import artifact  # noqa: F401  (fixture)
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
def test_input_psi_follows_the_population(artifact, tmp_path, shift) -> None:  # noqa: F811
    population = applicants(1000)
    population[SHIFTED] = (population[SHIFTED] * shift).round()  # a whole number, as the spec wants
    p = start_predictor(str(artifact), None, tmp_path)
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
