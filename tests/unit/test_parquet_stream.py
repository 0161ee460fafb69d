"""The streamed Parquet path, with a real two-process gloo group where ranks must agree."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from credit_model.frames import frame_to_columns
from credit_model.transform import encode
from training_job.config import DataConfig, SplitConfig, StreamingConfig, TrainConfig
from training_job.data import DataError
from training_job.distributed import Group
from training_job.features import build_feature_spec
from training_job.hash_split import assign, hash_split_indices, unit_hash
from training_job.parquet_stream import ParquetBatches, deal_row_groups, survey_dataset

ROWS = 4000
SPLIT = SplitConfig(method="hash", seed=42)


def portfolio() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    ids = np.arange(1, ROWS + 1) * 7919  # not row numbers: the split must not depend on position
    return pd.DataFrame({
        "id": ids,
        # the row's own split as a feature: lets a test see whether a non-training row was trained on
        "split_name": np.array(["train", "validation", "test"])[assign(unit_hash(ids, SPLIT.seed), SPLIT)],
        "income": rng.lognormal(8, 0.5, ROWS),
        "purpose": rng.choice(["car", "home", "education", "other"], ROWS),
        "y": (rng.random(ROWS) < 0.2).astype(np.int64),
    })


def write_dataset(folder: Path, frame: pd.DataFrame, files: int = 4, row_group: int = 250) -> Path:
    folder.mkdir()
    for i, rows in enumerate(np.array_split(np.arange(len(frame)), files)):
        pq.write_table(pa.Table.from_pandas(frame.iloc[rows], preserve_index=False), folder / f"part-{i}.parquet",
                       row_group_size=row_group)
    return folder


def config(folder: Path, **streaming: int) -> TrainConfig:
    return TrainConfig(data=DataConfig(path=str(folder), target="y", positive_label=1, id_columns=["id"],
                                       streaming=StreamingConfig(**streaming)),
                       split=SPLIT, optimisation={"batch_size": 64})


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> tuple[pd.DataFrame, Path]:
    frame = portfolio()
    return frame, write_dataset(tmp_path_factory.mktemp("stream") / "portfolio", frame)


def test_the_survey_counts_every_row_and_samples_within_the_caps(dataset) -> None:
    frame, folder = dataset
    data = survey_dataset(config(folder, sample_rows=1000), str(folder), Group())
    train, val, test = hash_split_indices(frame["id"].to_numpy(), SPLIT)
    assert data.split_rows == {"train": len(train), "validation": len(val), "test": len(test)}
    assert data.class_counts == (int((frame.y.iloc[train] == 0).sum()), int(frame.y.iloc[train].sum()))
    kept = [len(r) for r in data.rows]
    assert 850 < kept[0] < 1150 and kept[1:] == [len(val), len(test)], kept  # evaluation rows: all, under the cap
    assert data.view.rows == ROWS and len(data.view.frame) == sum(kept)  # rows: the whole data set
    # the facts come from every row, not from the sample
    assert data.facts["income"].minimum == frame.income.min() and data.facts["income"].maximum == frame.income.max()
    assert data.facts["purpose"].categories == tuple(sorted(frame.purpose.iloc[train].unique()))
    assert "id" not in data.view.frame.columns and "y" not in data.view.frame.columns


def test_a_hash_sample_is_the_same_sample_on_every_run(dataset) -> None:
    _, folder = dataset
    cfg = config(folder, sample_rows=1000)
    one, two = (survey_dataset(cfg, str(folder), Group()) for _ in range(2))
    pd.testing.assert_frame_equal(one.view.frame, two.view.frame)
    assert one.view.digest == two.view.digest and len(one.view.digest) == 64


def test_batches_hold_training_rows_only_and_reshuffle_every_epoch(dataset) -> None:
    _, folder = dataset
    cfg = config(folder, shuffle_rows=512)
    data = survey_dataset(cfg, str(folder), Group())
    sample = data.view.frame.iloc[data.rows[0]]
    features, info = build_feature_spec(sample, np.arange(len(sample)), cfg.data, data.facts)
    batches = ParquetBatches(data, features, info, cfg, seed=0, group=Group(), device=torch.device("cpu"))
    assert data.facts["split_name"].categories == ("train",)
    column = next(f.categorical_index for f in features if f.name == "split_name")
    train_code = encode(frame_to_columns(sample.iloc[:1], features), features, info)["categorical"][0, column]
    epochs = []
    for epoch in range(2):
        got = list(batches.epoch(epoch))
        assert len(got) == batches.steps == data.split_rows["train"] // 64
        assert all(len(y) == 64 for _, y in got)
        x = torch.cat([b[0][info.inputs.index("categorical")] for b in got])
        assert torch.all(x[:, column] == int(train_code)), "a validation or test row was trained on"
        epochs.append(torch.cat([y for _, y in got]))
    assert not torch.equal(epochs[0], epochs[1])  # another row order
    assert epochs[0].sum() == pytest.approx(epochs[1].sum(), abs=30)  # the same rows, mostly


def test_too_few_row_groups_for_the_processes_is_a_data_error(tmp_path: Path) -> None:
    folder = write_dataset(tmp_path / "one", portfolio().iloc[:300], files=1, row_group=1000)
    with pytest.raises(DataError, match="1 row groups for 2 processes"):
        survey_dataset(config(folder), str(folder), Group(rank=0, world=2))


def test_a_folder_without_an_id_to_split_by_is_a_data_error(dataset) -> None:
    _, folder = dataset
    cfg = TrainConfig(data=DataConfig(path=str(folder), target="y", positive_label=1, drop_columns=["id"]))
    with pytest.raises(DataError, match="name the id in data.id_columns"):
        survey_dataset(cfg, str(folder), Group())


def _rank(rank: int, folder: str, store: str, out: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{store}", rank=rank, world_size=2)
    try:
        group = Group(rank=rank, world=2)
        cfg = config(Path(folder), sample_rows=1000)
        data = survey_dataset(cfg, folder, group)
        sample = data.view.frame.iloc[data.rows[0]]
        features, info = build_feature_spec(sample, np.arange(len(sample)), cfg.data, data.facts)
        batches = ParquetBatches(data, features, info, cfg, seed=0, group=group, device=torch.device("cpu"))
        steps = sum(1 for _ in batches.epoch(0))
        result = {"shard": data.shard, "split_rows": data.split_rows, "class_counts": data.class_counts,
                  "facts": data.facts, "view": data.view.frame, "steps": steps, "batch": batches.batch}
        Path(out, f"rank{rank}.pkl").write_bytes(pickle.dumps(result))
    finally:
        dist.destroy_process_group()


def test_two_ranks_read_disjoint_shards_and_agree_on_everything_else(dataset, tmp_path: Path) -> None:
    _, folder = dataset
    mp.spawn(_rank, args=(str(folder), str(tmp_path / "store"), str(tmp_path)), nprocs=2, join=True)
    ranks = [pickle.loads((tmp_path / f"rank{r}.pkl").read_bytes()) for r in range(2)]
    alone = survey_dataset(config(folder, sample_rows=1000), str(folder), Group())
    assert sorted(ranks[0]["shard"] + ranks[1]["shard"]) == alone.shard and not set(ranks[0]["shard"]) & set(ranks[1]["shard"])
    for r in ranks:
        assert r["split_rows"] == alone.split_rows and r["class_counts"] == alone.class_counts
        assert r["facts"] == alone.facts
        pd.testing.assert_frame_equal(r["view"], alone.view.frame)
        assert r["batch"] == 32  # the global batch of 64 split over two ranks
    assert ranks[0]["steps"] == ranks[1]["steps"] > 0  # DDP's all-reduces pair up


def test_row_groups_are_dealt_evenly_by_rows() -> None:
    # 4 files of 10 row groups, the last of each short: round-robin gave every short one to rank 1
    rows = ([131_072] * 9 + [65_536]) * 4
    shards = deal_row_groups(rows, 2)
    assert sorted(shards[0] + shards[1]) == list(range(40))
    loads = [sum(rows[i] for i in s) for s in shards]
    assert abs(loads[0] - loads[1]) <= 65_536
    assert deal_row_groups([5, 5, 5], 4)[3] == []  # more ranks than groups: survey_dataset refuses it
