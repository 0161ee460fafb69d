from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training_job.config import DataConfig, FeatureOverride
from training_job.data import DataError, load_dataset
from credit_model.frames import frame_to_columns
from training_job.features import ColumnFacts, build_feature_spec, fit_numeric_transform, is_constant
from credit_model.transform import encode, encode_categorical, encode_numeric


def spec_for(frame: pd.DataFrame, **features: FeatureOverride):
    cfg = DataConfig(target="y", positive_label=1, features=features)
    return build_feature_spec(frame, np.arange(len(frame)), cfg)


def test_german_credit_kinds_and_layout() -> None:
    ds = load_dataset(DataConfig(target="creditability", positive_label="bad"))
    specs, net = build_feature_spec(ds.frame, np.arange(800), DataConfig(target="creditability", positive_label="bad"))
    kinds = {f.name: f.kind for f in specs}
    assert kinds["credit_amount"] == "numeric" and kinds["purpose"] == "categorical"
    assert net.n_numeric == 7 and net.n_categorical == 13 and net.n_flags == 0
    assert net.inputs == ["numeric", "categorical"]
    assert all(f.missing == "reject" for f in specs)  # the data has no missing values
    assert [f.code for f in specs][:3] == ["R01", "R02", "R03"]


def test_numeric_transform_is_monotone_bounded_and_robust_to_tails() -> None:
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.lognormal(0, 2, 5000), [1e9]])  # one absurd outlier
    t = fit_numeric_transform(x, [])
    grid = np.sort(np.concatenate([x, [-1e12, 1e12]]))
    specs, _ = spec_for(pd.DataFrame({"v": x}))
    out, _ = encode_numeric(grid, specs[0])
    assert np.all(np.diff(out) >= -1e-6)
    assert out.max() <= 4 and out.min() >= -4  # the outlier does not explode the input
    assert abs(t.fill) < 0.1  # the median maps near 0


def test_tied_quantiles_from_mass_points_still_interpolate() -> None:
    x = np.array([0.0] * 900 + list(range(1, 101)), dtype=float)
    t = fit_numeric_transform(x, [])
    assert np.all(np.diff(t.quantiles) > 0)
    assert len(t.quantiles) == len(t.normal_scores)


def test_missing_values_and_sentinels_get_indicators() -> None:
    frame = pd.DataFrame({"late": [0, 1, 2, 98, 96, 0, 3], "income": [1.0, np.nan, 3.0, 4.0, 5.0, 6.0, 7.0]})
    specs, net = spec_for(frame, late=FeatureOverride(sentinels=[96, 98]))
    late, income = specs
    assert late.missing == "reject" and late.flag_indices == [0, 1]
    assert income.missing == "allow" and income.flag_indices == [2]
    assert net.n_flags == 3
    enc = encode(frame_to_columns(frame, specs), specs, net)
    flags = enc["flags"]
    assert flags[:, 0].tolist() == [0, 0, 0, 0, 1, 0, 0]  # 96
    assert flags[:, 1].tolist() == [0, 0, 0, 1, 0, 0, 0]  # 98
    assert flags[:, 2].tolist() == [0, 1, 0, 0, 0, 0, 0]  # income missing
    # a sentinel or missing value is imputed, not fed as a huge number
    assert enc["numeric"][3, 0] == pytest.approx(late.transform.fill)
    assert enc["numeric"][1, 1] == pytest.approx(income.transform.fill)


def test_unseen_and_missing_categories_map_to_the_oov_bucket() -> None:
    frame = pd.DataFrame({"c": ["b", "a", "b", "c"]})
    specs, _ = spec_for(frame)
    spec = specs[0]
    assert spec.categories == ["a", "b", "c"] and spec.baseline == "b"
    idx = encode_categorical(np.array(["a", "c", "zzz", None, "b"], dtype=object), spec)
    assert idx.tolist() == [1, 3, 0, 0, 2]
    assert encode_categorical(["c", "b"], spec).tolist() == [3, 2]  # a plain list, as a request decodes to


def test_numbers_in_a_categorical_column_match_their_text() -> None:
    frame = pd.DataFrame({"c": [1, 2, 2, "x"]}, dtype=object)
    specs, _ = spec_for(frame)
    spec = specs[0]
    idx = encode_categorical(np.array([2, "1", "x", 3, None], dtype=object), spec)
    assert idx.tolist() == [spec.categories.index("2") + 1, spec.categories.index("1") + 1,
                            spec.categories.index("x") + 1, 0, 0]


def test_too_many_categories_is_an_error() -> None:
    frame = pd.DataFrame({"c": [f"v{i}" for i in range(60)]})
    with pytest.raises(DataError, match="60 distinct values"):
        spec_for(frame)


def test_vocabulary_and_quantiles_come_from_training_rows_only() -> None:
    frame = pd.DataFrame({"c": ["a", "a", "b", "zz"], "x": [1.0, 2.0, 3.0, 1000.0]})
    cfg = DataConfig(target="y", positive_label=1)
    specs, _ = build_feature_spec(frame, np.array([0, 1, 2]), cfg)
    assert specs[0].categories == ["a", "b"]
    assert max(specs[1].transform.quantiles) <= 3.0


def test_a_constant_feature_is_named_in_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    frame = pd.DataFrame({"flag": [1.0] * 6, "channel": ["web"] * 6, "x": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
                          "income": [1.0, np.nan, 1.0, 1.0, 1.0, 1.0]})
    with caplog.at_level("WARNING", logger="training_job.features"):
        spec_for(frame)
    warned = {r.args[0] for r in caplog.records}
    # a constant with missing values still says something: whether the value was reported
    assert warned == {"flag", "channel"}
    assert all("data.drop_columns" in r.getMessage() for r in caplog.records)


def test_a_streamed_table_is_judged_constant_by_its_survey_not_its_sample() -> None:
    sample = pd.Series([3.0, 3.0])  # a sample can look constant when the table is not
    assert not is_constant(sample, ColumnFacts(has_missing=False, minimum=1.0, maximum=3.0))
    assert is_constant(sample, ColumnFacts(has_missing=False, minimum=3.0, maximum=3.0))
    assert not is_constant(sample, ColumnFacts(has_missing=True, minimum=3.0, maximum=3.0))
    assert is_constant(pd.Series(["a"]), ColumnFacts(has_missing=False, categories=("a",), distinct=1))
    assert not is_constant(pd.Series(["a"]), ColumnFacts(has_missing=False, categories=("a",), distinct=2))
