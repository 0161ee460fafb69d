"""The challengers of benchmarks/quality.py: gradient boosting (LightGBM, CatBoost, XGBoost,
sklearn's HistGradientBoosting) and logistic regression, each fitted on a fold's training rows.

The tuning budget is the same for every gradient-boosting library and small on purpose (what a
risk team's challenger gets before anyone hand-tunes it): learning rate 0.05, at most
MAX_ROUNDS trees with early stopping after EARLY_STOP rounds without a better log loss on an
inner stratified 15 % split of the fold's training rows, and the three candidate tree shapes of
CANDIDATES (the library's usual small / default / large range), the candidate with the lowest
inner log loss kept. The fold's test rows are never seen. HistGradientBoosting keeps the one
tuned setting of the first round's benchmark (../shared/data/README.md).

Categoricals go to each library natively (LightGBM and XGBoost as pandas categories over the
training rows' values, CatBoost as strings, HistGradientBoosting ordinal-encoded and declared).
HistGradientBoosting takes at most HGB_MAX_CATEGORIES categories per feature: a column with more
keeps its most frequent ones and puts the rest into one "infrequent" category, which is what the
other libraries do to rare categories inside their own splits.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

Predict = Callable[[np.ndarray], np.ndarray]

SEED = 42
INNER_FRACTION = 0.15
LEARNING_RATE = 0.05
MAX_ROUNDS = 5000
EARLY_STOP = 100
HGB_MAX_CATEGORIES = 255  # HistGradientBoostingClassifier's max_bins: its limit on categories

GBDT = ("lightgbm", "catboost", "xgboost")
BASELINES = (*GBDT, "hgb", "logreg")

CANDIDATES: dict[str, list[dict[str, Any]]] = {
    "lightgbm": [
        {"num_leaves": 15, "min_child_samples": 50},
        {"num_leaves": 31, "min_child_samples": 20},
        {"num_leaves": 63, "min_child_samples": 100},
    ],
    "catboost": [{"depth": 4}, {"depth": 6}, {"depth": 8}],
    "xgboost": [
        {"max_depth": 3, "min_child_weight": 1},
        {"max_depth": 5, "min_child_weight": 5},
        {"max_depth": 7, "min_child_weight": 10},
    ],
}


@dataclass(frozen=True)
class Columns:
    categorical: list[str]
    numeric: list[str]


@dataclass
class Fitted:
    predict: Predict
    chosen: dict[str, Any] = field(default_factory=dict)
    """The kept candidate's parameters and its number of trees (gradient boosting only)."""
    candidates: int = 1


def baseline_frame(frame: pd.DataFrame, cols: Columns) -> pd.DataFrame:
    """Categoricals as text (missing as the text "None", a category of its own), numerics as float64."""
    out = pd.DataFrame(index=frame.index)
    for c in cols.categorical:
        out[c] = frame[c].astype(object).where(frame[c].notna(), None).astype(str)
    for c in cols.numeric:
        out[c] = pd.to_numeric(frame[c]).astype(np.float64)
    return out


def category_frame(base: pd.DataFrame, cols: Columns, rows: np.ndarray) -> pd.DataFrame:
    """Categoricals as pandas categories of the values in `rows` (others become missing)."""
    out = base.copy()
    for c in cols.categorical:
        out[c] = pd.Categorical(base[c], categories=sorted(base[c].iloc[rows].unique()))
    return out


