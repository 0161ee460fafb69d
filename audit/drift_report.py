"""Offline drift report: the recorded inputs and scores against the artifact's training reference.

The same bins and PSI as the predictor's live gauges (credit_model/drift.py), so the report,
the `credit_score_input_psi` gauges and the rollout gate agree on every number. It needs the
inputs themselves in the records (AUDIT_INPUTS=true); hashes alone say nothing of a distribution.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from audit.read import Filter, records
from credit_model.artifact import read_artifact
from credit_model.drift import DriftReference, bin_counts, psi

MODERATE, MAJOR = 0.1, 0.25


@dataclass(frozen=True)
class DriftRow:
    name: str
    """An input, or `score`."""
    psi: float | None
    rows: int


class NoInputsRecorded(ValueError):
    pass


def drift_rows(directory: Path, artifact_dir: Path, where: Filter) -> tuple[list[DriftRow], str]:
    """PSI of every input and of the score over the matching records; also the artifact digest."""
    artifact = read_artifact(artifact_dir)
    reference = artifact.spec.reference
    if reference is None:
        raise ValueError(f"{artifact_dir}: artifact schema {artifact.spec.schema_version} carries no training reference")
    inputs: dict[str, list] = {r.name: [] for r in reference.inputs}
    scores: list[float] = []
    hashed_only = 0
    for record in records(directory, where):
        if record.inputs_json is None:
            hashed_only += 1
            continue
        row = json.loads(record.inputs_json)
        for name, values in inputs.items():
            values.append(row.get(name))
        scores.append(float(record.score))
    if not scores:
        raise NoInputsRecorded(f"no record with inputs in {directory} ({hashed_only} hold input hashes only): "
                               "set AUDIT_INPUTS=true on the predictor to keep inputs for drift reports")
    return _psi_table(reference, inputs, np.asarray(scores)), artifact.digest


def _psi_table(reference: DriftReference, inputs: dict[str, list], scores: np.ndarray) -> list[DriftRow]:
    out = []
    for ref in reference.inputs:
        raw = inputs[ref.name]
        values = (np.array([np.nan if v is None else v for v in raw], dtype=np.float64) if ref.kind == "numeric"
                  else np.array(raw, dtype=object))
        out.append(DriftRow(ref.name, psi(ref.shares, bin_counts(ref, values)), len(raw)))
    out.append(DriftRow(reference.score.name, psi(reference.score.shares, bin_counts(reference.score, scores)), len(scores)))
    return sorted(out, key=lambda r: -(r.psi or 0.0))


def write_report(rows: list[DriftRow], out: Path, title: str) -> list[Path]:
    """drift.csv and drift.png (PSI per input with the 0.1 and 0.25 lines) under `out`."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out.mkdir(parents=True, exist_ok=True)
    table = out / "drift.csv"
    with table.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["name", "psi", "rows", "level"])
        for r in rows:
            w.writerow([r.name, "" if r.psi is None else f"{r.psi:.6f}", r.rows, level(r.psi)])
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(rows) + 1.5))
    names, values = [r.name for r in rows][::-1], [r.psi or 0.0 for r in rows][::-1]
    ax.barh(names, values, color=["#c0392b" if v > MAJOR else "#e67e22" if v > MODERATE else "#27ae60" for v in values])
    for x, label in ((MODERATE, "0.1 moderate"), (MAJOR, "0.25 major")):
        ax.axvline(x, linestyle="--", color="grey", linewidth=1)
        ax.text(x, len(rows) - 0.5, label, fontsize=8, color="grey", ha="left", va="bottom")
    ax.set_xlabel("PSI against the training reference")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    plot = out / "drift.png"
    fig.savefig(plot, dpi=120)
    plt.close(fig)
    return [table, plot]


def level(value: float | None) -> str:
    if value is None:
        return "no data"
    return "major" if value > MAJOR else "moderate" if value > MODERATE else "stable"
