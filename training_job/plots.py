"""PNG figures a risk team reads first: ROC, calibration curve, score distribution by class."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display in a Job or CI
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.metrics import roc_curve  # noqa: E402

from training_job.evaluation import ECE_BINS  # noqa: E402
from training_job.fairness import FairnessReport  # noqa: E402


def roc_plot(y: np.ndarray, pd_: np.ndarray, auc: float, path: Path) -> Path:
    fpr, tpr, _ = roc_curve(y, pd_)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot(fpr, tpr, label=f"model (AUC {auc:.3f})")
    ax.plot([0, 1], [0, 1], "--", color="grey", label="chance")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, test split")
    ax.legend(loc="lower right")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def calibration_plot(y: np.ndarray, pd_: np.ndarray, path: Path) -> Path:
    order = np.argsort(pd_)
    groups = np.array_split(order, ECE_BINS)  # equal-count bins: every point has support
    mean_pd = [pd_[g].mean() for g in groups if len(g)]
    rate = [y[g].mean() for g in groups if len(g)]
    top = max(max(mean_pd), max(rate)) * 1.05
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, top], [0, top], "--", color="grey", label="perfect calibration")
    ax.plot(mean_pd, rate, "o-", label="model (deciles of PD)")
    ax.set(xlabel="mean predicted PD", ylabel="observed default rate", title="Calibration, test split")
    ax.legend(loc="upper left")
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def score_distribution_plot(y: np.ndarray, points: np.ndarray, bands: list[tuple[str, int | None]], path: Path) -> Path:
    fig, ax = plt.subplots(figsize=(7, 4))
    bins = np.linspace(points.min(), points.max(), 40)
    ax.hist(points[y == 0], bins=bins, alpha=0.6, density=True, label="good")
    ax.hist(points[y == 1], bins=bins, alpha=0.6, density=True, label="bad (default)")
    for name, cut in bands:
        if cut is not None:
            ax.axvline(cut, color="black", linestyle=":", linewidth=1)
            ax.text(cut, ax.get_ylim()[1] * 0.95, f" {name} ≥ {cut}", fontsize=8)
    ax.set(xlabel="score (points)", ylabel="density", title="Score distribution by outcome, test split")
    ax.legend()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path


def fairness_plot(report: FairnessReport, path: Path) -> Path:
    """Per protected attribute: approval rate per group (bootstrap interval) and AIR with the threshold line."""
    attributes = list(report.attributes)
    fig, axes = plt.subplots(len(attributes), 2, figsize=(11, 2.6 + 1.1 * len(attributes) * 2), squeeze=False)
    for row, name in zip(axes, attributes):
        groups = [g for g in report.groups if g["attribute"] == name]
        labels = [f"{g['group']}\n(n={g['rows']}{', small' if g['small'] else ''})" for g in groups]
        y = np.arange(len(groups))
        rate = np.array([g["approval_rate"] for g in groups])
        if "approval_rate_low" in groups[0]:
            err = np.array([[r - g["approval_rate_low"] for r, g in zip(rate, groups)],
                            [g["approval_rate_high"] - r for r, g in zip(rate, groups)]]).clip(min=0)
        else:
            err = None
        row[0].barh(y, rate, xerr=err, color="tab:blue", alpha=0.8)
        row[0].set(yticks=y, yticklabels=labels, xlim=(0, 1), xlabel="approval rate (test split)", title=name)
        air = np.nan_to_num(np.array([g["air"] for g in groups]))
        colours = ["grey" if g["small"] else ("tab:red" if g["below_threshold"] else "tab:green") for g in groups]
        row[1].barh(y, air, color=colours, alpha=0.8)
        row[1].axvline(report.air_threshold, color="black", linestyle="--", linewidth=1,
                       label=f"four-fifths threshold {report.air_threshold:g}")
        row[1].legend(loc="lower right", fontsize=8)
        row[1].set(yticks=y, yticklabels=[], xlim=(0, max(1.05, float(air.max()) * 1.05)),
                   xlabel="adverse impact ratio vs most favoured group",
                   title=f"AIR (grey: under {report.min_group_rows} rows, not counted)")
    fig.tight_layout()
    fig.savefig(path, dpi=100, bbox_inches="tight")
    plt.close(fig)
    return path
