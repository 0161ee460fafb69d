"""The fairness evaluation of the held-out split, per protected attribute and group.

Per group (fairlearn's MetricFrame, bootstrap intervals by MetricFrame's own resampling): rows,
approval rate (a decision outside `scoring.adverse_decisions` is an approval), adverse impact
ratio against the most favoured group (the four-fifths rule), mean score and PD, observed default
rate, AUC, Brier and ECE. Groups with fewer than `fairness.min_group_rows` test rows are reported
and marked small, and left out of the reference group and of `min_air`.

Proxy screening: for each model input and protected attribute, how well the input alone predicts
the attribute on the training split (cross-validated AUC of a one-feature logistic model on the
input's categories or deciles, one-vs-rest macro AUC for more than two groups) and the mutual
information between the two, so a reviewer sees which inputs may stand in for a protected one.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from fairlearn.metrics import MetricFrame, count
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, mutual_info_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict

from training_job.config import FairnessConfig
from training_job.evaluation import expected_calibration_error

GROUP_METRICS = ("approval_rate", "mean_score", "mean_pd", "default_rate", "auc", "brier", "ece")
"""Per-group metrics with bootstrap intervals (besides `rows`)."""
PROXY_FOLDS = 3
PROXY_BINS = 10


# --- per-group metrics: (y_true, y_pred = PD[, sample params]) -> float --------------------------


def approval_rate(y_true: np.ndarray, y_pred: np.ndarray, approved: np.ndarray) -> float:
    return float(np.mean(approved))


def mean_score(y_true: np.ndarray, y_pred: np.ndarray, points: np.ndarray) -> float:
    return float(np.mean(points))


def mean_pd(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_pred))


def default_rate(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(np.mean(y_true))


def group_auc(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """AUC, or NaN where the group (or a bootstrap resample of it) holds a single class."""
    y_true = np.asarray(y_true)
    return float(roc_auc_score(y_true, y_pred)) if len(np.unique(y_true)) == 2 else math.nan


def brier(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return float(brier_score_loss(y_true, y_pred, labels=[0, 1]))


def ece(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    return expected_calibration_error(np.asarray(y_true, dtype=np.float64), np.asarray(y_pred, dtype=np.float64))


METRIC_FUNCTIONS = {"rows": count, "approval_rate": approval_rate, "mean_score": mean_score, "mean_pd": mean_pd,
                    "default_rate": default_rate, "auc": group_auc, "brier": brier, "ece": ece}


@dataclass
class FairnessReport:
    air_threshold: float
    min_group_rows: int
    confidence: float
    bootstrap: int
    groups: list[dict] = field(default_factory=list)
    """One row per attribute and group: the metrics, `air`, `small`, `below_threshold`, `<metric>_low/_high`."""
    proxies: list[dict] = field(default_factory=list)
    """One row per input and attribute: `auc`, `mutual_information`, `flagged`."""
    attributes: dict[str, dict] = field(default_factory=dict)
    """Per attribute: `reference_group`, `min_air`, `min_air_group`."""

    @property
    def min_air(self) -> float | None:
        """Lowest AIR over every attribute's groups that are not small; None when no group counts."""
        values = [a["min_air"] for a in self.attributes.values() if a["min_air"] is not None]
        return min(values) if values else None

    def worst(self) -> tuple[str, str] | None:
        """(attribute, group) of the lowest AIR."""
        if self.min_air is None:
            return None
        name = min((a for a in self.attributes if self.attributes[a]["min_air"] is not None),
                   key=lambda a: self.attributes[a]["min_air"])
        return name, self.attributes[name]["min_air_group"]

    def metrics(self) -> dict[str, float]:
        """`fairness/<attribute>/<metric>` summaries (MLflow metrics; NaN-free)."""
        out: dict[str, float] = {}
        for name, summary in self.attributes.items():
            rows = [g for g in self.groups if g["attribute"] == name and not g["small"]]
            if summary["min_air"] is not None:
                out[f"fairness/{name}/min_air"] = summary["min_air"]
            for metric in ("approval_rate", "auc", "ece"):
                values = [g[metric] for g in rows if not math.isnan(g[metric])]
                if len(values) >= 2:
                    out[f"fairness/{name}/{metric}_gap"] = max(values) - min(values)
            proxies = [p["auc"] for p in self.proxies if p["attribute"] == name and not math.isnan(p["auc"])]
            if proxies:
                out[f"fairness/{name}/max_proxy_auc"] = max(proxies)
        if self.min_air is not None:
            out["fairness/min_air"] = self.min_air
        return out

    def groups_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.groups)

    def proxies_frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.proxies)

    def to_dict(self) -> dict:
        clean = lambda v: None if isinstance(v, float) and math.isnan(v) else v  # noqa: E731 - JSON has no NaN
        body = asdict(self)
        body["groups"] = [{k: clean(v) for k, v in g.items()} for g in self.groups]
        body["proxies"] = [{k: clean(v) for k, v in p.items()} for p in self.proxies]
        body["min_air"] = self.min_air
        return body


