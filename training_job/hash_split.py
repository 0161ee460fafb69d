"""The split by a stable hash of each row's id: train, validation or test follows from the id
alone, so every torchrun rank, every re-run and every re-ordering or re-sharding of the data
agree on it without a shuffle of the whole table in memory.

pandas' `hash_array` is the hash: SipHash-2-4 with a fixed key for text, a fixed 64-bit mix for
numbers; both are stable across runs and machines (pandas uses them for on-disk partitioning).
The seed is mixed in with a second round, so another `split.seed` gives another split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from training_job.config import SplitConfig

TRAIN, VALIDATION, TEST = 0, 1, 2
_SEED_MIX = 0x9E3779B97F4A7C15  # the golden-ratio constant of splitmix64
_MASK = (1 << 64) - 1


def unit_hash(ids: np.ndarray, seed: int) -> np.ndarray:
    """A float in [0, 1) per id, uniform over ids, fixed by (id, seed)."""
    first = pd.util.hash_array(np.asarray(ids), categorize=False)
    mixed = pd.util.hash_array(first ^ np.uint64((seed * _SEED_MIX) & _MASK), categorize=False)
    return (mixed >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def bounds(cfg: SplitConfig) -> tuple[float, float]:
    """[0, test) is test, [test, validation) validation, the rest training."""
    test = cfg.test_fraction
    return test, test + cfg.validation_fraction * (1 - test)


def assign(u: np.ndarray, cfg: SplitConfig) -> np.ndarray:
    """The split of each row (TRAIN, VALIDATION or TEST) from its `unit_hash`."""
    test, validation = bounds(cfg)
    return np.where(u < test, TEST, np.where(u < validation, VALIDATION, TRAIN)).astype(np.int8)


def hash_split_indices(ids: np.ndarray, cfg: SplitConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the train, validation and test splits of an in-memory table."""
    split = assign(unit_hash(ids, cfg.seed), cfg)
    return tuple(np.flatnonzero(split == s) for s in (TRAIN, VALIDATION, TEST))  # type: ignore[return-value]
