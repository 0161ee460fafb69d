"""Fitting the whole model (feature spec, network(s), calibration) from a table.

One code path for the training job and the cross-validation benchmark, so what is
benchmarked is what ships.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from credit_model.artifact import Calibration, FeatureSpec, NetworkInfo
from credit_model.frames import frame_to_columns
from credit_model.scoring import calibrated_pd
from credit_model.transform import encode
from training_job.age_policy import apply_age_policy
from training_job.calibration import fit_calibration
from training_job.config import SplitConfig, TrainConfig
from training_job.distributed import Group, device_for
from training_job.features import build_feature_spec
from training_job.hash_split import hash_split_indices
from training_job.network import CreditNet, Ensemble
from training_job.parquet_stream import ParquetBatches, StreamedData
from training_job.reason_baseline import favourable_baselines
from training_job.train import (Batches, EpochCallback, History, TensorBatches, fit_network, positive_weight,
                                predict_logits, to_tensors)

log = logging.getLogger(__name__)


@dataclass
class FittedModel:
    features: list[FeatureSpec]
    network_info: NetworkInfo
    net: nn.Module
    """CPU, eval mode; a CreditNet or an Ensemble of them."""
    calibration: Calibration
    histories: list[History]

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        return encode(frame_to_columns(frame, self.features), self.features, self.network_info)

    def logits(self, frame: pd.DataFrame) -> np.ndarray:
        inputs = self.encode(frame)
        return predict_logits(self.net, to_tensors(inputs, self.network_info.inputs, torch.device("cpu")))

    def predict_pd(self, frame: pd.DataFrame) -> np.ndarray:
        return calibrated_pd(self.logits(frame), self.calibration)


def split_indices(y: np.ndarray, cfg: SplitConfig, ids: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the train, validation and test splits (`ids`: the hash split's id column)."""
    if cfg.method == "hash":
        if ids is None:
            raise ValueError("split.method 'hash' needs the id column")
        return hash_split_indices(ids, cfg)
    rows = np.arange(len(y))
    strat = y if cfg.stratified else None
    rest, test = train_test_split(rows, test_size=cfg.test_fraction, random_state=cfg.seed, stratify=strat)
    strat_rest = y[rest] if cfg.stratified else None
    train, val = train_test_split(rest, test_size=cfg.validation_fraction, random_state=cfg.seed, stratify=strat_rest)
    return np.sort(train), np.sort(val), np.sort(test)


BatchFactory = Callable[[int, torch.device], Batches]
"""(seed, device) → the training batches of one network of the ensemble."""


def fit_model(
    frame: pd.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
    group: Group = Group(),
) -> FittedModel | None:
    """Fit on an in-memory table (None on ranks other than 0, which only help train)."""
    features, info = build_feature_spec(frame, train_rows, cfg.data)
    encoded = encode(frame_to_columns(frame, features), features, info)
    train = {k: v[train_rows] for k, v in encoded.items()}
    val = {k: v[val_rows] for k, v in encoded.items()}
    y_train = y[train_rows]

    def batches(seed: int, device: torch.device) -> Batches:
        return TensorBatches(train, y_train, info.inputs, cfg.optimisation.batch_size, seed, group, device)

    counts = (int((y_train == 0).sum()), int((y_train == 1).sum()))
    return fit_networks(features, info, batches, train.get("numeric"), counts, val, y[val_rows],
                        frame.iloc[train_rows], cfg, on_epoch, group)


def fit_networks(
    features: list[FeatureSpec],
    info: NetworkInfo,
    batches: BatchFactory,
    numeric_sample: np.ndarray | None,
    class_counts: tuple[int, int],
    val: dict[str, np.ndarray],
    y_val: np.ndarray,
    train_sample: pd.DataFrame,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None,
    group: Group,
) -> FittedModel | None:
    """The network(s) of the ensemble, then (rank 0) calibration and reason-code baselines.

    `numeric_sample` (encoded) places piecewise-linear bins, `class_counts` (negatives, positives
    of the training split) weighs the loss, `train_sample` (raw rows) fits the baselines."""
    opt = cfg.optimisation
    if opt.threads:
        torch.set_num_threads(opt.threads)
    device = device_for(opt.device, group)
    cats = sorted((f for f in features if f.kind == "categorical"), key=lambda f: f.categorical_index)
    cardinalities = [len(f.categories) + 1 for f in cats]
    pos_weight = positive_weight(*class_counts, opt)
    members: list[nn.Module] = []
    histories: list[History] = []
    for k in range(opt.seeds):
        seed = cfg.split.seed + k
        torch.manual_seed(seed)
        net = CreditNet(info.inputs, info.n_numeric, info.n_flags, cardinalities, cfg.network,
                        numeric_sample=numeric_sample)
        if group.distributed:
            # the same initial weights everywhere (DDP broadcasts rank 0's), other dropout masks per rank
            torch.manual_seed(seed + 1009 * group.rank)
        label = f"seed {seed}" if opt.seeds > 1 else "train"
        callback = on_epoch if k == 0 else None
        histories.append(fit_network(net, batches(seed, device), val, y_val, opt, pos_weight, device, callback, label,
                                     group))
        members.append(net.cpu())
    if not group.main:
        return None
    model = members[0] if len(members) == 1 else Ensemble(members)
    model.eval()
    val_logit = predict_logits(model, to_tensors(val, info.inputs, torch.device("cpu")))
    calibration = fit_calibration(val_logit, y_val, opt.calibration)
    fitted = FittedModel(features=features, network_info=info, net=model, calibration=calibration, histories=histories)
    fitted.features = favourable_baselines(fitted.logits, features, train_sample, cfg.split.seed)
    # Regulation B 1002.6(b)(2): ages >= 62 encode as the most favourable age (after the baselines)
    fitted.features = apply_age_policy(fitted.features, cfg.data.age)
    return fitted


def fit_streamed(data: StreamedData, cfg: TrainConfig, on_epoch: EpochCallback | None = None,
                 group: Group = Group()) -> FittedModel | None:
    """Fit on a streamed Parquet dataset: the spec from its survey and training sample, the
    networks on every training row, read shard by shard (training_job/parquet_stream.py)."""
    train_rows, val_rows, _ = data.rows
    frame = data.view.frame
    sample = frame.iloc[train_rows]
    features, info = build_feature_spec(sample, np.arange(len(sample)), cfg.data, data.facts)
    val = encode(frame_to_columns(frame.iloc[val_rows], features), features, info)
    numeric = encode(frame_to_columns(sample, features), features, info).get("numeric")

    def batches(seed: int, device: torch.device) -> Batches:
        return ParquetBatches(data, features, info, cfg, seed, group, device)

    return fit_networks(features, info, batches, numeric, data.class_counts, val, data.view.target[val_rows], sample,
                        cfg, on_epoch, group)
