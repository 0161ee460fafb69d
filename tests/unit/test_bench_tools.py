"""The benchmarks' tooling without servers: wrk's report parsed, a missing wrk or MLServer venv
stops a benchmark before it starts anything, with how to get them."""

from __future__ import annotations

import json

import pytest

from benchmarks import mlserver_peer, serving, soak, wrk

REPORT = """Running 2s test @ http://127.0.0.1:8080/v2/models/credit-score/infer
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.60ms    4.30ms   1.02s    87.70%
    Req/Sec   600.46     41.91   721.00     61.54%
  Latency Distribution
     50%  656.00us
     75%    3.03ms
     90%    8.37ms
     99%    1.20s
  2441 requests in 2.06s, 1.25MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 244
Requests/sec:   1184.90
Transfer/sec:    640.20KB
SOAK {"kind": "valid", "sent": 2200, "2xx": 2196, "4xx": 0, "5xx": 0, "other": 0}
SOAK {"kind": "invalid", "sent": 245, "2xx": 0, "4xx": 244, "5xx": 0, "other": 0}
"""


def test_wrk_report_parsed_with_its_units() -> None:
    r = wrk.parse_wrk(REPORT)
    assert (r.rps, r.requests, r.non_2xx, r.socket_errors) == (1184.90, 2441, 244, 5)
    assert r.p50_ms == pytest.approx(0.656) and r.p99_ms == pytest.approx(1200.0)


def test_clean_wrk_report_has_no_errors() -> None:
    clean = "\n".join(line for line in REPORT.splitlines() if "errors" not in line and "Non-2xx" not in line)
    r = wrk.parse_wrk(clean)
    assert (r.non_2xx, r.socket_errors) == (0, 0)


def test_soak_counts_per_kind() -> None:
    counts = soak.parse_counts(REPORT)
    assert counts["valid"]["2xx"] == 2196 and counts["invalid"]["4xx"] == 244


def test_soak_counts_missing_is_an_error() -> None:
    with pytest.raises(RuntimeError, match="no counts"):
        soak.parse_counts(REPORT.split("SOAK")[0])


@pytest.fixture
def no_wrk(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(wrk, "LOCAL_WRK", tmp_path / "absent" / "wrk")


def test_missing_wrk_says_how_to_install(no_wrk) -> None:
    with pytest.raises(wrk.WrkMissing, match="scripts/install-wrk.sh"):
        wrk.find_wrk()


def test_local_wrk_is_found(monkeypatch, tmp_path) -> None:
    exe = tmp_path / "wrk"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(wrk, "LOCAL_WRK", exe)
    assert wrk.find_wrk() == str(exe)


@pytest.mark.parametrize("main", [serving.main, soak.main], ids=["serving", "soak"])
def test_benchmark_without_wrk_fails_loudly_before_starting(no_wrk, main, capsys) -> None:
    assert main(["--requests", "1"] if main is serving.main else ["--seconds", "1"]) == 2
    assert "scripts/install-wrk.sh" in capsys.readouterr().err


def test_serving_without_mlserver_venv_fails_loudly(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setattr(serving, "find_wrk", lambda: "/usr/bin/true")
    monkeypatch.setattr(mlserver_peer, "MLSERVER_VENV", tmp_path / "none")
    assert serving.main(["--requests", "1"]) == 2
    assert "scripts/mlserver-venv.sh" in capsys.readouterr().err


def test_invalid_soak_bodies_each_break_one_rule() -> None:
    valid = serving.v2_inputs(serving.applicants(1))
    bodies = soak.invalid_bodies(valid)
    assert len(set(bodies.values())) == len(bodies) == 6
    parsed = {k: json.loads(v) for k, v in bodies.items() if k != "not_json"}
    names = {i["name"] for i in valid}
    assert {i["name"] for i in parsed["missing_input"]["inputs"]} < names
    assert {i["name"] for i in parsed["protected_attribute"]["inputs"]} - names == {"foreign_worker"}
    age = next(i for i in parsed["out_of_range"]["inputs"] if i["name"] == "age_in_years")
    assert age["data"] == [7]


def test_v2_inputs_typed_as_the_signature() -> None:
    by_name = {i["name"]: i for i in serving.v2_inputs(serving.applicants(3))}
    assert by_name["age_in_years"]["datatype"] == "INT64" and by_name["age_in_years"]["shape"] == [3]
    assert by_name["purpose"]["datatype"] == "BYTES"
    assert all(isinstance(v, int) for v in by_name["credit_amount"]["data"])


def test_serving_overrides_need_a_model_trained_here(capsys) -> None:
    with pytest.raises(SystemExit) as e:
        serving.main(["--tracking-uri", "http://127.0.0.1:1", "--set", "optimisation.seeds=3"])
    assert e.value.code == 2
    assert "with --tracking-uri nothing is trained" in capsys.readouterr().err
