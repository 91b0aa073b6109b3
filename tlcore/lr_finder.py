"""The learning-rate range test (Smith, 2017): loss against an exponentially growing LR."""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset, TensorDataset

from tlcore.model import TransferModel
from tlcore.trainer import Trainer


@dataclass
class LRFinderResult:
    """Learning rates tried, their smoothed losses, and the suggested rate."""

    lrs: list[float]
    losses: list[float]
    suggestion: float

    def plot(self, path: Path) -> Path:
        """Loss against LR (log scale), with the suggestion marked."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, axis = plt.subplots(figsize=(6, 4))
        axis.plot(self.lrs, self.losses)
        axis.axvline(self.suggestion, color="red", linestyle="--", label=f"suggested {self.suggestion:.2g}")
        axis.set(xscale="log", xlabel="learning rate", ylabel="smoothed training loss", title="LR range test")
        axis.legend()
        figure.tight_layout()
        figure.savefig(path, dpi=100)
        plt.close(figure)
        return path


def find_lr(trainer: Trainer, model: TransferModel, data: Dataset[Any], start: float = 1e-6, end: float = 1.0,
            steps: int = 80, smoothing: float = 0.9) -> LRFinderResult:
    """Train for up to ``steps`` batches while the base LR grows from ``start`` to ``end``.

    The policy's first plan decides what trains (the head alone on cached features for a
    strategy that starts with feature extraction), and its per-group multipliers apply. The
    model's weights are restored afterwards. The suggestion is the rate where the smoothed loss
    falls fastest, a common choice (fastai's ``steep``).
    """
    original = copy.deepcopy(model.state_dict())
    model.to(trainer.device)
    plan = trainer.plan_for(model, 0)
    model.apply_plan(plan)
    cached = trainer.cached_features(model, data)
    source: Dataset[Any] = TensorDataset(cached[0][0], cached[1]) if cached is not None else data
    forward: nn.Module = model.head if cached is not None else model
    from tlcore.optim import build_optimizer

    optimizer = build_optimizer(model, plan, trainer.config.model_copy(update={"lr": start}))
    factor = (end / start) ** (1 / max(1, steps - 1))
    lrs: list[float] = []
    losses: list[float] = []
    average, best = 0.0, math.inf
    model.train()
    batches = 0
    while batches < steps:
        loader = DataLoader(source, batch_size=trainer.config.batch_size, shuffle=True,
                            generator=torch.Generator().manual_seed(batches))
        for inputs, targets in loader:
            lr = start * factor**batches
            for group in optimizer.param_groups:
                group["lr"] = lr * group["lr_mult"]
            loss = nn.functional.cross_entropy(forward(inputs.to(trainer.device)), targets.to(trainer.device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            optimizer.step()
            average = smoothing * average + (1 - smoothing) * loss.item()
            smoothed = average / (1 - smoothing ** (batches + 1))
            lrs.append(lr)
            losses.append(smoothed)
            best = min(best, smoothed)
            batches += 1
            if batches >= steps or not math.isfinite(smoothed) or smoothed > 4 * best:
                batches = steps
                break
    model.load_state_dict(original)
    gradients = np.gradient(np.array(losses), np.log(np.array(lrs))) if len(lrs) > 2 else np.zeros(1)
    suggestion = lrs[int(np.argmin(gradients))] if len(lrs) > 2 else start
    return LRFinderResult(lrs, losses, suggestion)
