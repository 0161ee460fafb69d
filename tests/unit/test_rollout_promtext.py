"""Prometheus text of a predictor's /metrics page -> figures per model version; the Prometheus
HTTP API source (answered by an in-process fake of /api/v1/query)."""

from __future__ import annotations

import httpx
import pytest

from rollout.analysis import PrometheusSource, Side, parse_window
from rollout.figures import INF
from rollout.promtext import parse_metrics, select

# An excerpt of a real page (our predictor with FAULT_ERROR_RATE=0.2, bucket lists shortened),
# plus a second version on the same page and series that are not ours.
PAGE = """\
# HELP request_predict_seconds predict request latency
# TYPE request_predict_seconds histogram
request_predict_seconds_count{model_name="credit-score"} 250.0
request_predict_seconds_sum{model_name="credit-score"} 2.3435551620004844
# HELP credit_score_decisions_total Scored rows by decision
# TYPE credit_score_decisions_total counter
credit_score_decisions_total{decision="approve",model_name="credit-score",model_version="1"} 190.0
credit_score_decisions_total{decision="refer",model_name="credit-score",model_version="1"} 228.0
credit_score_decisions_total{decision="decline",model_name="credit-score",model_version="1"} 14.0
credit_score_decisions_total{decision="refer",model_name="credit-score",model_version="2"} 8.0
# HELP credit_score_decisions_created Scored rows by decision
# TYPE credit_score_decisions_created gauge
credit_score_decisions_created{decision="approve",model_name="credit-score",model_version="1"} 1.7959714968e+09
# HELP credit_score_rows_total Rows scored
# TYPE credit_score_rows_total counter
credit_score_rows_total{model_name="credit-score",model_version="1"} 432.0
credit_score_rows_total{model_name="credit-score",model_version="2"} 8.0
# HELP credit_score_requests_total Inference requests by outcome (ok, invalid, error)
# TYPE credit_score_requests_total counter
credit_score_requests_total{model_name="credit-score",model_version="1",outcome="ok"} 216.0
credit_score_requests_total{model_name="credit-score",model_version="1",outcome="error"} 34.0
credit_score_requests_total{model_name="credit-score",model_version="2",outcome="ok"} 4.0
credit_score_requests_total{model_name="credit-score",model_version="2",outcome="invalid"} 1.0
# HELP credit_score_request_seconds Time in the model per request: decode, score, reasons
# TYPE credit_score_request_seconds histogram
credit_score_request_seconds_bucket{le="0.002",model_name="credit-score",model_version="1"} 32.0
credit_score_request_seconds_bucket{le="0.01",model_name="credit-score",model_version="1"} 141.0
credit_score_request_seconds_bucket{le="0.03",model_name="credit-score",model_version="1"} 214.0
credit_score_request_seconds_bucket{le="0.05",model_name="credit-score",model_version="1"} 216.0
credit_score_request_seconds_bucket{le="+Inf",model_name="credit-score",model_version="1"} 216.0
credit_score_request_seconds_count{model_name="credit-score",model_version="1"} 216.0
credit_score_request_seconds_sum{model_name="credit-score",model_version="1"} 1.7965415480016418
# HELP credit_score_score_points Scores in points, per model version
# TYPE credit_score_score_points histogram
credit_score_score_points_bucket{le="480",model_name="credit-score",model_version="1"} 3.0
credit_score_score_points_bucket{le="500",model_name="credit-score",model_version="1"} 113.0
credit_score_score_points_bucket{le="520",model_name="credit-score",model_version="1"} 247.0
credit_score_score_points_bucket{le="560",model_name="credit-score",model_version="1"} 417.0
credit_score_score_points_bucket{le="600",model_name="credit-score",model_version="1"} 432.0
credit_score_score_points_bucket{le="+Inf",model_name="credit-score",model_version="1"} 432.0
credit_score_score_points_count{model_name="credit-score",model_version="1"} 432.0
credit_score_score_points_sum{model_name="credit-score",model_version="1"} 223661.0
# HELP credit_score_input_psi PSI of each input against its training distribution (CSI), over the drift window
# TYPE credit_score_input_psi gauge
credit_score_input_psi{feature="credit_amount",model_name="credit-score",model_version="2"} 0.31
credit_score_input_psi{feature="age_in_years",model_name="credit-score",model_version="2"} 0.02
"""


