"""The training loop: mini-batch optimisation with early stopping on validation AUC."""

from __future__ import annotations

import copy
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import torch
from sklearn.metrics import roc_auc_score
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from tqdm import tqdm

from training_job.config import OptimisationConfig
from training_job.distributed import Group

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


def positive_weight(negatives: int, positives: int, cfg: OptimisationConfig) -> float:
    if cfg.class_weighting == "none":
        return 1.0
    if cfg.class_weighting == "balanced":
        return float(negatives / max(positives, 1))
    return float(cfg.class_weighting)


class Batches(Protocol):
    """Mini-batches of one epoch for this process: all of them in one process, this rank's share
    under torchrun (every rank yields the same number, so DDP's all-reduces pair up)."""

    steps: int
    """Batches per epoch (at most): the length of the learning-rate schedule."""

    def epoch(self, epoch: int) -> Iterator[tuple[list[torch.Tensor], torch.Tensor]]: ...


def rank_batch_size(batch_size: int, group: Group) -> int:
    """The global batch (`optimisation.batch_size`) split over the ranks: DDP averages the ranks'
    gradients, so N ranks of batch/N rows take the step one process takes with the whole batch."""
    if batch_size % group.world:
        raise ValueError(f"optimisation.batch_size {batch_size} is not divisible by the {group.world} "
                         "processes: each rank takes an equal share of the global batch")
    return batch_size // group.world


class TensorBatches:
    """An in-memory training split. Every rank draws the same permutation and takes every
    world-th row of it (padded like torch's DistributedSampler so all ranks have as many rows)."""

    def __init__(self, train: dict[str, np.ndarray], y: np.ndarray, names: list[str], batch_size: int, seed: int,
                 group: Group, device: torch.device) -> None:
        self.x = to_tensors(train, names, device)
        self.y = torch.as_tensor(y, dtype=torch.float32, device=device)
        self.batch = rank_batch_size(batch_size, group)
        self.group, self.device = group, device
        # one generator across epochs, as a single process always drew its permutations
        self.generator = torch.Generator().manual_seed(seed)
        rows = -(-len(y) // group.world)
        self.steps = max(1, -(-rows // self.batch))

    def epoch(self, epoch: int) -> Iterator[tuple[list[torch.Tensor], torch.Tensor]]:
        n = len(self.y)
        order = torch.randperm(n, generator=self.generator)
        if self.group.distributed:
            per_rank = -(-n // self.group.world)
            order = torch.cat([order, order[: per_rank * self.group.world - n]])[self.group.rank :: self.group.world]
        order = order.to(self.device)
        for i in range(0, len(order), self.batch):
            idx = order[i : i + self.batch]
            if idx.numel() < 2 and n > 1:
                continue  # batchnorm needs two rows (the same skip on every rank: all have as many rows)
            yield [t[idx] for t in self.x], self.y[idx]


def fit_network(
    net: nn.Module,
    batches: Batches,
    val: dict[str, np.ndarray],
    y_val: np.ndarray,
    cfg: OptimisationConfig,
    pos_weight: float,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
    label: str = "train",
    group: Group = Group(),
) -> History:
    """Train `net` in place; on return it holds the weights of the best validation epoch.

    Under torchrun the network is wrapped in DistributedDataParallel (gradients all-reduced), and
    rank 0 alone scores the validation split: its AUC, broadcast, makes every rank take the same
    early-stopping decision and keep the same best weights."""
    net.to(device)
    model: nn.Module = net
    if group.distributed:
        model = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    x_val = to_tensors(val, net.input_names, device) if group.main else []
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=torch.tensor(pos_weight, device=device))
    opt = _optimizer(net, cfg)
    sched = _scheduler(opt, cfg, batches.steps)
    history = History()
    best_state = copy.deepcopy(net.state_dict())
    stale = 0
    show = group.main and sys.stderr.isatty()
    bar = tqdm(range(1, cfg.epochs + 1), desc=label, unit="epoch", disable=not show, leave=False)
    for epoch in bar:
        model.train()
        total = seen = 0.0
        for x, target in batches.epoch(epoch):
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(*x), target)
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step()
            total += float(loss.detach()) * len(target)
            seen += len(target)
        total, seen = group.sum([total, seen])
        val_auc = group.broadcast(float(roc_auc_score(y_val, predict_logits(net, x_val))) if group.main else None)
        row = {"epoch": float(epoch), "train_loss": total / max(seen, 1.0), "val_auc": val_auc}
        history.epochs.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row)
        bar.set_postfix(loss=f"{row['train_loss']:.4f}", val_auc=f"{val_auc:.4f}")
        if bar.disable and group.main:
            log.info("%s epoch %d/%d loss %.4f val_auc %.4f", label, epoch, cfg.epochs, row["train_loss"], val_auc)
        if not val_auc <= history.best_val_auc:  # first epoch (nan) or better
            history.best_val_auc, history.best_epoch = val_auc, epoch
            best_state = copy.deepcopy(net.state_dict())
            stale = 0
        else:
            stale += 1
            if stale >= cfg.patience:
                if group.main:
                    log.info("%s: early stop at epoch %d, best %d (val AUC %.4f)", label, epoch, history.best_epoch,
                             history.best_val_auc)
                break
    bar.close()
    net.load_state_dict(best_state)
    net.eval()
    return history
