"""Learning-rate schedules as one factor per step, applied to every parameter group alike.

Each group's rate is ``initial_lr * factor(step)``, where ``initial_lr`` is the base rate times
the group's multiplier from the freeze plan. Because every schedule is a single factor, the
ratios between groups (discriminative learning rates, layer decay) hold under every schedule,
and rebuilding the optimizer when groups are unfrozen continues the same curve.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Literal

import torch
from torch.optim.lr_scheduler import LambdaLR

ScheduleName = Literal["constant", "cosine", "onecycle", "step"]


def lr_factor(step: int, total_steps: int, schedule: ScheduleName, warmup_steps: int = 0,
              min_factor: float = 0.0, step_every: int = 1, gamma: float = 0.1) -> float:
    """The multiplier of the peak learning rate at ``step`` (0-based).

    Args:
        step: Optimizer steps taken so far.
        total_steps: Steps in the whole run.
        schedule: ``constant``; ``cosine`` (cosine decay to ``min_factor``); ``onecycle``
            (linear warm-up over 30% of the run unless ``warmup_steps`` is set, then cosine
            decay to ``min_factor``); ``step`` (multiply by ``gamma`` every ``step_every`` steps).
        warmup_steps: Linear warm-up from near zero to the peak.
        min_factor: Final factor of the cosine and one-cycle decays.
        step_every: Steps between decays of the ``step`` schedule.
        gamma: Decay of the ``step`` schedule.
    """
    if schedule == "onecycle" and warmup_steps == 0:
        warmup_steps = max(1, int(0.3 * total_steps))
    if step < warmup_steps:
        return (step + 1) / (warmup_steps + 1)
    if schedule == "constant":
        return 1.0
    if schedule == "step":
        return float(gamma ** ((step - warmup_steps) // max(1, step_every)))
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return min_factor + (1 - min_factor) * 0.5 * (1 + math.cos(math.pi * progress))


def build_scheduler(optimizer: torch.optim.Optimizer, start_step: int, total_steps: int, schedule: ScheduleName,
                    warmup_steps: int = 0, min_factor: float = 0.0, step_every: int = 1,
                    gamma: float = 0.1) -> LambdaLR:
    """A ``LambdaLR`` over :func:`lr_factor` that continues at ``start_step``.

    The optimizer's groups must carry ``initial_lr`` (see :func:`tlcore.optim.param_groups`).
    After construction each group's ``lr`` is ``initial_lr * lr_factor(start_step)``.
    """
    factor = partial(lr_factor, total_steps=total_steps, schedule=schedule, warmup_steps=warmup_steps,
                     min_factor=min_factor, step_every=step_every, gamma=gamma)
    return LambdaLR(optimizer, factor, last_epoch=start_step - 1)