def test_our_series_are_grouped_by_version_and_others_ignored() -> None:
    parsed = parse_metrics(PAGE)
    assert set(parsed) == {("credit-score", "1"), ("credit-score", "2")}
    v1 = parsed[("credit-score", "1")]
    assert v1.requests == {"ok": 216, "error": 34}
    assert v1.decisions == {"approve": 190, "refer": 228, "decline": 14}
    assert v1.rows == 432
    assert v1.latency.buckets[INF] == 216 and v1.latency.buckets[0.002] == 32
    assert v1.latency.sum == pytest.approx(1.7965415480016418)
    assert v1.score.count == 432 and v1.score.per_bucket()[0] == (480.0, 3.0)
    assert v1.summary()["error_rate"] == pytest.approx(34 / 250)
    assert v1.p99 == pytest.approx(0.01 + 0.02 * (0.99 * 216 - 141) / (214 - 141))  # inside the 10-30 ms bucket
    v2 = parsed[("credit-score", "2")]
    assert v2.requests == {"ok": 4, "invalid": 1} and v2.score.count == 0
    assert v2.input_psi == {"credit_amount": 0.31, "age_in_years": 0.02} and v1.input_psi == {}
    assert v2.summary()["max_input_psi"] == 0.31 and v2.summary()["max_input_psi_feature"] == "credit_amount"


def test_two_pods_give_the_larger_drift_and_a_later_scrape_replaces_an_earlier_one() -> None:
    v2 = parse_metrics(PAGE)[("credit-score", "2")]
    other = parse_metrics(PAGE.replace("} 0.31", "} 0.4"))[("credit-score", "2")]
    assert (v2 + other).input_psi["credit_amount"] == 0.4
    assert (other - v2).input_psi["credit_amount"] == 0.4


def test_select_sums_matching_series() -> None:
    parsed = parse_metrics(PAGE)
    assert select(parsed, "credit-score", "2").total_requests == 5
    assert select(parsed).total_requests == 255
    assert select(parsed, "other").total_requests == 0


def test_parse_window() -> None:
    assert [parse_window(x) for x in ("0", "", None, "90", "30s", "5m", "1h", 12)] == [0, 0, 0, 90, 30, 300, 3600, 12]


def fake_prometheus(answers: dict[str, list[dict]], seen: list[str]) -> httpx.Client:
    """A Prometheus /api/v1/query that answers by the series name inside the query."""

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/api/v1/query"
        query = request.url.params["query"]
        seen.append(query)
        for series, result in answers.items():
            if f"{series}{{" in query:
                return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": result}})
        return httpx.Response(200, json={"status": "success", "data": {"resultType": "vector", "result": []}})

    return httpx.Client(transport=httpx.MockTransport(handler), base_url="http://prom")


def vec(label: str | None, **values: float) -> list[dict]:
    return [{"metric": ({label: k} if label else {}), "value": [1.7e9, str(v)]} for k, v in values.items()]


def test_prometheus_source_queries_increase_over_the_window_per_version() -> None:
    seen: list[str] = []
    answers = {
        "credit_score_requests_total": vec("outcome", ok=300, error=6),
        "credit_score_decisions_total": vec("decision", approve=200, refer=100),
        "credit_score_rows_total": vec(None, x=300),
        "credit_score_request_seconds_bucket": [{"metric": {"le": "0.005"}, "value": [0, "290"]},
                                                {"metric": {"le": "+Inf"}, "value": [0, "300"]}],
        "credit_score_request_seconds_sum": vec(None, x=1.2),
        "credit_score_score_points_bucket": [{"metric": {"le": "500"}, "value": [0, "120"]},
                                             {"metric": {"le": "+Inf"}, "value": [0, "300"]}],
        "credit_score_score_points_sum": vec(None, x=156000),
        "credit_score_input_psi": vec("feature", credit_amount=0.31, age_in_years=0.02),
    }
    with fake_prometheus(answers, seen) as client:
        source = PrometheusSource(client, "http://prom", "credit-score", selector='namespace="ml"')
        f = source.side(Side(version="2"), 600)
    assert f.requests == {"ok": 300, "error": 6} and f.rows == 300
    assert f.latency.buckets == {0.005: 290, INF: 300} and f.score.count == 300
    assert f.input_psi == {"credit_amount": 0.31, "age_in_years": 0.02}
    assert 'sum by (outcome) (increase(credit_score_requests_total{model_name="credit-score",model_version="2",namespace="ml"}[600s]))' in seen
    # counters over the window; the drift gauge as it stands (the predictor keeps its own window)
    assert 'max by (feature) (credit_score_input_psi{model_name="credit-score",model_version="2",namespace="ml"})' in seen
    assert all("[600s]" in q for q in seen if "input_psi" not in q)


def test_prometheus_source_without_window_sums_the_counters_and_needs_a_version() -> None:
    seen: list[str] = []
    with fake_prometheus({}, seen) as client:
        source = PrometheusSource(client, "http://prom")
        source.side(Side(matchers='app="canary"'), 0)
        assert seen[0] == 'sum by (outcome) (credit_score_requests_total{app="canary"})'
        with pytest.raises(ValueError, match="needs the model version"):
            source.side(Side(), 60)


def test_prometheus_errors_are_reported() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"status": "error", "error": "parse error"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(RuntimeError, match="parse error"):
            PrometheusSource(client, "http://prom").query("up")
