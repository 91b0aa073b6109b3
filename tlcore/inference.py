"""Scoring a dataset with a model: features cached when possible, sharded and gathered under DDP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from tlcore import distributed
from tlcore.model import TransferModel

if TYPE_CHECKING:
    from tlcore.trainer import Trainer


def shard_outputs(trainer: Trainer, model: nn.Module, data: Dataset[Any]) -> Iterator[tuple[torch.Tensor,
                                                                                          torch.Tensor]]:
    """(logits, labels) batches of this process's shard of ``data``."""
    cached = trainer.cached_features(model, data) if isinstance(model, TransferModel) else None
    source, forward = data, model
    if cached is not None and isinstance(model, TransferModel):
        source, forward = TensorDataset(cached[0][0], cached[1]), model.head
    sampler = distributed.ShardSampler(len(source), trainer.context)  # type: ignore[arg-type]
    loader = DataLoader(source, batch_size=trainer.config.batch_size, sampler=sampler,
                        num_workers=trainer.workers(source), generator=trainer.generator(-1))
    for batch in loader:
        inputs, labels = (batch[0], batch[1]) if isinstance(batch, list | tuple) else (batch, torch.empty(0))
        with trainer.autocast():
            yield forward(inputs.to(trainer.device)).float().cpu(), labels


@torch.no_grad()
def score(trainer: Trainer, model: nn.Module, data: Dataset[Any]) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits and labels of every sample of ``data``, in dataset order, on every process."""
    was_training = model.training
    model.to(trainer.device).eval()
    outputs = list(shard_outputs(trainer, model, data))
    model.train(was_training)
    logits = torch.cat([o[0] for o in outputs]) if outputs else torch.empty(0, 0)
    labels = torch.cat([o[1] for o in outputs]) if outputs else torch.empty(0)
    indices = distributed.ShardSampler(len(data), trainer.context).indices  # type: ignore[arg-type]
    parts = distributed.gather((indices, logits, labels), trainer.context)
    order = np.argsort(np.concatenate([np.asarray(p[0], dtype=np.int64) for p in parts]), kind="stable")
    all_logits = torch.cat([p[1] for p in parts if len(p[1])])[order]
    all_labels = torch.cat([p[2] for p in parts if len(p[2])]).long()[order] if any(len(p[2]) for p in parts) \
        else torch.empty(0, dtype=torch.long)
    return all_logits, all_labels
