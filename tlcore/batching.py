"""Batches of indices per epoch: seeded shuffling, class-balanced sampling, DDP sharding, resumable."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Subset, TensorDataset

from tlcore.distributed import DistContext


def dataset_labels(data: Dataset[Any]) -> np.ndarray:
    """Integer labels of every sample: from a ``TensorDataset``, a ``targets``/``labels`` attribute, or a pass."""
    if isinstance(data, TensorDataset):
        labels: np.ndarray = np.asarray(data.tensors[1].tolist(), dtype=np.int64)
        return labels
    if isinstance(data, Subset):
        subset: np.ndarray = dataset_labels(data.dataset)[np.asarray(data.indices)]
        return subset
    for attribute in ("targets", "labels"):
        values = getattr(data, attribute, None)
        if values is not None and len(values) == len(data):  # type: ignore[arg-type]
            return np.asarray(values, dtype=np.int64)
    return np.array([int(data[i][1]) for i in range(len(data))], dtype=np.int64)  # type: ignore[arg-type]


def class_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """Inverse-frequency weights ``N / (C * count_c)``; a class without samples gets weight 0."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    weights = np.divide(len(labels), num_classes * counts, out=np.zeros(num_classes), where=counts > 0)
    return torch.tensor(weights, dtype=torch.float32)


def epoch_batches(length: int, batch_size: int, seed: int, epoch: int, context: DistContext,
                  sample_weights: torch.Tensor | None = None, skip: int = 0) -> list[list[int]]:
    """This process's batches of one training epoch.

    The order depends only on ``seed`` and ``epoch``, so a resumed run sees the same batches.
    With ``sample_weights`` samples are drawn with replacement (class-balanced sampling).
    Under DDP the order is padded to a multiple of the world size and dealt out by rank,
    as ``DistributedSampler`` does.

    Args:
        length: Number of samples.
        batch_size: Samples per batch on this process.
        seed: Run seed.
        epoch: Epoch index.
        context: Rank and world size.
        sample_weights: Per-sample weights for balanced sampling, or ``None`` to shuffle.
        skip: Batches already done in this epoch (when resuming mid-epoch).
    """
    generator = torch.Generator().manual_seed(seed * 100_003 + epoch)
    if sample_weights is not None:
        order = torch.multinomial(sample_weights, length, replacement=True, generator=generator).tolist()
    else:
        order = torch.randperm(length, generator=generator).tolist()
    if context.distributed:
        padded = -(-length // context.world_size) * context.world_size
        order = (order * (padded // max(length, 1) + 1))[:padded][context.rank::context.world_size]
    batches = [order[i:i + batch_size] for i in range(0, len(order), batch_size)]
    return batches[skip:]
