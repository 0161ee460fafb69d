"""The local platform (examples/compose/compose.yaml) brought up for real with Compose:
MLflow, two training runs, stable and canary predictors, the nginx gateway, the web client.
1,000 requests through the gateway must split between the two registered versions as the
configured weights say (exact binomial 99.9 % interval). Everything is torn down after.

The images are the ones the container tier builds (fixture `images`); the gateway image is
built from the same base with Debian's nginx (`compose build gateway`, needs the Debian
mirror). Compose: `docker compose` or Debian's `docker-compose` 1.29 (scripts/local-compose.sh).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from collections import Counter

import httpx
import pytest

from tests import procs
from tests.conftest import QUICK, REPO
from tests.procs import free_port

pytestmark = pytest.mark.containers
STABLE_WEIGHT, CANARY_WEIGHT = 70, 30
REQUESTS = 1000
APPLICANT = json.loads((REPO / "examples" / "applicant.json").read_text())
V2_BODY = {"inputs": [{"name": k, "datatype": "BYTES" if isinstance(v, str) else "FP64", "shape": [1], "data": [v]}
                      for k, v in APPLICANT.items()]}


def compose(env: dict[str, str], *args: str, timeout: float = 600, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(["bash", str(REPO / "scripts" / "local-compose.sh"), *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **env})
    if check and done.returncode != 0:
        pytest.fail(f"compose {' '.join(args)} exited {done.returncode}:\n{done.stdout[-3000:]}\n{done.stderr[-5000:]}")
    return done


def wait_http(url: str, timeout: float, env: dict[str, str]) -> None:
    def context() -> str:
        logs = compose(env, "logs", "--tail", "25", check=False)
        return compose(env, "ps", check=False).stdout + "\n" + (logs.stdout + logs.stderr)[-6000:]

    procs.wait_http(url, timeout, context=context, interval=2)


@pytest.fixture(scope="module")
def platform(images):
    env = {
        "COMPOSE_PROJECT_NAME": f"credit-score-compose-{uuid.uuid4().hex[:6]}",
        "SERVE_IMAGE": images.serve, "TRAIN_IMAGE": images.train, "BASE_IMAGE": images.base,
        "GATEWAY_IMAGE": "credit-score-gateway:containers-test",
        "TRAIN_ARGS": " ".join(f"--set {o}" for o in QUICK),
        "STABLE_WEIGHT": str(STABLE_WEIGHT), "CANARY_WEIGHT": str(CANARY_WEIGHT),
        "MLFLOW_PORT": str(free_port()), "GATEWAY_PORT": str(free_port()), "WEB_PORT": str(free_port()),
    }
    tool = compose(env, "version", check=False)
    if tool.returncode == 3:
        pytest.skip(f"no Compose tool here: {tool.stderr.strip().splitlines()[-1]}")
    started = time.monotonic()
    try:
        compose(env, "build", "gateway", timeout=900)
        compose(env, "up", "-d", timeout=1500)
        gateway, web = f"http://127.0.0.1:{env['GATEWAY_PORT']}", f"http://127.0.0.1:{env['WEB_PORT']}"
        wait_http(f"{gateway}/v2/models/credit-score/ready", 300, env)
        wait_http(f"{web}/healthz", 120, env)
        print(f"compose up in {time.monotonic() - started:.0f} s")
        yield {"gateway": gateway, "web": web, "mlflow": f"http://127.0.0.1:{env['MLFLOW_PORT']}", "env": env}
    finally:
        compose(env, "down", "--volumes", "--remove-orphans", "--timeout", "10", timeout=300, check=False)
        left = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={env['COMPOSE_PROJECT_NAME']}"],
                              capture_output=True, text=True).stdout.split()
        assert left == [], f"containers left behind: {left}"


def binomial_interval(n: int, p: float, confidence: float = 0.999) -> tuple[int, int]:
    from scipy.stats import binom

    low, high = binom.interval(confidence, n, p)
    return int(low), int(high)


def test_gateway_splits_traffic_by_the_configured_weights(platform) -> None:
    seen: Counter[tuple[int, str | None]] = Counter()
    digests: dict[str, set[str]] = {}
    started = time.perf_counter()
    with httpx.Client(base_url=platform["gateway"], timeout=30) as client:
        for _ in range(REQUESTS):
            r = client.post("/v2/models/credit-score/infer", json=V2_BODY)
            version = r.headers.get("x-model-version")
            seen[(r.status_code, version)] += 1
            digests.setdefault(version or "?", set()).add(r.headers.get("x-artifact-digest", "?"))
    seconds = time.perf_counter() - started
    assert {status for status, _ in seen} == {200}, seen
    canary = seen[(200, "2")]
    low, high = binomial_interval(REQUESTS, CANARY_WEIGHT / (STABLE_WEIGHT + CANARY_WEIGHT))
    print(f"observed split stable:canary = {seen[(200, '1')]}:{canary} over {REQUESTS} requests in {seconds:.1f} s; "
          f"99.9 % interval for canary: [{low}, {high}]")
    assert seen[(200, "1")] + canary == REQUESTS, seen
    assert low <= canary <= high, (seen, (low, high))
    # one artifact per version, and the two versions are different artifacts
    assert all(len(d) == 1 for d in digests.values()) and digests["1"] != digests["2"], digests


def test_every_answer_through_the_gateway_is_on_record(platform) -> None:
    ids = {}
    with httpx.Client(base_url=platform["gateway"], timeout=30) as client:
        for i in range(20):
            rid = f"compose-audit-{i}-{uuid.uuid4().hex[:6]}"
            r = client.post("/v2/models/credit-score/infer", json=V2_BODY, headers={"x-request-id": rid})
            assert r.status_code == 200, r.text
            ids[rid] = r.headers["x-model-version"]
    recorded = {}
    for service in ("stable", "canary"):
        out = compose(platform["env"], "exec", "-T", service, "python", "-m", "audit", "query", "--format", "jsonl",
                      check=False).stdout
        for line in out.splitlines():
            rec = json.loads(line)
            recorded[rec["request_id"]] = rec["model_version"]
    assert {rid: recorded.get(rid) for rid in ids} == ids


def test_web_client_scores_through_the_gateway(platform) -> None:
    form = httpx.get(f"{platform['web']}/api/form", timeout=60).json()
    assert [f["name"] for f in form["fields"]] == list(APPLICANT)
    # categories come from the predictor's spec route, through the gateway
    assert form["spec_source"] == "predictor http://gateway:8080/v2/models/credit-score/spec"
    purpose = next(f for f in form["fields"] if f["name"] == "purpose")
    assert "radio/television" in purpose["categories"]
    versions = set()
    for _ in range(10):
        r = httpx.post(f"{platform['web']}/api/score", json={"values": APPLICANT}, timeout=60)
        assert r.status_code == 200, r.text
        versions.add(r.json()["model"]["version"])
    assert versions <= {"1", "2"} and "1" in versions
    bad = httpx.post(f"{platform['web']}/api/score", json={"values": {**APPLICANT, "age_in_years": 7}}, timeout=60)
    assert bad.status_code == 400 and bad.json()["input"] == "age_in_years"


def test_mlflow_holds_both_registered_versions(platform) -> None:
    r = httpx.get(f"{platform['mlflow']}/api/2.0/mlflow/registered-models/get", params={"name": "credit-score"}, timeout=30)
    assert r.status_code == 200, r.text
    versions = {v["version"] for v in r.json()["registered_model"].get("latest_versions", [])}
    search = httpx.get(f"{platform['mlflow']}/api/2.0/mlflow/model-versions/search",
                       params={"filter": "name='credit-score'"}, timeout=30).json()
    assert {v["version"] for v in search["model_versions"]} == {"1", "2"}, (versions, search)