def group_metrics(y: np.ndarray, pd_: np.ndarray, points: np.ndarray, approved: np.ndarray, groups: pd.Series,
                  cfg: FairnessConfig) -> MetricFrame:
    tail = (1 - cfg.confidence) / 2
    with warnings.catch_warnings():
        # a small group's resamples may all hold one class: its AUC interval is NaN, said once in the report
        warnings.filterwarnings("ignore", "All-NaN slice", RuntimeWarning)
        return _metric_frame(y, pd_, points, approved, groups, cfg, tail)


def _metric_frame(y, pd_, points, approved, groups, cfg: FairnessConfig, tail: float) -> MetricFrame:
    return MetricFrame(
        metrics=METRIC_FUNCTIONS,
        y_true=np.asarray(y),
        y_pred=np.asarray(pd_, dtype=np.float64),
        sensitive_features=groups,
        sample_params={"approval_rate": {"approved": np.asarray(approved, dtype=np.float64)},
                       "mean_score": {"points": np.asarray(points, dtype=np.float64)}},
        n_boot=cfg.bootstrap or None,
        ci_quantiles=[tail, 1 - tail] if cfg.bootstrap else None,
        random_state=cfg.seed if cfg.bootstrap else None,
    )


def adverse_impact(by_group: pd.DataFrame, min_rows: int) -> tuple[pd.Series, str | None]:
    """AIR of every group against the most favoured group with at least `min_rows` rows."""
    eligible = by_group[by_group["rows"] >= min_rows]
    if eligible.empty or eligible["approval_rate"].max() <= 0:
        return pd.Series(math.nan, index=by_group.index), None
    reference = str(eligible["approval_rate"].idxmax())
    return by_group["approval_rate"] / eligible["approval_rate"].max(), reference


def evaluate_groups(groups: pd.DataFrame, y: np.ndarray, pd_: np.ndarray, points: np.ndarray, approved: np.ndarray,
                    cfg: FairnessConfig, report: FairnessReport) -> None:
    for name in groups.columns:
        mf = group_metrics(y, pd_, points, approved, groups[name].reset_index(drop=True), cfg)
        by_group = mf.by_group.astype(np.float64)
        air, reference = adverse_impact(by_group, cfg.min_group_rows)
        low = mf.by_group_ci[0] if cfg.bootstrap else None
        high = mf.by_group_ci[1] if cfg.bootstrap else None
        for group, row in by_group.iterrows():
            small = bool(row["rows"] < cfg.min_group_rows)
            entry = {"attribute": name, "group": str(group), "rows": int(row["rows"]), "small": small,
                     "approval_rate": float(row["approval_rate"]), "air": float(air[group]),
                     "below_threshold": bool(not small and air[group] < cfg.air_threshold)}
            for metric in GROUP_METRICS[1:]:
                entry[metric] = float(row[metric])
            if low is not None:
                for metric in GROUP_METRICS:
                    entry[f"{metric}_low"] = float(low.loc[group, metric])
                    entry[f"{metric}_high"] = float(high.loc[group, metric])
            report.groups.append(entry)
        counted = [g for g in report.groups if g["attribute"] == name and not g["small"] and not math.isnan(g["air"])]
        worst = min(counted, key=lambda g: g["air"]) if counted else None
        report.attributes[name] = {"reference_group": reference, "min_air": worst["air"] if worst else None,
                                   "min_air_group": worst["group"] if worst else None,
                                   **min_air_interval(y, pd_, approved, groups[name].reset_index(drop=True),
                                                      [g["group"] for g in counted], cfg)}


