"""The process group of a `torchrun` launch, and the single-process case as the same object.

torchrun (and Kubeflow Trainer's torch runtime, which sets torchrun's PET_* options) gives
every process RANK, WORLD_SIZE and LOCAL_RANK; without them the job is one process and every
collective below is the identity, so the training code has one path for both.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True)
class Group:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    collective_device: str = "cpu"
    """Where the tensors of a collective live: NCCL reduces CUDA tensors only."""

    @property
    def main(self) -> bool:
        """Rank 0: the one process that logs, evaluates, exports and registers."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1

    def broadcast(self, value: T) -> T:
        """Rank 0's `value` on every rank (any picklable object)."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def gather(self, value: T) -> list[T]:
        """Every rank's `value`, in rank order, on every rank."""
        if not self.distributed:
            return [value]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, value)
        return out

    def sum(self, values: list[float]) -> list[float]:
        if not self.distributed:
            return list(values)
        t = torch.tensor(values, dtype=torch.float64, device=self.collective_device)
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t.tolist()

    def barrier(self) -> None:
        if self.distributed:
            dist.barrier()


def device_for(name: str, group: Group) -> torch.device:
    """The config's device; under torchrun on GPUs each process takes the GPU of its LOCAL_RANK."""
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if group.distributed:
            torch.cuda.set_device(group.local_rank)
            return torch.device("cuda", group.local_rank)
        return torch.device("cuda")
    return torch.device("cpu")


@contextmanager
def process_group(device_name: str) -> Iterator[Group]:
    """Join torchrun's process group (gloo on CPU, NCCL on GPU) for the block, or run alone."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield Group()
        return
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    gpu = device_name == "cuda" or (device_name == "auto" and torch.cuda.is_available())
    backend = "nccl" if gpu else "gloo"
    if gpu:
        # before the first collective: NCCL's object broadcasts use the current device, and two
        # ranks left on GPU 0 fail with "duplicate GPU"
        torch.cuda.set_device(local_rank)
    group = Group(rank=int(os.environ["RANK"]), world=world, local_rank=local_rank,
                  collective_device=f"cuda:{local_rank}" if gpu else "cpu")
    dist.init_process_group(backend=backend)
    log.info("rank %d of %d (local rank %d), backend %s", group.rank, group.world, group.local_rank, backend)
    try:
        yield group
    finally:
        dist.destroy_process_group()
