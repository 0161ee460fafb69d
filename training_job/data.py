"""Loading the training table and its target, with errors that name what is wrong."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from training_job.config import EMBEDDED_PREFIX, DataConfig, TrainConfig, is_uri

EMBEDDED = {"german_credit": "germancredit.csv"}


class DataError(ValueError):
    """The data cannot train a model; the message names the column or file."""


@dataclass(frozen=True)
class Dataset:
    frame: pd.DataFrame
    """Feature columns only (target, ids and dropped columns removed)."""
    target: np.ndarray
    """1 = default (the configured positive label), 0 otherwise."""
    source: str
    digest: str
    """sha256 of the file's bytes: identifies the data a version was trained on."""
    protected: pd.DataFrame = field(default_factory=pd.DataFrame)
    """The `data.protected` columns as group labels (text; missing = MISSING_GROUP), row-aligned
    with `frame`: for the fairness evaluation only, never a model input."""
    ids: np.ndarray | None = None
    """The hash split's id column (`split.method: hash`), row-aligned with `frame`."""
    population: int | None = None
    """Rows of the whole data set when `frame` holds only a sample of it (a streamed dataset)."""

    @property
    def rows(self) -> int:
        return self.population if self.population is not None else len(self.target)


MISSING_GROUP = "(missing)"


def protected_groups(frame: pd.DataFrame, names: list[str], max_categories: int, path: object) -> pd.DataFrame:
    """The protected columns as text group labels, validated like any column of the data."""
    missing = [c for c in names if c not in frame.columns]
    if missing:
        raise DataError(f"data.protected columns {missing} not in {path}; columns: {list(frame.columns)}")
    out = {}
    for name in names:
        column = frame[name]
        if column.isna().all():
            raise DataError(f"protected column {name!r} is entirely missing in {path}")
        labels = column.astype(object).where(column.notna(), None).map(lambda v: MISSING_GROUP if v is None else str(v))
        distinct = labels.nunique()
        if distinct > max_categories:
            raise DataError(
                f"protected column {name!r} has {distinct} distinct values (> data.max_categories={max_categories}): "
                "a protected attribute must name groups (bin a numeric one into a column of its own)"
            )
        if distinct < 2:
            raise DataError(f"protected column {name!r} has a single group {labels.iloc[0]!r}: nothing to compare")
        out[name] = labels.to_numpy(dtype=object)
    return pd.DataFrame(out, index=range(len(frame)))


def resolve_path(path: str) -> Path:
    if path.startswith(EMBEDDED_PREFIX):
        key = path[len(EMBEDDED_PREFIX):]
        if key not in EMBEDDED:
            raise DataError(f"unknown embedded data set {key!r}; known: {sorted(EMBEDDED)}")
        return Path(str(resources.files("training_job") / "datasets" / EMBEDDED[key]))
    return Path(path)


def file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


DELIMITERS = {"csv": ",", "tsv": "\t"}
# pandas infers the compression from the same suffixes
COMPRESSION_SUFFIXES = {".gz", ".bz2", ".xz", ".zip", ".zst"}
DELIMITER_NAMES = {"\t": "tab", ";": "semicolon", "|": "pipe", ",": "comma"}


def table_format(path: Path, fmt: str = "auto") -> str:
    """`fmt`, or for `auto` the format the file's name gives (see DataConfig.format)."""
    if fmt != "auto":
        return fmt
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in COMPRESSION_SUFFIXES:
        suffixes = suffixes[:-1]
    last = suffixes[-1] if suffixes else ""
    if last in {".parquet", ".pq"}:
        return "parquet"
    return "tsv" if last in {".tsv", ".tab"} else "csv"


def _single_column_hint(frame: pd.DataFrame, path: Path, fmt: str, sep: str) -> None:
    """A delimited file read with the wrong delimiter comes back as one column: say which one it has."""
    header = str(frame.columns[0])
    found = [d for d in DELIMITER_NAMES if d != sep and d in header]
    if frame.shape[1] == 1 and found:
        raise DataError(
            f"{path} read as {fmt} ({DELIMITER_NAMES.get(sep, repr(sep))}-separated) has a single column "
            f"{header[:60]!r}: it looks {DELIMITER_NAMES[found[0]]}-separated; set data.sep: {found[0]!r}"
            + (" or data.format: tsv" if found[0] == "\t" else "")
        )


def _drop_trailing_delimiter_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """A delimiter at the end of every line gives a nameless, empty last column: not data."""
    empty = [c for c in frame.columns if str(c).startswith("Unnamed: ") and frame[c].isna().all()]
    return frame.drop(columns=empty) if empty else frame


