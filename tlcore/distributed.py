"""Running under ``torchrun``: process group, samplers and collectives (torch's own DDP engine)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.distributed as dist
from torch.utils.data import Sampler


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: its rank among ``world_size`` processes and its device."""

    rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        """Rank 0: the only process that writes files and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """More than one process."""
        return self.world_size > 1


def setup(device: str) -> DistContext:
    """Join the process group when launched by ``torchrun`` (``WORLD_SIZE > 1``).

    The backend is nccl on CUDA and gloo on CPU. Without torchrun, returns a single-process
    context on the requested device.

    Args:
        device: ``auto``, ``cpu`` or ``cuda``.
    """
    wanted = "cuda" if device == "auto" and torch.cuda.is_available() else ("cpu" if device == "auto" else device)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(device=torch.device(wanted))
    if not dist.is_initialized():
        dist.init_process_group("nccl" if wanted == "cuda" else "gloo")
    rank, local_rank = dist.get_rank(), int(os.environ.get("LOCAL_RANK", "0"))
    if wanted == "cuda":
        torch.cuda.set_device(local_rank)
        return DistContext(rank, world_size, torch.device("cuda", local_rank))
    return DistContext(rank, world_size, torch.device("cpu"))


def all_reduce_sum(values: list[float], context: DistContext) -> list[float]:
    """Sum ``values`` over all processes."""
    if not context.distributed:
        return values
    tensor = torch.tensor(values, dtype=torch.float64, device=context.device)
    dist.all_reduce(tensor)
    return [float(v) for v in tensor.tolist()]


def gather(obj: Any, context: DistContext) -> list[Any]:
    """Every process's ``obj``, in rank order."""
    if not context.distributed:
        return [obj]
    gathered: list[Any] = [None] * context.world_size
    dist.all_gather_object(gathered, obj)
    return gathered


def broadcast(obj: Any, context: DistContext) -> Any:
    """Rank 0's ``obj`` on every process."""
    if not context.distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


class ShardSampler(Sampler[int]):
    """Every ``world_size``-th index from ``rank``, without the padding ``DistributedSampler`` adds.

    Used for evaluation, so each sample is scored exactly once across processes.
    """

    def __init__(self, length: int, context: DistContext) -> None:
        self.indices = list(range(context.rank, length, context.world_size))

    def __iter__(self) -> Iterator[int]:
        return iter(self.indices)

    def __len__(self) -> int:
        return len(self.indices)
