"""The soak benchmark (benchmarks/soak.py) runs end to end, briefly: a real predictor under wrk,
valid and invalid requests mixed. Its performance figures are printed, not judged here; what is
judged is what must hold at any speed: every valid request answered 2xx, every invalid one 4xx."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.conftest import QUICK, REPO

pytestmark = [pytest.mark.integration, pytest.mark.benchmark, pytest.mark.slow]


def test_soak_smoke_answers_valid_2xx_and_invalid_4xx() -> None:
    wrk = subprocess.run(["bash", "scripts/install-wrk.sh"], capture_output=True, text=True, cwd=REPO, timeout=900)
    assert wrk.returncode == 0, wrk.stderr[-3000:]
    args = [sys.executable, "-m", "benchmarks.soak", "--seconds", "6", "--windows", "3", "--nominal-seconds", "2",
            "--invalid-share", "0.3"]
    for o in QUICK:
        args += ["--train-set", o]
    done = subprocess.run(args, capture_output=True, text=True, cwd=REPO, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    r = json.loads(lines[-1])
    assert r["offered_rps"] == pytest.approx(2 * r["nominal_rps"]) and r["nominal_rps"] > 0
    assert len(r["windows"]) == 3 and r["seconds"] == 6
    assert r["valid"] > 0 and r["valid_errors"] == 0, r
    assert r["invalid"] > 0 and r["invalid_not_4xx"] == 0, r
    assert r["valid"] == sum(w["valid"] for w in r["windows"])
    assert r["rss_start_mib"] > 50 and r["rss_end_mib"] > 50  # the server's, not wrk's or a child's alone
    assert r["rss_growth"] == pytest.approx(r["rss_end_mib"] / r["rss_start_mib"] - 1)
    assert all(w["p99_ms"] is not None and w["p50_ms"] <= w["p99_ms"] for w in r["windows"])
    for text in ("valid:", "invalid:", "RSS:", "p99 per window"):
        assert any(line.startswith(text) for line in lines), text
