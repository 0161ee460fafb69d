"""The predictor's decision log, the fault-injection settings, and pairing decisions by request id."""

from __future__ import annotations

import httpx
import pytest

from kserve_model.metrics import DecisionLog
from rollout.analysis import compare_decisions, fetch_decisions


def test_decision_log_keeps_the_most_recent_rows() -> None:
    log = DecisionLog(capacity_rows=5)
    log.record("a", "1", ["approve", "refer"])
    log.record("b", "1", ["decline"])
    log.record("c", "1", ["approve", "approve"])
    assert [r["id"] for r in log.since()["records"]] == ["a", "b", "c"]
    log.record("d", "1", ["refer"])  # 6 rows > 5: the oldest request goes
    body = log.since()
    assert [r["id"] for r in body["records"]] == ["b", "c", "d"] and body["next"] == 4
    assert body["records"][-1] | {"time": 0} == {"seq": 4, "time": 0, "id": "d", "model_version": "1", "decisions": ["refer"]}


def test_decision_log_paging_duplicates_and_limits() -> None:
    log = DecisionLog(capacity_rows=100)
    for i in range(5):
        log.record(f"r{i}", "2", ["approve"])
    first = log.since(0, limit=2)
    assert [r["id"] for r in first["records"]] == ["r0", "r1"] and first["next"] == 2
    assert [r["id"] for r in log.since(first["next"])["records"]] == ["r2", "r3", "r4"]
    log.record("r1", "2", ["decline"])  # the same id again: the newer answer replaces the older
    assert [(r["id"], r["decisions"]) for r in log.since(5)["records"]] == [("r1", ["decline"])]
    assert len(log.since()["records"]) == 5
    log.record("", "2", ["approve"])  # no id: not recorded
    log.record("huge", "2", ["approve"] * 101)  # more rows than the capacity: not recorded
    assert len(log.since()["records"]) == 5


def test_compare_decisions_joins_on_request_id() -> None:
    stable = {"a": ["approve", "refer"], "b": ["decline"], "c": ["approve"], "x": ["approve", "approve"]}
    canary = {"a": ["approve", "decline"], "b": ["decline"], "d": ["refer"], "x": ["approve"]}
    r = compare_decisions(stable, canary)
    assert r == {"paired_requests": 2, "paired_rows": 3, "flipped_rows": 1, "share": pytest.approx(1 / 3),
                 "stable_only": 1, "canary_only": 1, "row_count_mismatch": 1, "directions": {"refer->decline": 1}}
    assert compare_decisions({}, canary)["share"] is None


def test_fetch_decisions_pages_through_every_url_and_drops_old_records() -> None:
    logs = {"s1": DecisionLog(100), "s2": DecisionLog(100)}
    for i in range(7):
        logs["s1" if i % 2 else "s2"].record(f"r{i}", "1", ["approve"])
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/v2/models/credit-score/decisions"
        seen.append(f"{request.url.host}?since={request.url.params['since']}")
        body = logs[request.url.host].since(int(request.url.params["since"]), limit=2)
        return httpx.Response(200, json={"model_name": "credit-score", **body})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        got = fetch_decisions(client, ["http://s1/", "http://s2/metrics"], "credit-score")
        assert sorted(got) == [f"r{i}" for i in range(7)]
        assert seen[:3] == ["s1?since=0", "s1?since=2", "s1?since=3"]
        assert fetch_decisions(client, ["http://s1"], "credit-score", not_before=4e9) == {}
