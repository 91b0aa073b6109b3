"""What a config will train, phase by phase, before anything trains (``tlcore plan``)."""

from __future__ import annotations

from dataclasses import dataclass

from tlcore.config import ExperimentConfig
from tlcore.freeze import Plan
from tlcore.model import build_model, build_policy


@dataclass(frozen=True)
class PhaseSummary:
    """One phase of training: its epochs and the plan's effect on every group."""

    phase: int
    first_epoch: int
    last_epoch: int
    rows: list[tuple[str, int, bool, float, str]]  # group, parameters, trainable, peak LR, BatchNorm


def summarise(config: ExperimentConfig) -> list[PhaseSummary]:
    """Build the model (without pretrained weights) and list each phase of the policy's plans."""
    structure = config.model_copy(update={
        "backbone": config.backbone.model_copy(update={"pretrained": False, "weights": None}),
        "num_classes": config.num_classes or 2,
    })
    model = build_model(structure)
    policy = build_policy(config.policy)
    sizes = {g.name: sum(dict(model.named_parameters())[p].numel() for p in g.params) for g in model.layer_groups()}
    phases: list[tuple[Plan, int, int]] = []
    for epoch in range(config.trainer.epochs):
        plan = policy.plan(epoch, model.group_names())
        if phases and phases[-1][0].phase == plan.phase:
            phases[-1] = (phases[-1][0], phases[-1][1], epoch)
        else:
            phases.append((plan, epoch, epoch))
    summaries = []
    for plan, first, last in phases:
        rows: list[tuple[str, int, bool, float, str]] = [
            (g.name, sizes[g.name], g.trainable, config.trainer.lr * g.lr_mult if g.trainable else 0.0,
             "train" if g.trainable else g.bn_mode)
            for g in plan.groups
        ]
        summaries.append(PhaseSummary(plan.phase, first, last, rows))
    return summaries


def format_summary(config: ExperimentConfig, summaries: list[PhaseSummary]) -> str:
    """The phases as plain-text tables."""
    trainer = config.trainer
    lines = [f"policy {config.policy.name}; base lr {trainer.lr:g}, {trainer.scheduler} schedule"
             f"{f', {trainer.warmup_epochs:g} warm-up epochs' if trainer.warmup_epochs else ''} "
             f"(the schedule scales every group alike; LRs below are peaks)"]
    width = max(len(row[0]) for s in summaries for row in s.rows)
    for summary in summaries:
        epochs = (f"epoch {summary.first_epoch}" if summary.first_epoch == summary.last_epoch
                  else f"epochs {summary.first_epoch}-{summary.last_epoch}")
        lines.append(f"\nphase {summary.phase} ({epochs})")
        lines.append(f"  {'group':<{width}}  {'params':>10}  {'trains':<6}  {'peak lr':>9}  batchnorm")
        for name, params, trainable, lr, bn in summary.rows:
            lr_text = f"{lr:.3g}" if trainable else "-"
            lines.append(f"  {name:<{width}}  {params:>10,}  {'yes' if trainable else 'no':<6}  {lr_text:>9}  {bn}")
        trained = sum(params for _, params, trainable, _, _ in summary.rows if trainable)
        total = sum(params for _, params, _, _, _ in summary.rows)
        lines.append(f"  trainable: {trained:,} of {total:,} parameters")
    return "\n".join(lines)
