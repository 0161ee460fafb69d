"""Live drift of a model version's inputs and score against its training reference.

Rows are counted into the reference's bins (credit_model/drift.py) in time slots; the PSI of
each input (CSI) and of the score is computed at scrape time over the slots of the last
`window_seconds`, and exported as gauges per model version: a Prometheus alert or
`python -m rollout analyze` reads them. Per process, like every series here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping

import numpy as np
from prometheus_client.core import GaugeMetricFamily

from credit_model import metric_names as names
from credit_model.drift import DriftReference, bin_counts, psi
from kserve_model.metrics import registered

SLOTS = 12
"""Time slots per window: the window slides in steps of window/12."""


class DriftWindow:
    def __init__(self, reference: DriftReference, window_seconds: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reference = reference
        self.refs = [*reference.inputs, reference.score]
        self.slot_seconds = window_seconds / SLOTS
        self.clock = clock
        self._lock = threading.Lock()
        self._slots: deque[tuple[int, int, list[np.ndarray]]] = deque()  # (slot, rows, counts per ref)

    def observe(self, columns: Mapping[str, np.ndarray], points: np.ndarray) -> None:
        counts = [bin_counts(r, columns[r.name]) for r in self.reference.inputs]
        counts.append(bin_counts(self.reference.score, points))
        slot = int(self.clock() // self.slot_seconds)
        with self._lock:
            if not self._slots or self._slots[-1][0] != slot:
                self._slots.append((slot, 0, [np.zeros(r.n_bins) for r in self.refs]))
            _, rows, current = self._slots[-1]
            for total, add in zip(current, counts):
                total += add
            self._slots[-1] = (slot, rows + len(points), current)
            self._expire(slot)

    def _expire(self, now_slot: int) -> None:
        while self._slots and self._slots[0][0] <= now_slot - SLOTS:
            self._slots.popleft()

    def stability(self) -> tuple[int, dict[str, float | None]]:
        """Rows in the window, and the PSI of each input and of the score (name -> PSI)."""
        with self._lock:
            self._expire(int(self.clock() // self.slot_seconds))
            rows = sum(r for _, r, _ in self._slots)
            totals = [sum((c[i] for _, _, c in self._slots), np.zeros(ref.n_bins)) for i, ref in enumerate(self.refs)]
        return rows, {ref.name: psi(ref.shares, total) for ref, total in zip(self.refs, totals)}


class DriftMetrics:
    """The gauges of every model version this process serves."""

    def __init__(self) -> None:
        self.windows: dict[tuple[str, str], DriftWindow] = {}

    def collect(self):
        rows = GaugeMetricFamily(names.DRIFT_ROWS, "Rows in the drift window, per model version", labels=names.LABELS)
        inputs = GaugeMetricFamily(names.INPUT_PSI, "PSI of each input against its training distribution (CSI), "
                                   "over the drift window", labels=[*names.LABELS, names.FEATURE_LABEL])
        score = GaugeMetricFamily(names.SCORE_DRIFT_PSI, "PSI of the score against its training distribution, "
                                  "over the drift window", labels=names.LABELS)
        for (name, version), window in list(self.windows.items()):
            n, values = window.stability()
            rows.add_metric([name, version], float(n))
            for feature, value in values.items():
                if value is None:
                    continue
                if feature == window.reference.score.name:
                    score.add_metric([name, version], value)
                else:
                    inputs.add_metric([name, version, feature], value)
        yield rows
        yield inputs
        yield score


def drift_metrics() -> DriftMetrics:
    return registered(DriftMetrics)
