from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from training_job.config import DataConfig
from training_job.data import DataError, load_dataset


def cfg(path: Path, **kw) -> DataConfig:
    return DataConfig(path=str(path), target=kw.pop("target", "y"), positive_label=kw.pop("positive_label", 1), **kw)


def write(tmp_path: Path, frame: pd.DataFrame, name: str = "d.csv") -> Path:
    path = tmp_path / name
    frame.to_parquet(path) if name.endswith(".parquet") else frame.to_csv(path, index=False)
    return path


def test_embedded_default_loads() -> None:
    ds = load_dataset(DataConfig(target="creditability", positive_label="bad"))
    assert ds.frame.shape == (1000, 20)
    assert ds.target.mean() == pytest.approx(0.3)
    assert len(ds.digest) == 64


def test_protected_columns_are_groups_beside_the_features_never_features(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "sex": ["f", None, "m"], "y": [0, 1, 0]})
    ds = load_dataset(cfg(write(tmp_path, frame), protected=["sex"]))
    assert list(ds.frame.columns) == ["x"]
    assert ds.protected["sex"].tolist() == ["f", "(missing)", "m"]


def test_german_protected_columns_are_kept_out_of_the_features() -> None:
    ds = load_dataset(DataConfig(target="creditability", positive_label="bad",
                                 protected=["personal_status_and_sex", "foreign_worker"]))
    assert ds.frame.shape == (1000, 18)
    assert {"personal_status_and_sex", "foreign_worker"}.isdisjoint(ds.frame.columns)
    assert ds.protected["foreign_worker"].value_counts().to_dict() == {"yes": 963, "no": 37}


def test_parquet_and_ids(tmp_path: Path) -> None:
    frame = pd.DataFrame({"id": [1, 2, 3, 4], "x": [1.0, 2.0, 3.0, 4.0], "y": [0, 1, 0, 1]})
    ds = load_dataset(cfg(write(tmp_path, frame, "d.parquet"), id_columns=["id"]))
    assert list(ds.frame.columns) == ["x"]
    assert ds.target.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(
    ("frame", "kw", "message"),
    [
        (pd.DataFrame({"x": [1, 2], "z": [0, 1]}), {}, "target column 'y' not in"),
        (pd.DataFrame({"x": [1, 2, 3], "y": [0, 1, 2]}), {}, "exactly two classes, found 3"),
        (pd.DataFrame({"x": [1, 2, 3], "y": [0, 0, 0]}), {}, "exactly two classes, found 1"),
        (pd.DataFrame({"x": [1, 2], "y": ["good", "poor"]}), {"positive_label": "bad"}, "positive_label 'bad' does not occur"),
        (pd.DataFrame({"x": [1, 2], "y": [0, None]}), {}, "target column 'y' has missing values (first at row 1)"),
        (pd.DataFrame({"x": [None, None], "w": [1, 2], "y": [0, 1]}), {}, "feature columns entirely missing"),
        (pd.DataFrame({"x": [1, 2], "y": [0, 1]}), {"drop_columns": ["nope"]}, "id/drop columns ['nope'] not in"),
        (pd.DataFrame({"x": [1, 2], "y": [0, 1]}), {"protected": ["sex"]}, "data.protected columns ['sex'] not in"),
        (pd.DataFrame({"x": [1, 2], "s": [None, None], "y": [0, 1]}), {"protected": ["s"]}, "protected column 's' is entirely missing"),
        (pd.DataFrame({"x": [1, 2], "s": ["f", "f"], "y": [0, 1]}), {"protected": ["s"]}, "protected column 's' has a single group"),
        (pd.DataFrame({"x": range(60), "s": range(60), "y": [0, 1] * 30}), {"protected": ["s"]}, "protected column 's' has 60 distinct values"),
        (pd.DataFrame({"x": [1, 2], "y": [0, 1]}), {"age": {"feature": "age"}}, "data.age.feature 'age' is not a feature column"),
        (pd.DataFrame({"x": ["a", "b"], "y": [0, 1]}), {"age": {"feature": "x"}}, "data.age.feature 'x' must be numeric"),
    ],
)
def test_bad_data_is_named(tmp_path: Path, frame: pd.DataFrame, kw: dict, message: str) -> None:
    with pytest.raises(DataError) as err:
        load_dataset(cfg(write(tmp_path, frame), **kw))
    assert message in str(err.value)


def test_empty_and_absent_files(tmp_path: Path) -> None:
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(DataError, match="is empty"):
        load_dataset(cfg(empty))
    header_only = tmp_path / "h.csv"
    header_only.write_text("x,y\n")
    with pytest.raises(DataError, match="has no rows"):
        load_dataset(cfg(header_only))
    with pytest.raises(DataError, match="data file not found"):
        load_dataset(cfg(tmp_path / "absent.csv"))


def test_yaml_label_matches_text_column(tmp_path: Path) -> None:
    frame = pd.DataFrame({"x": [1, 2, 3], "y": ["1", "0", "1"]})
    ds = load_dataset(cfg(write(tmp_path, frame.astype({"y": str})), positive_label=1))
    assert np.array_equal(ds.target, [1, 0, 1])


FRAME = pd.DataFrame({"x": [1.5, 2.5, 3.5, 4.5], "grade": ["a", "b", "a", "c"], "y": [0, 1, 0, 1]})


@pytest.mark.parametrize(
    ("name", "sep", "kw"),
    [
        ("d.tsv", "\t", {}),
        ("d.tab", "\t", {}),
        ("d.tsv.gz", "\t", {}),
        ("d.csv.gz", ",", {}),
        ("d.txt", "\t", {"format": "tsv"}),
        ("d.csv", ";", {"sep": ";"}),
        ("d.tsv", "|", {"sep": "|"}),
    ],
)
def test_delimited_files_by_name_format_or_sep(tmp_path: Path, name: str, sep: str, kw: dict) -> None:
    path = tmp_path / name
    FRAME.to_csv(path, sep=sep, index=False)
    ds = load_dataset(cfg(path, **kw))
    assert list(ds.frame.columns) == ["x", "grade"]
    assert ds.frame["x"].tolist() == [1.5, 2.5, 3.5, 4.5]
    assert ds.target.tolist() == [0, 1, 0, 1]


@pytest.mark.parametrize(("sep", "hint"), [("\t", "set data.sep: '\\t' or data.format: tsv"), (";", "set data.sep: ';'")])
def test_a_wrong_delimiter_names_the_right_one(tmp_path: Path, sep: str, hint: str) -> None:
    path = tmp_path / "d.csv"
    FRAME.to_csv(path, sep=sep, index=False)
    with pytest.raises(DataError, match="has a single column") as e:
        load_dataset(cfg(path))
    assert hint in str(e.value)


def test_a_trailing_delimiter_adds_no_column(tmp_path: Path) -> None:
    path = tmp_path / "d.tsv"
    path.write_text("x\tgrade\ty\t\n1.5\ta\t0\t\n2.5\tb\t1\t\n")
    ds = load_dataset(cfg(path))
    assert list(ds.frame.columns) == ["x", "grade"]


def test_a_separator_is_refused_for_parquet() -> None:
    with pytest.raises(ValueError, match="data.sep is set but data.format is parquet"):
        DataConfig(path="d.parquet", target="y", positive_label=1, format="parquet", sep=";")
