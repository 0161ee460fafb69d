"""Fitting the whole model (feature spec, network(s), calibration) from a table.

One code path for the training job and the cross-validation benchmark, so what is
benchmarked is what ships.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
from sklearn.model_selection import train_test_split
from torch import nn

from credit_model.artifact import Calibration, FeatureSpec, NetworkInfo
from training_job.age_policy import apply_age_policy
from training_job.calibration import fit_calibration
from training_job.config import SplitConfig, TrainConfig
from credit_model.frames import frame_to_columns
from training_job.features import build_feature_spec
from training_job.network import CreditNet, Ensemble
from training_job.reason_baseline import favourable_baselines
from credit_model.scoring import calibrated_pd
from training_job.train import EpochCallback, History, fit_network, predict_logits, to_tensors
from credit_model.transform import encode

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


def split_indices(y: np.ndarray, cfg: SplitConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Row indices of the train, validation and test splits."""
    rows = np.arange(len(y))
    strat = y if cfg.stratified else None
    rest, test = train_test_split(rows, test_size=cfg.test_fraction, random_state=cfg.seed, stratify=strat)
    strat_rest = y[rest] if cfg.stratified else None
    train, val = train_test_split(rest, test_size=cfg.validation_fraction, random_state=cfg.seed, stratify=strat_rest)
    return np.sort(train), np.sort(val), np.sort(test)


def resolve_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        return torch.device("cuda")
    return torch.device("cpu")


def fit_model(
    frame: pd.DataFrame,
    y: np.ndarray,
    train_rows: np.ndarray,
    val_rows: np.ndarray,
    cfg: TrainConfig,
    on_epoch: EpochCallback | None = None,
) -> FittedModel:
    opt = cfg.optimisation
    if opt.threads:
        torch.set_num_threads(opt.threads)
    device = resolve_device(opt.device)
    features, info = build_feature_spec(frame, train_rows, cfg.data)
    encoded = encode(frame_to_columns(frame, features), features, info)
    train = {k: v[train_rows] for k, v in encoded.items()}
    val = {k: v[val_rows] for k, v in encoded.items()}
    cats = sorted((f for f in features if f.kind == "categorical"), key=lambda f: f.categorical_index)
    cardinalities = [len(f.categories) + 1 for f in cats]
    members: list[nn.Module] = []
    histories: list[History] = []
    for k in range(opt.seeds):
        seed = cfg.split.seed + k
        torch.manual_seed(seed)
        net = CreditNet(
            info.inputs, info.n_numeric, info.n_flags, cardinalities, cfg.network, numeric_sample=train.get("numeric")
        )
        label = f"seed {seed}" if opt.seeds > 1 else "train"
        callback = on_epoch if k == 0 else None
        histories.append(fit_network(net, train, y[train_rows], val, y[val_rows], opt, seed, device, callback, label))
        members.append(net.cpu())
    model = members[0] if len(members) == 1 else Ensemble(members)
    model.eval()
    val_logit = predict_logits(model, to_tensors(val, info.inputs, torch.device("cpu")))
    calibration = fit_calibration(val_logit, y[val_rows], opt.calibration)
    fitted = FittedModel(features=features, network_info=info, net=model, calibration=calibration, histories=histories)
    fitted.features = favourable_baselines(fitted.logits, features, frame.iloc[train_rows], cfg.split.seed)
    # Regulation B 1002.6(b)(2): ages >= 62 encode as the most favourable age (after the baselines)
    fitted.features = apply_age_policy(fitted.features, cfg.data.age)
    return fitted
