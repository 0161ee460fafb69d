"""The training loop: mini-batch optimisation with early stopping on validation AUC."""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from tqdm import tqdm

from training_job.config import OptimisationConfig

log = logging.getLogger(__name__)

EpochCallback = Callable[[int, dict[str, float]], None]


@dataclass
class History:
    epochs: list[dict[str, float]] = field(default_factory=list)
    best_epoch: int = 0
    best_val_auc: float = float("nan")


def to_tensors(inputs: dict[str, np.ndarray], names: list[str], device: torch.device) -> list[torch.Tensor]:
    return [torch.as_tensor(inputs[n]).to(device) for n in names]


@torch.no_grad()
def predict_logits(net: nn.Module, tensors: list[torch.Tensor], batch_size: int = 8192) -> np.ndarray:
    net.eval()
    n = tensors[0].shape[0]
    out = [net(*(t[i : i + batch_size] for t in tensors)) for i in range(0, n, batch_size)]
    return torch.cat(out).float().cpu().numpy()


def _optimizer(net: nn.Module, cfg: OptimisationConfig) -> torch.optim.Optimizer:
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.SGD(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay, momentum=0.9, nesterov=True)


def _scheduler(opt: torch.optim.Optimizer, cfg: OptimisationConfig, steps_per_epoch: int):
    total = cfg.epochs * steps_per_epoch
    if cfg.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=total)
    if cfg.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=total)
    return None


def positive_weight(y: np.ndarray, cfg: OptimisationConfig) -> float:
    if cfg.class_weighting == "none":
        return 1.0
    if cfg.class_weighting == "balanced":
        return float((y == 0).sum() / max((y == 1).sum(), 1))
    return float(cfg.class_weighting)


def fit_network(
    net: nn.Module,
    train: dict[str, np.ndarray],
    y_train: np.ndarray,
    val: dict[str, np.ndarray],
    y_val: np.ndarray,
    cfg: OptimisationConfig,
    seed: int,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
    label: str = "train",
) -> History:
    """Train `net` in place; on return it holds the weights of the best validation epoch."""
    names = net.input_names
    generator = torch.Generator().manual_seed(seed)
    net.to(device)
    x_train = to_tensors(train, names, device)
    x_val = to_tensors(val, names, device)
    target = torch.as_tensor(y_train, dtype=torch.float32, device=device)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(positive_weight(y_train, cfg), device=device))
    opt = _optimizer(net, cfg)
    n = len(y_train)
    steps = max(1, -(-n // cfg.batch_size))
    sched = _scheduler(opt, cfg, steps)
    history = History()
    best_state = copy.deepcopy(net.state_dict())
    stale = 0
    bar = tqdm(range(1, cfg.epochs + 1), desc=label, unit="epoch", disable=not sys.stderr.isatty(), leave=False)
    for epoch in bar:
        net.train()
        order = torch.randperm(n, generator=generator).to(device)
        total = 0.0
        for i in range(0, n, cfg.batch_size):
            idx = order[i : i + cfg.batch_size]
            if idx.numel() < 2 and n > 1:
                continue  # batchnorm needs two rows
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(*(t[idx] for t in x_train)), target[idx])
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += float(loss.detach()) * idx.numel()
        val_auc = float(roc_auc_score(y_val, predict_logits(net, x_val)))
        row = {"epoch": float(epoch), "train_loss": total / n, "val_auc": val_auc}
        history.epochs.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row)
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val_auc=f"{val_auc:.4f}")
        if bar.disable:
            log.info("%s epoch %d/%d loss %.4f val_auc %.4f", label, epoch, cfg.epochs, row["train_loss"], val_auc)
        if not val_auc <= history.best_val_auc:  # first epoch (nan) or better
            history.best_val_auc, history.best_epoch = val_auc, epoch
            best_state = copy.deepcopy(net.state_dict())
            stale = 0
        else:
            stale += 1
            if stale >= cfg.patience:
                log.info("%s: early stop at epoch %d, best %d (val AUC %.4f)", label, epoch, history.best_epoch, history.best_val_auc)
                break
    bar.close()
    net.load_state_dict(best_state)
    net.eval()
    return history
