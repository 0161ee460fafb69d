"""A Parquet dataset too large for memory: read in row groups, each torchrun rank its own share.

The row groups of every file (in path order) are dealt to the ranks by their row counts, so the
shards are as even as whole row groups allow; a rank never opens another rank's. One survey pass per rank counts the rows of each split (the split follows
from each row's id: training_job/hash_split.py), collects what the feature spec needs from the
whole table (missing values, ranges, vocabularies) and keeps bounded, hash-chosen samples: the
training rows the quantiles and baselines are fitted on, and the validation and test rows the
evaluation scores. The ranks exchange their surveys, so every rank holds the same samples and
builds the same spec. Training then reads the shard again every epoch, in a new row-group order,
through a shuffle buffer: memory is bounded by `data.streaming`, not by the data set.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from itertools import chain
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads
import pyarrow.fs as pafs
import torch

from credit_model.artifact import FeatureSpec, NetworkInfo
from credit_model.frames import frame_to_columns
from credit_model.transform import encode
from training_job.config import FeatureOverride, TrainConfig, is_uri
from training_job.data import DataError, Dataset, feature_columns, positive_value, split_id_column, table_dataset
from training_job.distributed import Group
from training_job.features import ColumnFacts, infer_kind
from training_job.hash_split import TEST, TRAIN, VALIDATION, assign, bounds, unit_hash
from training_job.train import rank_batch_size

log = logging.getLogger(__name__)
READ_ROWS = 65_536
"""Rows per record batch read from a row group."""
_TARGET_VALUES = 3
"""Distinct target values worth keeping in a survey: a third one already makes it an error."""


def open_dataset(path: str) -> tuple[pads.Dataset, list[pads.ParquetFileFragment]]:
    """The dataset and its row groups (one fragment each), in a fixed order."""
    try:
        if is_uri(path):
            filesystem, root = pafs.FileSystem.from_uri(path)
            dataset = pads.dataset(root, filesystem=filesystem, format="parquet")
        else:
            dataset = pads.dataset(path, format="parquet")
        files = sorted(dataset.get_fragments(), key=lambda f: f.path)
        groups = [g for f in files for g in f.split_by_row_group()]
    except (OSError, ValueError) as e:  # pyarrow's errors name the file
        raise DataError(f"cannot read the Parquet dataset {path}: {e}") from e
    if not groups:
        raise DataError(f"the Parquet dataset {path} holds no row groups (no .parquet files?)")
    return dataset, groups


def dataset_digest(groups: list[pads.ParquetFileFragment]) -> str:
    """sha256 of every file's name and Parquet footer (row counts, sizes, column statistics): it
    changes with the data without reading every byte of a data set that may run to terabytes."""
    h = hashlib.sha256()
    for path in sorted({g.path for g in groups}):
        fragment = next(g for g in groups if g.path == path)
        h.update(Path(path).name.encode())
        h.update(json.dumps(fragment.metadata.to_dict(), sort_keys=True, default=str).encode())
    return h.hexdigest()


def row_group_rows(group: pads.ParquetFileFragment) -> int:
    return sum(rg.num_rows for rg in group.row_groups)


def deal_row_groups(rows: list[int], world: int) -> list[list[int]]:
    """Row-group indices per rank: largest first, each to the rank with the fewest rows so far.
    Every rank takes as many steps as the smallest shard allows, so an uneven deal (the short last
    group of every file landing on one rank) would leave rows of the others unread each epoch."""
    shards: list[list[int]] = [[] for _ in range(world)]
    load = [0] * world
    for i in sorted(range(len(rows)), key=lambda i: (-rows[i], i)):
        rank = min(range(world), key=lambda r: (load[r], r))
        shards[rank].append(i)
        load[rank] += rows[i]
    return [sorted(s) for s in shards]


@dataclass
class _Survey:
    """One rank's pass over its shard; merged over ranks by `_merge`."""

    rows: list[int] = field(default_factory=lambda: [0, 0, 0])
    train_target: dict[object, int] = field(default_factory=dict)
    targets: set = field(default_factory=set)
    missing: set[str] = field(default_factory=set)
    minimum: dict[str, float] = field(default_factory=dict)
    maximum: dict[str, float] = field(default_factory=dict)
    distinct: dict[str, set[str]] = field(default_factory=dict)
    train_values: dict[str, set[str]] = field(default_factory=dict)
    samples: list[pd.DataFrame] = field(default_factory=list)


@dataclass
class StreamedData:
    source: str
    columns: list[str]
    """Columns read: features, target, split id, protected."""
    groups: list[pads.ParquetFileFragment]
    shard: list[int]
    """Indices into `groups` of this rank's row groups."""
    positive: object
    """The target value that means default."""
    facts: dict[str, ColumnFacts]
    split_rows: dict[str, int]
    """Rows of each split in the whole data set."""
    class_counts: tuple[int, int]
    """(negatives, positives) of the whole training split."""
    train_rows_per_rank: list[int]
    view: Dataset
    """The samples in memory: training sample, then validation, then test rows."""
    rows: tuple[np.ndarray, np.ndarray, np.ndarray]
    """Row indices of the training sample, validation and test rows in `view`."""


