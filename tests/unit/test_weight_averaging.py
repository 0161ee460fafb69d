"""`optimisation.weight_averaging: ema`: what validation scores is the averaged network, and that
network (BatchNorm statistics included) is what the fit returns."""

from __future__ import annotations

import numpy as np
import torch
from sklearn.metrics import roc_auc_score

from training_job.config import NetworkConfig, OptimisationConfig
from training_job.distributed import Group
from training_job.network import CreditNet
from training_job.train import TensorBatches, fit_network, predict_logits

CPU = torch.device("cpu")


def _data(rows: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    x = rng.normal(size=(rows, 3)).astype(np.float32)
    logit = 1.5 * x[:, 0] - x[:, 1] + 0.5 * x[:, 2] ** 2
    y = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    return {"numeric": x}, y


def _fit(averaging: str) -> tuple[CreditNet, float, dict[str, np.ndarray], np.ndarray]:
    rng = np.random.default_rng(0)
    train, y = _data(1000, rng)
    val, y_val = _data(500, rng)
    cfg = OptimisationConfig(epochs=3, patience=3, batch_size=64, lr=0.01, weight_averaging=averaging, ema_epochs=0.5)
    torch.manual_seed(0)
    net = CreditNet(["numeric"], 3, 0, [], NetworkConfig(hidden_sizes=[16]))
    batches = TensorBatches(train, y, ["numeric"], cfg.batch_size, seed=1, group=Group(), device=CPU)
    history = fit_network(net, batches, val, y_val, cfg, 1.0, CPU)
    return net, history.best_val_auc, val, y_val


def test_the_returned_network_is_the_averaged_one_that_was_scored() -> None:
    net, best, val, y_val = _fit("ema")
    kept = roc_auc_score(y_val, predict_logits(net, [torch.as_tensor(val["numeric"])]))
    assert kept == best  # the kept weights are exactly those whose validation AUC was recorded


def test_averaging_changes_the_weights_it_returns() -> None:
    plain, _, _, _ = _fit("none")
    averaged, _, _, _ = _fit("ema")
    moved = [not torch.equal(a, b) for a, b in zip(plain.state_dict().values(), averaged.state_dict().values())]
    assert all(moved[:2]) and any(moved)
