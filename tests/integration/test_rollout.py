"""Canary analysis against real predictors serving real registered versions.

One MLflow server (the session fixture), three versions of config 000 trained at once (the
base split, split seed 7, and labels shuffled: a model that learned nothing), five predictor
processes: stable (base), an "equal" canary (the same version again), a "good" canary (seed 7),
a "bad" canary (shuffled labels) and a "faulty" one (the base version with injected latency
and HTTP 500s). A load generator sends a known mix; `python -m rollout analyze` scrapes the
predictors' /metrics and decision logs, `decide` judges, `apply --dry-run` prints the step.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pandas as pd
import pytest
import yaml

from rollout.__main__ import main
from rollout.analysis import ScrapeSource, Side
from tests.conftest import CONFIG_000, NOT_INPUTS, QUICK, REPO
from tests.procs import start_predictor, stop, v2_inputs, wait_http

pytestmark = pytest.mark.integration
MODEL = "rollout-credit"
DATA = REPO / "training_job" / "datasets" / "germancredit.csv"
N = 45            # valid requests each of stable, equal, good and bad answer (the same rows, the same ids)
ROWS = 20         # rows per request: 900 rows per side, enough for a PSI that is not mostly sampling noise
N_FAULTY = 16     # requests the faulty canary answers (each waits FAULT_DELAY_MS)
INVALID = {"stable": 4, "equal": 2}
# Small minimum traffic for a quick test; latency judged with room for a busy 2-core machine.
THRESHOLDS = {"minRequests": 40, "maxErrorRateDelta": 0.01, "maxP99Ratio": 3.0, "p99SlackSeconds": 0.1,
              "maxScorePsi": 0.1, "maxDecisionFlipShare": 0.05, "steps": [10, 25, 50, 100]}


PREDICTORS = {  # name: (training run, extra environment)
    "stable": ("base", {}),
    "equal": ("base", {}),
    "good": ("seed7", {}),
    "bad": ("shuffled", {}),
    "faulty": ("base", {"FAULT_DELAY_MS": "300", "FAULT_ERROR_RATE": "0.5"}),
}


@pytest.fixture(scope="module")
def fleet(mlflow, tmp_path_factory):
    """Three registered versions trained side by side (base, split seed 7, shuffled labels);
    each version's predictors start as soon as its training has registered it."""
    tmp = tmp_path_factory.mktemp("rollout")
    shuffled = tmp / "germancredit-shuffled.csv"
    frame = pd.read_csv(DATA)
    frame["creditability"] = np.random.default_rng(0).permutation(frame["creditability"].to_numpy())
    frame.to_csv(shuffled, index=False)
    runs = {"base": [], "seed7": ["--set", "split.seed=7"], "shuffled": ["--data", str(shuffled)]}
    training = {}
    for name, extra in runs.items():
        args = [sys.executable, "-m", "training_job", "--config", str(CONFIG_000), "--tracking-uri", mlflow.url,
                "--experiment", "rollout", "--set", f"registry.model_name={MODEL}", "--log-level", "WARNING", *extra]
        for o in QUICK:
            args += ["--set", o]
        log = tmp / f"train-{name}.log"
        with log.open("w") as out:
            training[name] = (subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT), log)
    versions: dict[str, str] = {}
    started = {}
    try:
        deadline = time.monotonic() + 600
        while len(versions) < len(runs):
            assert time.monotonic() < deadline, "training did not finish within 600 s"
            for name, (proc, log) in training.items():
                if name in versions or proc.poll() is None:
                    continue
                text = log.read_text()
                m = re.search(r"^version\s+(\d+)", text, re.M)
                assert proc.returncode == 0 and m, f"training {name} failed:\n{text[-3000:]}"
                versions[name] = m.group(1)
                for pname, (run_name, env) in PREDICTORS.items():
                    if run_name == name:
                        started[pname] = start_predictor(f"models:/{MODEL}/{versions[name]}", mlflow.url, tmp / pname, **env)
            time.sleep(0.2)
        assert len(set(versions.values())) == 3, versions
        for p in started.values():
            wait_http(f"{p.http}/v2/models/credit-score/ready", 180, p.proc)
        yield versions, started
    finally:
        for proc, _ in training.values():
            if proc.poll() is None:
                proc.kill()
        for p in started.values():  # all at once: each takes a few seconds to shut down
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.proc.pid, signal.SIGTERM)
        for p in started.values():
            stop(p.proc)


@pytest.fixture(scope="module")
def versions(fleet) -> dict[str, str]:
    return fleet[0]


@pytest.fixture(scope="module")
def predictors(fleet) -> dict:
    return fleet[1]


def _post(client: httpx.Client, url: str, body: dict, request_id: str) -> int:
    return client.post(f"{url}/v2/models/credit-score/infer", json=body, headers={"x-request-id": request_id}).status_code