def read_table(path: Path, fmt: str = "auto", sep: str | None = None) -> pd.DataFrame:
    if not path.exists():
        raise DataError(f"data file not found: {path}")
    fmt = table_format(path, fmt)
    delimiter = sep or DELIMITERS.get(fmt, ",")
    try:
        if fmt == "parquet":
            frame = pd.read_parquet(path)
        else:
            # a delimiter longer than one character is a regex, which only the python engine reads
            frame = pd.read_csv(path, sep=delimiter, engine="python" if len(delimiter) > 1 else "c")
    except pd.errors.EmptyDataError as e:
        raise DataError(f"data file {path} is empty") from e
    except Exception as e:  # parser errors carry the line; keep them
        raise DataError(f"cannot read {path} as {fmt}: {e}") from e
    if frame.empty:
        raise DataError(f"data file {path} has no rows")
    if fmt != "parquet":
        _single_column_hint(frame, path, fmt, delimiter)
        frame = _drop_trailing_delimiter_columns(frame)
    return frame


def positive_value(values: Sequence[object], positive_label: object, name: str) -> object:
    """The value among the target's distinct `values` that means default."""
    if len(values) != 2:
        raise DataError(
            f"target column {name!r} must have exactly two classes, found {len(values)}: "
            f"{sorted(map(str, values))[:10]}"
        )
    # YAML may give 1 where the CSV holds "1" (or the reverse): compare as text too.
    matches = [v for v in values if v == positive_label or str(v) == str(positive_label)]
    if not matches:
        raise DataError(
            f"positive_label {positive_label!r} does not occur in target column {name!r}; "
            f"its values are {sorted(map(str, values))}"
        )
    return matches[0]


def encode_target(column: pd.Series, positive_label: object, name: str) -> np.ndarray:
    if column.isna().any():
        row = int(np.flatnonzero(column.isna().to_numpy())[0])
        raise DataError(f"target column {name!r} has missing values (first at row {row})")
    positive = positive_value(list(column.unique()), positive_label, name)
    return (column == positive).to_numpy(dtype=np.int64)


def split_id_column(cfg: TrainConfig) -> str | None:
    """The column the hash split reads (None for a random split)."""
    if cfg.split.method != "hash":
        return None
    return cfg.split.id_column or cfg.data.id_columns[0]


def feature_columns(columns: list[str], cfg: DataConfig, source: object) -> list[str]:
    """The feature columns of a table with these `columns`, after checking every name the config gives."""
    if cfg.target not in columns:
        raise DataError(f"target column {cfg.target!r} not in {source}; columns: {columns}")
    missing = [c for c in cfg.id_columns + cfg.drop_columns if c not in columns]
    if missing:
        raise DataError(f"id/drop columns {missing} not in {source}")
    absent = [c for c in cfg.protected if c not in columns]
    if absent:
        raise DataError(f"data.protected columns {absent} not in {source}; columns: {columns}")
    removed = {cfg.target, *cfg.id_columns, *cfg.drop_columns, *cfg.protected}
    features = [c for c in columns if c not in removed]
    unknown = sorted(set(cfg.features) - set(features))
    if unknown:
        raise DataError(f"data.features overrides name columns that are not features: {unknown}")
    if not features:
        raise DataError(f"{source} has no feature columns left after removing target/id/drop columns")
    if cfg.age is not None and cfg.age.feature not in features:
        raise DataError(f"data.age.feature {cfg.age.feature!r} is not a feature column of {source}")
    return features


def is_streamed(path: str) -> bool:
    """A folder or an object-store prefix is a Parquet dataset, streamed (training_job/parquet_stream.py)."""
    return is_uri(path) or (not path.startswith(EMBEDDED_PREFIX) and Path(path).is_dir())


def table_dataset(frame: pd.DataFrame, cfg: TrainConfig, source: str, digest: str,
                  population: int | None = None) -> Dataset:
    """A table in memory as the training job's Dataset, every column the config names checked."""
    data = cfg.data
    names = feature_columns(list(frame.columns), data, source)
    target = encode_target(frame[data.target], data.positive_label, data.target)
    protected = protected_groups(frame, data.protected, data.max_categories, source)
    features = frame[names]
    empty = [c for c in features.columns if features[c].isna().all()]
    if empty:
        raise DataError(f"feature columns entirely missing in {source}: {empty}")
    if data.age is not None and not pd.api.types.is_numeric_dtype(features[data.age.feature]):
        raise DataError(f"data.age.feature {data.age.feature!r} must be numeric (age in years)")
    id_column = split_id_column(cfg)
    ids = None
    if id_column is not None:
        ids = frame[id_column].to_numpy()
        if frame[id_column].isna().any():
            raise DataError(f"split id column {id_column!r} has missing values (first at row "
                            f"{int(np.flatnonzero(frame[id_column].isna().to_numpy())[0])})")
    return Dataset(frame=features.reset_index(drop=True), target=target, source=source, digest=digest,
                   protected=protected, ids=ids, population=population)


def load_dataset(cfg: DataConfig | TrainConfig, path_override: str | None = None) -> Dataset:
    """A delimited (CSV, TSV) or Parquet file in memory (`cfg`: the whole config, or its data section for a random split)."""
    full = cfg if isinstance(cfg, TrainConfig) else TrainConfig(data=cfg)
    path = resolve_path(path_override or full.data.path)
    frame = read_table(path, full.data.format, full.data.sep)
    return table_dataset(frame, full, str(path), file_digest(path))