def inner_split(y: np.ndarray, train_rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(fit, early-stopping) rows out of a fold's training rows, stratified."""
    from sklearn.model_selection import train_test_split

    fit, stop = train_test_split(train_rows, test_size=INNER_FRACTION, random_state=SEED, stratify=y[train_rows])
    return np.sort(fit), np.sort(stop)


def _lightgbm(params: dict[str, Any], threads: int):
    import lightgbm

    return lightgbm.LGBMClassifier(
        n_estimators=MAX_ROUNDS, learning_rate=LEARNING_RATE, subsample=0.8, subsample_freq=1,
        colsample_bytree=0.8, reg_lambda=1.0, n_jobs=threads, random_state=SEED, verbose=-1, **params,
    )


def _fit_lightgbm(params, X, y, fit, stop, cols: Columns, threads: int):
    import lightgbm

    model = _lightgbm(params, threads)
    model.fit(X.iloc[fit], y[fit], eval_X=X.iloc[stop], eval_y=y[stop], eval_metric="binary_logloss",
              callbacks=[lightgbm.early_stopping(EARLY_STOP, verbose=False)])
    return model, int(model.best_iteration_)


def _fit_xgboost(params, X, y, fit, stop, cols: Columns, threads: int):
    import xgboost

    model = xgboost.XGBClassifier(
        n_estimators=MAX_ROUNDS, learning_rate=LEARNING_RATE, subsample=0.8, colsample_bytree=0.8,
        reg_lambda=1.0, tree_method="hist", enable_categorical=True, eval_metric="logloss",
        early_stopping_rounds=EARLY_STOP, n_jobs=threads, random_state=SEED, **params,
    )
    model.fit(X.iloc[fit], y[fit], eval_set=[(X.iloc[stop], y[stop])], verbose=False)
    return model, int(model.best_iteration) + 1


def _fit_catboost(params, X, y, fit, stop, cols: Columns, threads: int):
    import catboost

    model = catboost.CatBoostClassifier(
        iterations=MAX_ROUNDS, learning_rate=LEARNING_RATE, loss_function="Logloss", od_type="Iter",
        od_wait=EARLY_STOP, use_best_model=True, thread_count=threads, random_seed=SEED, verbose=False,
        allow_writing_files=False, **params,
    )
    model.fit(X.iloc[fit], y[fit], cat_features=cols.categorical, eval_set=(X.iloc[stop], y[stop]))
    return model, int(model.get_best_iteration()) + 1


_FITTERS = {"lightgbm": _fit_lightgbm, "xgboost": _fit_xgboost, "catboost": _fit_catboost}


def fit_gbdt(name: str, base: pd.DataFrame, y: np.ndarray, train_rows: np.ndarray, cols: Columns,
             threads: int = 2) -> Fitted:
    """Every candidate of CANDIDATES[name] early-stopped on the inner split; the best one kept."""
    from sklearn.metrics import log_loss

    fit, stop = inner_split(y, train_rows)
    X = base if name == "catboost" else category_frame(base, cols, train_rows)
    best: tuple[float, Any, dict[str, Any]] | None = None
    for params in CANDIDATES[name]:
        model, trees = _FITTERS[name](params, X, y, fit, stop, cols, threads)
        loss = log_loss(y[stop], model.predict_proba(X.iloc[stop])[:, 1], labels=[0, 1])
        if best is None or loss < best[0]:
            best = (loss, model, {**params, "trees": trees})
    assert best is not None
    model = best[1]
    return Fitted(lambda rows: model.predict_proba(X.iloc[rows])[:, 1], best[2], len(CANDIDATES[name]))


def hgb_pipeline(cols: Columns):
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OrdinalEncoder

    hgb = HistGradientBoostingClassifier(
        learning_rate=0.05, max_iter=1000, max_leaf_nodes=15, min_samples_leaf=50, l2_regularization=1.0,
        early_stopping=True, random_state=SEED,
        categorical_features=list(range(len(cols.categorical))) if cols.categorical else None,
    )
    if not cols.categorical:
        return hgb
    # max_categories counts the infrequent category: the most frequent 254 stay themselves
    encoder = OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=np.nan, encoded_missing_value=np.nan,
                             max_categories=HGB_MAX_CATEGORIES)
    columns = ColumnTransformer([("cat", encoder, cols.categorical), ("num", "passthrough", cols.numeric)])
    return make_pipeline(columns, hgb)


def logreg_pipeline(cols: Columns, n_rows: int = 1000):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, QuantileTransformer

    parts: list[tuple[str, Any, list[str]]] = []
    if cols.numeric:
        quantiles = QuantileTransformer(output_distribution="normal", n_quantiles=min(1000, n_rows), random_state=SEED)
        parts.append(("num", make_pipeline(SimpleImputer(strategy="median"), quantiles), cols.numeric))
    if cols.categorical:
        parts.append(("cat", OneHotEncoder(handle_unknown="ignore"), cols.categorical))
    return make_pipeline(ColumnTransformer(parts), LogisticRegression(max_iter=2000))


def fit_sklearn(model, base: pd.DataFrame, y: np.ndarray, train_rows: np.ndarray) -> Fitted:
    model.fit(base.iloc[train_rows], y[train_rows])
    return Fitted(lambda rows: model.predict_proba(base.iloc[rows])[:, 1])


def fit_baseline(name: str, base: pd.DataFrame, y: np.ndarray, train_rows: np.ndarray, cols: Columns,
                 threads: int = 2) -> Fitted:
    if name in GBDT:
        return fit_gbdt(name, base, y, train_rows, cols, threads)
    if name == "hgb":
        return fit_sklearn(hgb_pipeline(cols), base, y, train_rows)
    if name == "logreg":
        return fit_sklearn(logreg_pipeline(cols, len(train_rows)), base, y, train_rows)
    raise ValueError(f"unknown baseline {name!r}; known: {BASELINES}")