@pytest.fixture(scope="module")
def traffic(predictors) -> dict[str, dict[int, int]]:
    """The known mix: the same N valid requests (same rows, same x-request-id) to stable and the
    equal, good and bad canaries, the first N_FAULTY of them to the faulty one, plus invalid
    requests (a missing feature) to stable and the equal canary. Status codes per predictor."""
    frame = pd.read_csv(DATA).drop(columns=NOT_INPUTS)
    codes: dict[str, dict[int, int]] = {name: {} for name in predictors}

    def send(name: str, bodies: list[tuple[str, dict]]) -> None:
        with httpx.Client(timeout=60) as client:
            for rid, body in bodies:
                code = _post(client, predictors[name].http, body, rid)
                codes[name][code] = codes[name].get(code, 0) + 1

    valid = [(f"req-{i}-{uuid.uuid4().hex[:8]}", {"inputs": v2_inputs(frame.iloc[ROWS * i:ROWS * (i + 1)])}) for i in range(N)]
    broken = {"inputs": v2_inputs(frame.iloc[:2].drop(columns=["age_in_years"]))}
    plan = {"stable": valid + [(f"bad-{i}", broken) for i in range(INVALID["stable"])],
            "equal": valid + [(f"bad-{i}", broken) for i in range(INVALID["equal"])],
            "good": valid, "bad": valid, "faulty": valid[:N_FAULTY]}
    with ThreadPoolExecutor(len(plan)) as pool:  # one client per predictor, all at once
        list(pool.map(lambda item: send(*item), plan.items()))
    return codes


@pytest.fixture(scope="module")
def values_file(tmp_path_factory, versions):
    """The release's values as `helm get values --all` would give them (the keys apply reads)."""
    path = tmp_path_factory.mktemp("rollout-values") / "values.yaml"
    path.write_text(yaml.safe_dump({
        "serving": {"modelName": "credit-score", "stable": {"registeredModel": MODEL, "version": int(versions["base"]), "alias": ""}},
        "rollout": {"mode": "gateway", "shadow": False,
                    "canary": {"enabled": True, "registeredModel": MODEL, "version": int(versions["seed7"]), "alias": "",
                               "trafficPercent": 10},
                    "analysis": {"enabled": True, **THRESHOLDS}},
    }, sort_keys=False))
    return path


def run(capsys, *argv: str) -> tuple[str, dict]:
    """`python -m rollout ...` in-process: its printed text and its JSON line."""
    rc = main(list(argv))
    out = capsys.readouterr().out
    assert rc == 0, out
    return out, json.loads(out.strip().splitlines()[-1])


def analyze(capsys, predictors, canary: str, *extra: str) -> tuple[str, dict]:
    return run(capsys, "analyze", "--stable-url", predictors["stable"].http, "--canary-url", predictors[canary].http, *extra)


def decide(capsys, analysis: dict, tmp_path, values_file, *extra: str) -> dict:
    path = tmp_path / f"analysis-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps(analysis))
    return run(capsys, "decide", "--analysis", str(path), "--values", str(values_file), *extra)[1]


def test_the_mix_was_answered_as_sent(traffic) -> None:
    assert traffic["stable"] == {200: N, 400: INVALID["stable"]}
    assert traffic["equal"] == {200: N, 400: INVALID["equal"]}
    assert traffic["good"] == traffic["bad"] == {200: N}
    assert sum(traffic["faulty"].values()) == N_FAULTY and set(traffic["faulty"]) == {200, 500}


def test_analyze_counts_the_mix_and_equal_models_have_psi_zero(traffic, predictors, versions, capsys, tmp_path, values_file) -> None:
    text, a = analyze(capsys, predictors, "equal")
    s, c = a["stable"], a["canary"]
    assert (s["version"], c["version"]) == (versions["base"], versions["base"])
    assert (s["requests"], s["ok"], s["invalid"], s["errors"], s["rows"]) == (N + 4, N, 4, 0, ROWS * N)
    assert (c["requests"], c["ok"], c["invalid"], c["errors"], c["rows"]) == (N + 2, N, 2, 0, ROWS * N)
    assert s["decisions"] == c["decisions"] and sum(s["decisions"].values()) == ROWS * N
    assert a["psi"] == pytest.approx(0.0, abs=1e-12)
    assert "score PSI (canary vs stable): 0.0000" in text
    d = decide(capsys, a, tmp_path, values_file)
    assert (d["action"], d["current_percent"], d["next_percent"]) == ("step_up", 10, 25)


def test_good_canary_steps_up_then_is_promoted(traffic, predictors, versions, capsys, tmp_path, values_file) -> None:
    text, a = analyze(capsys, predictors, "good")
    assert a["canary"]["version"] == versions["seed7"] and a["canary"]["requests"] == N
    assert a["psi"] < THRESHOLDS["maxScorePsi"]
    d = decide(capsys, a, tmp_path, values_file)
    assert (d["action"], d["next_percent"], d["breached"]) == ("step_up", 25, [])
    promote = decide(capsys, a, tmp_path, values_file, "--current-percent", "100")
    assert promote["action"] == "promote"

    decision = tmp_path / "promote.json"
    decision.write_text(json.dumps(promote))
    out = _apply(capsys, decision, values_file)
    assert out[1] == (f"helm upgrade credit charts/credit-score --reuse-values --namespace ml "
                      f"--set serving.stable.registeredModel={MODEL} --set serving.stable.version={versions['seed7']} "
                      f"--set serving.stable.alias= --set rollout.canary.enabled=false "
                      f"--set rollout.canary.trafficPercent=0 --set rollout.shadow=false")
    after = yaml.safe_load("\n".join(out[3:]))
    assert after["serving"]["stable"]["version"] == int(versions["seed7"]) and after["rollout"]["canary"]["enabled"] is False