def min_air_interval(y: np.ndarray, pd_: np.ndarray, approved: np.ndarray, groups: pd.Series, counted: list[str],
                     cfg: FairnessConfig) -> dict[str, float]:
    """Bootstrap interval of min_air: MetricFrame's ratio (lowest / highest approval rate) over the
    counted groups' rows, resampled; empty without a bootstrap or with fewer than two counted groups."""
    if not cfg.bootstrap or len(counted) < 2:
        return {}
    rows = groups.isin(counted).to_numpy()
    tail = (1 - cfg.confidence) / 2
    mf = MetricFrame(metrics={"approval_rate": approval_rate}, y_true=np.asarray(y)[rows],
                     y_pred=np.asarray(pd_)[rows], sensitive_features=groups[rows].reset_index(drop=True),
                     sample_params={"approval_rate": {"approved": np.asarray(approved, dtype=np.float64)[rows]}},
                     n_boot=cfg.bootstrap, ci_quantiles=[tail, 1 - tail], random_state=cfg.seed)
    low, high = mf.ratio_ci()
    return {"min_air_low": float(low["approval_rate"]), "min_air_high": float(high["approval_rate"])}


def _one_feature_design(column: pd.Series, categorical: bool) -> np.ndarray:
    """The input as category codes (categoricals) or deciles (numerics); missing is a level of its own."""
    if categorical:
        codes = column.astype(object).where(column.notna(), "(missing)").astype(str)
    else:
        values = pd.to_numeric(column).astype(np.float64)
        edges = np.unique(np.nanquantile(values, np.linspace(0, 1, PROXY_BINS + 1)[1:-1]))
        codes = pd.Series(np.where(values.isna(), -1, np.searchsorted(edges, values, side="right")), index=column.index)
    return pd.factorize(codes)[0]


def proxy_strength(column: pd.Series, categorical: bool, group: pd.Series, seed: int) -> tuple[float, float]:
    """(cross-validated AUC of `group` from this input alone, mutual information in nats)."""
    codes = _one_feature_design(column.reset_index(drop=True), categorical)
    labels = pd.factorize(group.reset_index(drop=True))[0]
    mi = float(mutual_info_score(labels, codes))
    counts = np.bincount(labels)
    folds = min(PROXY_FOLDS, int(counts.min()))
    if folds < 2 or len(counts) < 2:
        return math.nan, mi
    onehot = np.eye(codes.max() + 1)[codes]
    model = LogisticRegression(max_iter=1000)
    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = cross_val_predict(model, onehot, labels, cv=cv, method="predict_proba")
    if len(counts) == 2:
        return float(roc_auc_score(labels, proba[:, 1])), mi
    return float(roc_auc_score(labels, proba, multi_class="ovr", average="macro")), mi


def screen_proxies(frame: pd.DataFrame, categorical: set[str], groups: pd.DataFrame, cfg: FairnessConfig,
                   report: FairnessReport) -> None:
    for name in groups.columns:
        for feature in frame.columns:
            auc, mi = proxy_strength(frame[feature], feature in categorical, groups[name], cfg.seed)
            report.proxies.append({"attribute": name, "feature": feature, "auc": auc, "mutual_information": mi,
                                   "flagged": bool(not math.isnan(auc) and auc >= cfg.proxy_auc_flag)})
    report.proxies.sort(key=lambda p: (p["attribute"], -(p["auc"] if not math.isnan(p["auc"]) else 0.0)))


def evaluate_fairness(
    test_groups: pd.DataFrame, y: np.ndarray, pd_: np.ndarray, points: np.ndarray, approved: np.ndarray,
    train_frame: pd.DataFrame, train_groups: pd.DataFrame, categorical: set[str], cfg: FairnessConfig,
) -> FairnessReport | None:
    """The report for every protected attribute; None when the data has none."""
    if test_groups.empty or test_groups.shape[1] == 0:
        return None
    report = FairnessReport(cfg.air_threshold, cfg.min_group_rows, cfg.confidence, cfg.bootstrap)
    evaluate_groups(test_groups, y, pd_, points, approved, cfg, report)
    screen_proxies(train_frame.reset_index(drop=True), categorical, train_groups.reset_index(drop=True), cfg, report)
    return report
