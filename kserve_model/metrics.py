"""Prometheus metrics per model version: decisions, score and PD distributions, errors.

Histograms are updated a whole batch at a time (np.histogram), not row by row, and exported
through a custom collector on the default registry, which KServe serves at /metrics.
A canary analysis compares these series between versions (PSI of score buckets).

The decision log keeps the decisions of recent requests by request id, so that a shadow
analysis (`python -m rollout analyze --shadow`) can pair what stable and canary decided for
the same mirrored request: `GET /v2/models/<name>/decisions?since=<seq>&limit=<n>`.
"""

from __future__ import annotations

import collections
import functools
import threading
import time
from collections import OrderedDict
from typing import TypeVar

import numpy as np
from prometheus_client import REGISTRY, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, HistogramMetricFamily

from credit_model import metric_names as names
from credit_model.metric_names import LABELS

T = TypeVar("T")

SCORE_BUCKETS = np.arange(300, 901, 20, dtype=np.float64)
PD_BUCKETS = np.array([0.005, 0.01, 0.02, 0.03, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1.0])

DECISIONS = Counter(names.DECISIONS, "Scored rows by decision", [*LABELS, names.DECISION_LABEL])
ROWS = Counter(names.ROWS, "Rows scored", LABELS)
REQUEST_ERRORS = Counter(names.REQUEST_ERRORS, "Requests rejected as invalid (HTTP 400)", [*LABELS, names.INPUT_LABEL])
REQUESTS = Counter(names.REQUESTS, "Inference requests by outcome (ok, invalid, error)", [*LABELS, names.OUTCOME_LABEL])
AUDIT_COMMITS = Counter(names.AUDIT_COMMITS, "Audit transactions committed to disk (one fsync each)")
AUDIT_ROWS = Counter(names.AUDIT_ROWS, "Scored rows committed to the audit record")
LATENCY = Histogram(
    names.LATENCY, "Time in the model per request: decode, score, reasons", LABELS,
    buckets=(0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1, 0.2, 0.5, 1.0, 2.5),
)


class _BatchHistogram:
    def __init__(self, edges: np.ndarray) -> None:
        self.edges = edges
        self.counts: dict[tuple[str, str], np.ndarray] = {}
        self.sums: dict[tuple[str, str], float] = {}

    def observe(self, key: tuple[str, str], values: np.ndarray) -> None:
        # bucket i counts values <= edges[i] (Prometheus "le"); the last bucket is +Inf
        idx = np.searchsorted(self.edges, values, side="left")
        counts = np.bincount(idx, minlength=len(self.edges) + 1)
        self.counts[key] = self.counts.get(key, 0) + counts
        self.sums[key] = self.sums.get(key, 0.0) + float(np.sum(values))

    def family(self, name: str, doc: str) -> HistogramMetricFamily:
        fam = HistogramMetricFamily(name, doc, labels=LABELS)
        for key, counts in self.counts.items():
            cumulative = np.cumsum(counts)
            buckets = [(f"{e:g}", float(c)) for e, c in zip(self.edges, cumulative[:-1])]
            buckets.append(("+Inf", float(cumulative[-1])))
            fam.add_metric(list(key), buckets, self.sums[key])
        return fam


class CreditMetrics:
    """Collector for the per-version distributions; one instance per process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.score = _BatchHistogram(SCORE_BUCKETS)
        self.pd = _BatchHistogram(PD_BUCKETS)
        self.info: dict[tuple[str, str], str] = {}

    def model_loaded(self, name: str, version: str, digest: str) -> None:
        with self._lock:
            self.info[(name, version)] = digest

    def observe(self, name: str, version: str, score: np.ndarray, pd_: np.ndarray, decision: np.ndarray) -> None:
        key = (name, version)
        with self._lock:
            self.score.observe(key, score.astype(np.float64))
            self.pd.observe(key, pd_.astype(np.float64))
        ROWS.labels(name, version).inc(len(score))
        for value, count in collections.Counter(decision.tolist()).items():  # C-level counting, any batch size
            DECISIONS.labels(name, version, str(value)).inc(count)

    def collect(self):
        with self._lock:
            yield self.score.family(names.SCORE, "Scores in points, per model version")
            yield self.pd.family(names.PD, "Probabilities of default, per model version")
            info = GaugeMetricFamily(names.MODEL_INFO, "Loaded model version (value 1)", labels=[*LABELS, "artifact_digest"])
            for (name, version), digest in self.info.items():
                info.add_metric([name, version, digest], 1.0)
            yield info


@functools.cache
def registered(collector_class: type[T]) -> T:
    """The process's one instance of a collector class, registered on first use (not at import)."""
    collector = collector_class()
    REGISTRY.register(collector)
    return collector


def credit_metrics() -> CreditMetrics:
    return registered(CreditMetrics)


class DecisionLog:
    """Decisions of recent requests by request id, bounded by rows (oldest requests go first).

    The id is the `x-request-id` header (set by Envoy-based gateways before a RequestMirror
    filter copies the request, so stable and canary see the same id) or else the v2 request
    `id`; requests with neither are not recorded. A request with more rows than the capacity
    is not recorded.
    """

    def __init__(self, capacity_rows: int) -> None:
        self.capacity_rows = capacity_rows
        self._lock = threading.Lock()
        self._records: OrderedDict[str, tuple[int, float, str, list[str]]] = OrderedDict()
        self._rows = 0
        self._seq = 0
        self.names: set[str] = set()

    def record(self, request_id: str, version: str, decisions: list[str]) -> None:
        if not request_id or len(decisions) > self.capacity_rows:
            return
        with self._lock:
            old = self._records.pop(request_id, None)
            if old is not None:
                self._rows -= len(old[3])
            self._seq += 1
            self._records[request_id] = (self._seq, time.time(), version, decisions)
            self._rows += len(decisions)
            while self._rows > self.capacity_rows:
                _, dropped = self._records.popitem(last=False)
                self._rows -= len(dropped[3])

    def since(self, seq: int = 0, limit: int = 10_000) -> dict:
        """Records with a sequence number above `seq`, oldest first; `next` is the cursor to pass on."""
        with self._lock:
            items = [(rid, rec) for rid, rec in self._records.items() if rec[0] > seq]
        items.sort(key=lambda item: item[1][0])
        items = items[:max(limit, 0)]
        return {
            "capacity_rows": self.capacity_rows,
            "next": items[-1][1][0] if items else seq,
            "records": [{"seq": r[0], "time": r[1], "id": rid, "model_version": r[2], "decisions": r[3]}
                        for rid, r in items],
        }


_decisions: DecisionLog | None = None


def decision_log(capacity_rows: int | None = None) -> DecisionLog:
    """The process's decision log; the first call with a capacity sizes it."""
    global _decisions
    if _decisions is None:
        _decisions = DecisionLog(10_000 if capacity_rows is None else capacity_rows)
    elif capacity_rows is not None:
        _decisions.capacity_rows = capacity_rows
    return _decisions


async def decisions_endpoint(model_name: str, since: int = 0, limit: int = 10_000):
    """GET /v2/models/{model_name}/decisions: see DecisionLog."""
    from fastapi.responses import JSONResponse

    log = decision_log()
    if model_name not in log.names:
        return JSONResponse(status_code=404, content={"error": f"model {model_name} has no decision log here"})
    return JSONResponse(content={"model_name": model_name, **log.since(since, limit)})


def add_decisions_route(app) -> None:  # noqa: ANN001 (FastAPI)
    app.add_api_route("/v2/models/{model_name}/decisions", decisions_endpoint, methods=["GET"])