def _kinds(frame: pd.DataFrame, features: list[str], cfg: TrainConfig) -> dict[str, str]:
    return {f: infer_kind(frame[f], cfg.data.features.get(f, FeatureOverride())) for f in features}


def _survey(groups: list[pads.ParquetFileFragment], shard: list[int], columns: list[str], features: list[str],
            cfg: TrainConfig, id_column: str, keep: tuple[float, float, float]) -> _Survey:
    """Count, describe and sample this rank's row groups. `keep[s]`: the share of split s kept in memory."""
    out = _Survey()
    test_end, val_end = bounds(cfg.split)
    target = cfg.data.target
    kinds: dict[str, str] | None = None
    for i in shard:
        for batch in groups[i].to_batches(columns=columns, batch_size=READ_ROWS):
            frame = batch.to_pandas()
            where = f"{groups[i].path} (row group {groups[i].row_groups[0].id})"
            for name in (id_column, target):
                if frame[name].isna().any():
                    raise DataError(f"column {name!r} has missing values in {where}")
            kinds = kinds or _kinds(frame, features, cfg)
            u = unit_hash(frame[id_column].to_numpy(), cfg.split.seed)
            split = assign(u, cfg.split)
            train = split == TRAIN
            for s in (TRAIN, VALIDATION, TEST):
                out.rows[s] += int((split == s).sum())
            if len(out.targets) < _TARGET_VALUES:
                out.targets |= set(frame[target].unique().tolist())
            for value, n in frame.loc[train, target].value_counts().items():
                out.train_target[value] = out.train_target.get(value, 0) + int(n)
            for name in features:
                column = frame[name]
                if column.isna().any():
                    out.missing.add(name)
                if kinds[name] == "numeric":
                    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=np.float64)
                    if np.isfinite(values).any():
                        out.minimum[name] = min(out.minimum.get(name, np.inf), float(np.nanmin(values)))
                        out.maximum[name] = max(out.maximum.get(name, -np.inf), float(np.nanmax(values)))
                else:
                    limit = cfg.data.max_categories + 1  # one past the limit proves the error; no need for more
                    seen = out.distinct.setdefault(name, set())
                    if len(seen) < limit:
                        seen |= set(column.dropna().astype(str).unique().tolist())
                    out.train_values.setdefault(name, set()).update(column[train].dropna().astype(str).unique().tolist())
            # the first keep[s] of each split's hash interval: a uniform, stable sample of it
            kept = ((split == TRAIN) & (u < val_end + (1 - val_end) * keep[TRAIN])) \
                | ((split == VALIDATION) & (u < test_end + (val_end - test_end) * keep[VALIDATION])) \
                | ((split == TEST) & (u < test_end * keep[TEST]))
            if kept.any():
                sample = frame.loc[kept].copy()
                sample["__split"] = split[kept]
                out.samples.append(sample)
    return out


def _merge(surveys: list[_Survey], features: list[str], cfg: TrainConfig, kinds: dict[str, str],
           source: str) -> tuple[object, dict[str, ColumnFacts], tuple[int, int]]:
    targets = set().union(*(s.targets for s in surveys))
    positive = positive_value(sorted(targets, key=str), cfg.data.positive_label, cfg.data.target)
    counts: dict[object, int] = {}
    for s in surveys:
        for value, n in s.train_target.items():
            counts[value] = counts.get(value, 0) + n
    positives = counts.get(positive, 0)
    facts: dict[str, ColumnFacts] = {}
    for name in features:
        missing = any(name in s.missing for s in surveys)
        if kinds[name] == "numeric":
            lows = [s.minimum[name] for s in surveys if name in s.minimum]
            if not lows:
                raise DataError(f"feature columns entirely missing in {source}: [{name!r}]")
            facts[name] = ColumnFacts(has_missing=missing, minimum=min(lows),
                                      maximum=max(s.maximum[name] for s in surveys if name in s.maximum))
        else:
            distinct = set().union(*(s.distinct.get(name, set()) for s in surveys))
            train = set().union(*(s.train_values.get(name, set()) for s in surveys))
            facts[name] = ColumnFacts(has_missing=missing, categories=tuple(sorted(train)), distinct=len(distinct))
    return positive, facts, (sum(counts.values()) - positives, positives)