def _apply(capsys, decision, values_file) -> list[str]:
    rc = main(["apply", "--release", "credit", "-n", "ml", "--chart", "charts/credit-score", "--values", str(values_file),
               "--decision", str(decision), "--dry-run"])
    out = capsys.readouterr().out.splitlines()
    assert rc == 0 and out[2] == "# resulting values:", out
    return out


def test_canary_trained_on_shuffled_labels_is_rolled_back_on_score_psi(traffic, predictors, versions, capsys, tmp_path, values_file) -> None:
    _, a = analyze(capsys, predictors, "bad")
    assert a["canary"]["version"] == versions["shuffled"] and a["psi"] > 1.0
    d = decide(capsys, a, tmp_path, values_file)
    assert d["action"] == "rollback" and d["breached"] == ["maxScorePsi"]
    assert d["reason"].startswith("maxScorePsi: score PSI ")
    decision = tmp_path / "rollback.json"
    decision.write_text(json.dumps(d))
    out = _apply(capsys, decision, values_file)
    assert out[1] == ("helm upgrade credit charts/credit-score --reuse-values --namespace ml --set rollout.canary.enabled=false "
                      "--set rollout.canary.trafficPercent=0 --set rollout.shadow=false")


def test_faulty_canary_is_rolled_back_naming_error_rate_and_latency(traffic, predictors, capsys, tmp_path, values_file) -> None:
    _, a = analyze(capsys, predictors, "faulty")
    c = a["canary"]
    assert c["requests"] == N_FAULTY and c["errors"] == traffic["faulty"][500] and c["ok"] == traffic["faulty"][200]
    assert c["p99_seconds"] >= 0.2
    d = decide(capsys, a, tmp_path, values_file, "--min-requests", str(N_FAULTY))
    assert d["action"] == "rollback"
    assert d["breached"][0] == "maxErrorRateDelta" and "maxP99Ratio" in d["breached"]
    assert "canary error rate" in d["reason"] and "canary p99" in d["reason"]
    held = decide(capsys, a, tmp_path, values_file)  # the values' minRequests (40): too little evidence yet
    assert held["action"] == "hold" and held["breached"] == ["minRequests"]


def test_shadow_pairs_decisions_per_request(traffic, predictors, capsys, tmp_path, values_file) -> None:
    _, same = analyze(capsys, predictors, "equal", "--shadow")
    f = same["decision_flips"]
    assert (f["paired_requests"], f["paired_rows"], f["flipped_rows"]) == (N, ROWS * N, 0)
    d = decide(capsys, same, tmp_path, values_file, "--shadow", "--current-percent", "0")
    assert (d["action"], d["next_percent"], d["shadow"]) == ("step_up", 10, True)

    _, bad = analyze(capsys, predictors, "bad", "--shadow")
    f = bad["decision_flips"]
    assert f["paired_requests"] == N and f["share"] > 0.05
    assert set(f["directions"]) <= {f"{a}->{b}" for a in ("approve", "refer", "decline") for b in ("approve", "refer", "decline")}
    d = decide(capsys, bad, tmp_path, values_file, "--shadow", "--current-percent", "0")
    assert d["action"] == "rollback" and "maxDecisionFlipShare" in d["breached"]


def test_the_cli_chains_analyze_decide_apply_through_pipes(traffic, predictors, values_file) -> None:
    cmd = (f"{sys.executable} -m rollout analyze --stable-url {predictors['stable'].http} --canary-url {predictors['bad'].http}"
           f" | {sys.executable} -m rollout decide --values {values_file}"
           f" | {sys.executable} -m rollout apply --release credit --values {values_file} --dry-run")
    done = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], capture_output=True, text=True, timeout=120, cwd=REPO)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# roll back: canary models:/") and lines[1].startswith("helm upgrade credit charts/credit-score")


def test_two_scrapes_count_only_the_window(traffic, predictors) -> None:
    """Last in the module: it adds traffic the tests above do not expect."""
    frame = pd.read_csv(DATA).drop(columns=NOT_INPUTS)

    def load_during_window(_seconds: float) -> None:
        with httpx.Client(timeout=60) as client:
            for i in range(3):
                rid = f"window-{i}-{uuid.uuid4().hex[:6]}"
                for name in ("stable", "equal"):
                    assert _post(client, predictors[name].http, {"inputs": v2_inputs(frame.iloc[i:i + 3])}, rid) == 200

    with httpx.Client(timeout=30) as client:
        stable, canary, _ = ScrapeSource(client, "credit-score").figures(
            Side([predictors["stable"].http]), Side([predictors["equal"].http]), window=1.0, sleep=load_during_window)
    assert stable.requests == {"ok": 3, "invalid": 0} and canary.requests == {"ok": 3, "invalid": 0}
    assert stable.rows == canary.rows == 9
