from __future__ import annotations

import numpy as np
import pytest
import torch

from training_job.distributed import Group
from training_job.train import TensorBatches, rank_batch_size

CPU = torch.device("cpu")


def batches(rows: int, batch: int, group: Group) -> TensorBatches:
    x = {"numeric": np.arange(rows, dtype=np.float32).reshape(-1, 1)}
    return TensorBatches(x, np.zeros(rows, dtype=np.float32), ["numeric"], batch, seed=5, group=group, device=CPU)


def rows_of(epoch) -> list[list[int]]:
    return [x[0][:, 0].int().tolist() for x, _ in epoch]


def test_two_ranks_together_take_the_single_process_batches() -> None:
    """Same permutation, every second row each: batch i of rank 0 and 1 together is batch i of
    one process with the whole global batch, so DDP's averaged gradient is its step."""
    alone = batches(1000, 64, Group())
    ranks = [batches(1000, 64, Group(rank=r, world=2)) for r in range(2)]
    for epoch in range(2):  # and again next epoch: one generator across epochs on every rank
        single = rows_of(alone.epoch(epoch))
        split = [rows_of(b.epoch(epoch)) for b in ranks]
        assert len(split[0]) == len(split[1]) == len(single) == ranks[0].steps
        for i, whole in enumerate(single):
            assert sorted(split[0][i] + split[1][i]) == sorted(whole)


def test_ranks_are_padded_to_the_same_rows_like_distributed_sampler() -> None:
    ranks = [batches(1003, 10, Group(rank=r, world=2)) for r in range(2)]
    got = [sum(rows_of(b.epoch(0)), []) for b in ranks]
    assert len(got[0]) == len(got[1]) == 502
    assert set(got[0]) | set(got[1]) == set(range(1003))  # one row twice, none left out


def test_the_global_batch_must_split_evenly_over_the_ranks() -> None:
    assert rank_batch_size(512, Group(rank=0, world=4)) == 128
    with pytest.raises(ValueError, match="optimisation.batch_size 512 is not divisible by the 3 processes"):
        rank_batch_size(512, Group(rank=0, world=3))