def survey_dataset(cfg: TrainConfig, path: str, group: Group) -> StreamedData:
    """Open the dataset, survey this rank's shard, and exchange the surveys with the other ranks."""
    dataset, groups = open_dataset(path)
    names = list(dataset.schema.names)
    id_column = split_id_column(cfg)
    if id_column is None:
        raise DataError(f"{path} is a Parquet dataset, streamed and split by a hash of each row's id: name the "
                        "id in data.id_columns (or split.id_column)")
    features = feature_columns(names, cfg.data, path)
    columns = [*features, cfg.data.target, id_column, *(c for c in cfg.data.protected if c != id_column)]
    shard = deal_row_groups([row_group_rows(g) for g in groups], group.world)[group.rank]
    if len(groups) < group.world:
        raise DataError(f"{path} has {len(groups)} row groups for {group.world} processes: every process reads "
                        "whole row groups, so write the data with smaller ones (or more files)")
    total = sum(row_group_rows(g) for g in groups)
    test_end, val_end = bounds(cfg.split)
    stream = cfg.data.streaming
    expected = (total * (1 - val_end), total * (val_end - test_end), total * test_end)
    caps = (stream.sample_rows, stream.evaluation_rows, stream.evaluation_rows)
    keep = tuple(min(1.0, cap / max(rows, 1.0)) for cap, rows in zip(caps, expected))
    log.info("%s: %d rows in %d row groups; this rank reads %d of them", path, total, len(groups), len(shard))
    mine = _survey(groups, shard, columns, features, cfg, id_column, keep)  # type: ignore[arg-type]
    surveys = group.gather(mine)
    samples = pd.concat([f for s in surveys for f in s.samples], ignore_index=True)
    if samples.empty:
        raise DataError(f"{path}: no rows to sample")
    kinds = _kinds(samples, features, cfg)
    positive, facts, class_counts = _merge(surveys, features, cfg, kinds, path)
    # training sample first, then validation, then test: each in id-hash order, the same on every rank
    samples["__u"] = unit_hash(samples[id_column].to_numpy(), cfg.split.seed)
    samples = samples.sort_values(["__split", "__u"], kind="stable", ignore_index=True)
    split = samples.pop("__split").to_numpy()
    samples = samples.drop(columns="__u")
    view = table_dataset(samples, cfg, path, dataset_digest(groups), population=total)
    rows = tuple(np.flatnonzero(split == s) for s in (TRAIN, VALIDATION, TEST))
    split_rows = {name: sum(s.rows[k] for s in surveys) for k, name in ((TRAIN, "train"), (VALIDATION, "validation"),
                                                                          (TEST, "test"))}
    if min(len(r) for r in rows) == 0:
        raise DataError(f"{path}: a split is empty ({split_rows}); the data set is too small to stream")
    return StreamedData(source=path, columns=columns, groups=groups, shard=shard, positive=positive, facts=facts,
                        split_rows=split_rows, class_counts=class_counts,
                        train_rows_per_rank=[s.rows[TRAIN] for s in surveys], view=view,
                        rows=rows)  # type: ignore[arg-type]


class ParquetBatches:
    """This rank's training rows, re-read every epoch: row groups in a seeded new order, rows
    shuffled `data.streaming.shuffle_rows` at a time. Every rank yields the same number of full
    batches (the smallest shard's), so DDP's gradient all-reduces pair up; the rows past it on the
    larger shards are a different few each epoch."""

    def __init__(self, data: StreamedData, features: list[FeatureSpec], info: NetworkInfo, cfg: TrainConfig,
                 seed: int, group: Group, device: torch.device) -> None:
        self.data, self.features, self.info, self.cfg = data, features, info, cfg
        self.seed, self.group, self.device = seed, group, device
        self.batch = rank_batch_size(cfg.optimisation.batch_size, group)
        self.steps = min(data.train_rows_per_rank) // self.batch
        if self.steps == 0:
            raise DataError(f"a process has fewer training rows ({min(data.train_rows_per_rank)}) than its share of "
                            f"optimisation.batch_size ({self.batch})")
        self.id_column = split_id_column(cfg)
        _, self.val_end = bounds(cfg.split)

    def _encoded(self, order: np.ndarray) -> Iterator[tuple[np.ndarray, ...]]:
        target = self.cfg.data.target
        for i in order:
            for batch in self.data.groups[i].to_batches(columns=self.data.columns, batch_size=READ_ROWS):
                frame = batch.to_pandas()
                u = unit_hash(frame[self.id_column].to_numpy(), self.cfg.split.seed)
                frame = frame.loc[u >= self.val_end]
                if frame.empty:
                    continue
                inputs = encode(frame_to_columns(frame, self.features), self.features, self.info)
                y = (frame[target] == self.data.positive).to_numpy(dtype=np.float32)
                yield (*(inputs[n] for n in self.info.inputs), y)

    def epoch(self, epoch: int) -> Iterator[tuple[list[torch.Tensor], torch.Tensor]]:
        rng = np.random.default_rng([self.seed, epoch, self.group.rank])
        pending: list[tuple[np.ndarray, ...]] = []
        buffered = taken = 0
        shuffle = max(self.cfg.data.streaming.shuffle_rows, self.batch)
        # None after the last part: shuffle out what is left in the buffer
        for part in chain(self._encoded(rng.permutation(np.asarray(self.data.shard))), [None]):
            if part is not None:
                pending.append(part)
                buffered += len(part[-1])
                if buffered < shuffle:
                    continue
            if not pending:
                return
            arrays = [np.concatenate(cols) for cols in zip(*pending)]
            perm = rng.permutation(buffered)
            full = buffered - buffered % self.batch
            for start in range(0, full, self.batch):
                *x, y = [torch.as_tensor(a[perm[start : start + self.batch]]).to(self.device) for a in arrays]
                yield x, y
                taken += 1
                if taken == self.steps:
                    return
            pending = [tuple(a[perm[full:]] for a in arrays)]
            buffered -= full
