"""The decision record against a real predictor process: every answered row is on disk with
what answered it, a `kill -9` under load loses no answered decision, a full audit store turns
the model not-ready instead of answering unrecorded, and `python -m audit` finds it all."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import httpx
import pytest

from audit.read import Filter, records
from tests.integration.test_serving import applicants
from tests.procs import start_predictor, stop, v2_inputs, wait_http

pytestmark = pytest.mark.integration
URL = "/v2/models/credit-score/infer"


def body(n: int = 3) -> dict:
    return {"inputs": v2_inputs(applicants(n))}


def audit_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "audit", *args], capture_output=True, text=True, timeout=120)


def test_every_answered_row_is_recorded_with_what_answered_it(artifact, tmp_path) -> None:
    p = start_predictor(str(artifact), None, tmp_path, "--audit-inputs", "true")
    try:
        wait_http(f"{p.http}/v2/models/credit-score/ready", 90, p.proc)
        answers = {}
        for i in range(5):
            rid = f"req-{i}-{uuid.uuid4().hex[:6]}"
            r = httpx.post(p.http + URL, json=body(3), headers={"x-request-id": rid}, timeout=30)
            assert r.status_code == 200, r.text
            assert r.headers["x-request-id"] == rid
            answers[rid] = (r.json(), r.headers)
        # no request id at all: the predictor makes one and returns it
        r = httpx.post(p.http + URL, json=body(1), timeout=30)
        assert r.status_code == 200 and r.headers["x-request-id"]
        answers[r.headers["x-request-id"]] = (r.json(), r.headers)
    finally:
        stop(p.proc)
    found = list(records(tmp_path / "audit", Filter()))
    assert len(found) == 5 * 3 + 1
    by_id = {}
    for rec in found:
        by_id.setdefault(rec.request_id, []).append(rec)
    assert set(by_id) == set(answers)
    for rid, (answer, headers) in answers.items():
        outputs = {o["name"]: o["data"] for o in answer["outputs"]}
        rows = sorted(by_id[rid], key=lambda r: r.row)
        assert [r.row for r in rows] == list(range(len(outputs["score"])))
        assert [r.score for r in rows] == outputs["score"]
        assert [r.decision for r in rows] == outputs["decision"]
        assert [r.reason_codes for r in rows] == outputs["reason_codes"]
        assert [round(r.probability_of_default, 6) for r in rows] == [round(x, 6) for x in outputs["probability_of_default"]]
        assert {r.model_version for r in rows} == {headers["x-model-version"]}
        assert {f"sha256:{r.artifact_digest}" for r in rows} == {headers["x-artifact-digest"]}
        assert all(r.inputs_json and json.loads(r.inputs_json) for r in rows) and all(r.latency_ms > 0 for r in rows)
    # the same applicant gets the same inputs hash, whichever request carried it
    first_rows = [rec for rec in found if rec.row == 0]
    assert len({r.inputs_sha256 for r in first_rows}) == 1

    rid = next(iter(answers))
    q = audit_cli("query", "--dir", str(tmp_path / "audit"), "--request-id", rid, "--format", "jsonl")
    assert q.returncode == 0, q.stderr
    assert [json.loads(line)["request_id"] for line in q.stdout.splitlines()] == [rid] * 3
    q = audit_cli("query", "--dir", str(tmp_path / "audit"), "--model-version", "no-such-version")
    assert q.returncode == 1 and "0 record(s)" in q.stderr
    q = audit_cli("query", "--dir", str(tmp_path / "audit"), "--since", "2999-01-01")
    assert q.returncode == 1
    out = tmp_path / "records.parquet"
    e = audit_cli("export", "--dir", str(tmp_path / "audit"), "--parquet", str(out))
    assert e.returncode == 0, e.stderr
    import pyarrow.parquet as pq

    table = pq.read_table(out)
    assert table.num_rows == len(found) and "inputs_sha256" in table.column_names


def test_kill_9_under_load_loses_no_answered_decision(artifact, tmp_path) -> None:
    p = start_predictor(str(artifact), None, tmp_path)
    wait_http(f"{p.http}/v2/models/credit-score/ready", 90, p.proc)
    answered: list[str] = []
    sent = [0]
    lock, halt = threading.Lock(), threading.Event()

    def client() -> None:
        with httpx.Client(timeout=10) as c:
            while not halt.is_set():
                rid = uuid.uuid4().hex
                with lock:
                    sent[0] += 1
                try:
                    r = c.post(p.http + URL, json=body(2), headers={"x-request-id": rid})
                except httpx.HTTPError:
                    continue  # the server died under this request: no answer, nothing promised
                if r.status_code == 200:
                    with lock:
                        answered.append(rid)

    threads = [threading.Thread(target=client) for _ in range(8)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while len(answered) < 200 and time.monotonic() < deadline:
        time.sleep(0.05)
    os.killpg(p.proc.pid, signal.SIGKILL)  # no shutdown hook runs
    p.proc.wait(timeout=10)
    halt.set()
    for t in threads:
        t.join(timeout=20)
    recorded = {r.request_id for r in records(tmp_path / "audit", Filter())}
    print(f"\nkill -9 under load: {sent[0]} sent, {len(answered)} answered 200, {len(recorded)} request ids on record, "
          f"{len(set(answered) - recorded)} answered but not recorded")
    assert len(answered) >= 50, "the load never got going"
    assert set(answered) <= recorded


def test_a_full_audit_store_turns_the_model_not_ready_and_answers_nothing_unrecorded(artifact, tmp_path) -> None:
    # the quota is the same SQLITE_FULL a full disk gives, without filling this machine's disk
    p = start_predictor(str(artifact), None, tmp_path, "--audit-max-file-mb", "0.1")
    try:
        wait_http(f"{p.http}/v2/models/credit-score/ready", 90, p.proc)
        answered, status = [], 200
        with httpx.Client(timeout=10) as c:
            for _ in range(2000):
                rid = uuid.uuid4().hex
                r = c.post(p.http + URL, json=body(20), headers={"x-request-id": rid})
                status = r.status_code
                if status != 200:
                    break
                answered.append(rid)
            assert status == 503, f"still answering after {len(answered)} requests"
            assert "full" in r.text, r.text
            ready = c.get(f"{p.http}/v2/models/credit-score/ready")
            assert ready.status_code == 503 and "audit" in ready.text
            assert c.get(f"{p.http}/v2/health/live").status_code == 200  # no crash loop
            assert c.post(p.http + URL, json=body(1)).status_code == 503
        assert p.proc.poll() is None
        assert "no decision is answered without its record" in p.log_text()
    finally:
        stop(p.proc)
    recorded = {r.request_id for r in records(tmp_path / "audit", Filter())}
    print(f"\naudit quota: {len(answered)} answered before the store filled, all {len(recorded & set(answered))} on record")
    assert answered and set(answered) <= recorded


def test_an_unwritable_audit_directory_leaves_the_model_not_ready(artifact, tmp_path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the audit directory should be")
    p = start_predictor(str(artifact), None, tmp_path, "--audit-dir", str(blocker / "audit"))
    try:
        wait_http(f"{p.http}/v2/health/live", 90, p.proc)
        deadline = time.time() + 30
        while "NOT READY" not in p.log_text() and time.time() < deadline:
            time.sleep(0.2)
        r = httpx.get(f"{p.http}/v2/models/credit-score/ready", timeout=5)
        assert r.status_code == 503 and "not-a-dir" in r.text
        assert p.proc.poll() is None
    finally:
        stop(p.proc)
