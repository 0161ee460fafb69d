from __future__ import annotations

import numpy as np
import pytest

from training_job.config import ConfigError, SplitConfig, load_config
from training_job.hash_split import TEST, TRAIN, VALIDATION, assign, hash_split_indices, unit_hash
from tests.conftest import CONFIG_000

SPLIT = SplitConfig(method="hash", test_fraction=0.2, validation_fraction=0.15, seed=42)


def test_the_hash_of_an_id_is_pinned_across_runs_and_machines() -> None:
    # A pandas release that changed hash_array would move rows between train and test of a
    # re-trained version: this pins the values the splits of registered versions came from.
    assert unit_hash(np.array([1, 2, 3]), 42).round(6).tolist() == [0.921991, 0.793096, 0.918397]
    assert unit_hash(np.array(["a-1", "a-2"], dtype=object), 42).round(6).tolist() == [0.230592, 0.650707]


def test_a_row_keeps_its_split_whatever_the_order_or_the_shard_it_is_read_in() -> None:
    ids = np.arange(10_000)
    whole = assign(unit_hash(ids, 7), SPLIT)
    rng = np.random.default_rng(0)
    order = rng.permutation(ids)
    shards = [order[i::3] for i in range(3)]  # three ranks, each its own rows
    for shard in shards:
        assert (assign(unit_hash(shard, 7), SPLIT) == whole[shard]).all()


def test_fractions_follow_the_config_and_the_seed_changes_the_split() -> None:
    ids = np.arange(100_000)
    train, val, test = hash_split_indices(ids, SPLIT)
    assert len(train) + len(val) + len(test) == len(ids)
    assert len(test) / len(ids) == pytest.approx(0.2, abs=0.005)
    assert len(val) / len(ids) == pytest.approx(0.8 * 0.15, abs=0.005)
    other = hash_split_indices(ids, SPLIT.model_copy(update={"seed": 43}))[2]
    overlap = len(np.intersect1d(test, other)) / len(test)
    assert overlap == pytest.approx(0.2, abs=0.02)  # independent draws share a fifth, not all


def test_splits_are_labelled_train_validation_test() -> None:
    u = np.array([0.1, 0.25, 0.9])
    assert assign(u, SPLIT).tolist() == [TEST, VALIDATION, TRAIN]


def test_a_hash_split_without_an_id_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="split.method 'hash' needs split.id_column or data.id_columns"):
        load_config(CONFIG_000, ["split.method=hash"])


def test_the_split_id_must_be_an_id_column_never_a_feature() -> None:
    with pytest.raises(ConfigError, match="split.id_column 'duration' must also be listed in data.id_columns"):
        load_config(CONFIG_000, ["split.method=hash", "split.id_column=duration"])
