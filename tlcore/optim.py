"""Optimizer parameter groups built from a :class:`~tlcore.freeze.Plan`."""

from __future__ import annotations

from typing import Any

import torch

from tlcore.config import TrainerConfig
from tlcore.freeze import Plan


def param_groups(model: Any, plan: Plan, lr: float, weight_decay: float) -> list[dict[str, Any]]:
    """One optimizer group per trainable layer group (two when it has 1-D parameters).

    Each group carries ``group`` (the layer-group name), ``lr_mult`` and ``lr = lr * lr_mult``.
    Biases and normalisation weights (1-D tensors) get no weight decay. Frozen
    parameters are left out, so the optimizer never spends state or time on them.

    Args:
        model: A :class:`~tlcore.model.TransferModel` on which ``plan`` has been applied.
        plan: The current plan.
        lr: Base learning rate.
        weight_decay: Weight decay of matrices and kernels.
    """
    params = dict(model.named_parameters())
    groups: list[dict[str, Any]] = []
    for layer_group in model.layer_groups():
        entry = plan.group(layer_group.name)
        trainable = [params[n] for n in layer_group.params if params[n].requires_grad]
        decay = [p for p in trainable if p.ndim > 1]
        no_decay = [p for p in trainable if p.ndim <= 1]
        for tensors, wd in ((decay, weight_decay), (no_decay, 0.0)):
            if tensors:
                groups.append({"params": tensors, "group": entry.name, "lr_mult": entry.lr_mult,
                               "lr": lr * entry.lr_mult, "initial_lr": lr * entry.lr_mult, "weight_decay": wd})
    return groups


def build_optimizer(model: Any, plan: Plan, config: TrainerConfig) -> torch.optim.Optimizer:
    """Create the configured optimizer over the plan's trainable groups."""
    groups = param_groups(model, plan, config.lr, config.weight_decay)
    if not groups:
        raise ValueError("the freeze plan leaves no trainable parameter; check the policy config")
    # Fused kernels update all tensors of a group at once: on CPU, AdamW's step takes about a
    # fifth of the time of the default multi-tensor path (benchmarks/trainer_overhead.py).
    fused = all(p.is_floating_point() and p.device.type in ("cpu", "cuda") for g in groups for p in g["params"])
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=config.lr, momentum=config.momentum, nesterov=config.momentum > 0,
                               fused=fused)
    return torch.optim.AdamW(groups, lr=config.lr, fused=fused)
