"""Input and score drift: the training reference the artifact carries, and PSI against it.

Training bins each input on its training split (numeric: deciles, plus a bin for missing;
categorical: the training categories, plus `other` and missing) and the score points the
same way; the artifact stores the bins and their shares (`ArtifactSpec.reference`). The
predictor counts live rows into the same bins and exports, per input, the characteristic
stability index (CSI, the PSI of one input) and the score's PSI:

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

with a_i the live and e_i the reference share of bin i, each floored at PSI_EPSILON so that
an empty bin adds a bounded amount. Rule of thumb: < 0.1 stable, 0.1-0.25 moderate shift,
> 0.25 a different population. Binning lives here, once, for both sides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

PSI_EPSILON = 1e-4
REFERENCE_BINS = 10
SCORE_NAME = "score"
"""The name the score's reference carries (no input may have it: see `DriftReference`)."""


class BinnedReference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: Literal["numeric", "categorical"]
    edges: list[float] = Field(default_factory=list)
    """Numeric: ascending inner edges; bin i holds edges[i-1] < x <= edges[i] (open at both ends)."""
    categories: list[str] = Field(default_factory=list)
    """Categorical: the training categories; anything else counts as `other`."""
    shares: list[float]
    """Training share of each bin: the value bins, (categorical: `other`,) then missing."""

    @property
    def n_bins(self) -> int:
        return len(self.shares)


class DriftReference(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rows: int
    """Training rows the shares come from."""
    inputs: list[BinnedReference]
    score: BinnedReference


def bin_indices(ref: BinnedReference, values: np.ndarray) -> np.ndarray:
    """Bin of each value (the last bin is missing: NaN or None)."""
    if ref.kind == "numeric":
        x = np.asarray(values, dtype=np.float64)
        idx = np.searchsorted(np.asarray(ref.edges, dtype=np.float64), x, side="left")
        return np.where(np.isnan(x), ref.n_bins - 1, idx)
    lookup = {c: i for i, c in enumerate(ref.categories)}
    other, missing = len(ref.categories), len(ref.categories) + 1
    return np.fromiter((missing if v is None else lookup.get(v, other) for v in values), dtype=np.int64,
                       count=len(values))


def bin_counts(ref: BinnedReference, values: np.ndarray) -> np.ndarray:
    return np.bincount(bin_indices(ref, values), minlength=ref.n_bins).astype(np.float64)


def psi(expected_shares: Sequence[float], actual_counts: np.ndarray) -> float | None:
    """PSI of live counts against reference shares; None without live rows."""
    total = float(np.sum(actual_counts))
    if total <= 0:
        return None
    actual = np.maximum(np.asarray(actual_counts, dtype=np.float64) / total, PSI_EPSILON)
    expected = np.maximum(np.asarray(expected_shares, dtype=np.float64), PSI_EPSILON)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def numeric_reference(name: str, values: np.ndarray, bins: int = REFERENCE_BINS) -> BinnedReference:
    x = np.asarray(values, dtype=np.float64)
    present = x[~np.isnan(x)]
    # deciles at observed values; repeated edges (a discrete input) collapse into one
    edges = (np.unique(np.quantile(present, np.linspace(0, 1, bins + 1)[1:-1], method="lower"))
             if present.size else np.array([]))
    ref = BinnedReference(name=name, kind="numeric", edges=edges.tolist(), shares=[0.0] * (len(edges) + 2))
    return ref.model_copy(update={"shares": _shares(bin_counts(ref, x))})


def categorical_reference(name: str, values: np.ndarray, categories: Sequence[str]) -> BinnedReference:
    ref = BinnedReference(name=name, kind="categorical", categories=list(categories), shares=[0.0] * (len(categories) + 2))
    return ref.model_copy(update={"shares": _shares(bin_counts(ref, values))})


def _shares(counts: np.ndarray) -> list[float]:
    total = float(counts.sum())
    return (counts / total).tolist() if total else counts.tolist()


def drift_reference(columns: Mapping[str, np.ndarray], kinds: Mapping[str, tuple[str, Sequence[str]]],
                    points: np.ndarray) -> DriftReference:
    """The reference of each input (`kinds`: name -> (kind, categories)) and of the score."""
    if SCORE_NAME in kinds:
        raise ValueError(f"an input may not be named {SCORE_NAME!r}: the score's drift reference has that name")
    inputs = [numeric_reference(name, columns[name]) if kind == "numeric"
              else categorical_reference(name, columns[name], categories)
              for name, (kind, categories) in kinds.items()]
    return DriftReference(rows=len(points), inputs=inputs, score=numeric_reference(SCORE_NAME, points))
