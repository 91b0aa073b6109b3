"""Feature extraction and fine-tuning policies."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from pydantic import Field

from tlcore.config import FreezePolicyConfig
from tlcore.freeze import BNMode, FreezePolicy, GroupPlan, Plan


class FeatureExtractionConfig(FreezePolicyConfig):
    """Config of ``feature_extraction``: the backbone is frozen, only the head trains."""

    name: Literal["feature_extraction"] = "feature_extraction"
    bn_mode: BNMode = Field("frozen", description="BatchNorm mode of the frozen backbone.")


class FeatureExtraction(FreezePolicy):
    """Train the head on a frozen backbone; no autograd graph is built through the backbone."""

    name = "feature_extraction"
    config_class = FeatureExtractionConfig
    config: FeatureExtractionConfig

    def plan(self, epoch: int, groups: Sequence[str]) -> Plan:
        """Every backbone group frozen, the head trainable."""
        *backbone, head = groups
        frozen = tuple(GroupPlan(g, trainable=False, bn_mode=self.config.bn_mode) for g in backbone)
        return Plan(phase=0, groups=(*frozen, GroupPlan(head, trainable=True)))


class FineTuningConfig(FreezePolicyConfig):
    """Config of ``fine_tuning``: all groups, or only the top ones, train from the start."""

    name: Literal["fine_tuning"] = "fine_tuning"
    train_top_groups: int | None = Field(
        None, ge=0, description="Train only this many backbone groups, counted from the top (fastai's "
        "`freeze_to(-n)`); all groups when unset.")
    bn_mode: BNMode = Field("frozen", description="BatchNorm mode of the groups left frozen.")


class FineTuning(FreezePolicy):
    """Train the head and all (or the top ``train_top_groups``) backbone groups at the base rate."""

    name = "fine_tuning"
    config_class = FineTuningConfig
    config: FineTuningConfig

    def plan(self, epoch: int, groups: Sequence[str]) -> Plan:
        """The same plan every epoch."""
        *backbone, head = groups
        top = len(backbone) if self.config.train_top_groups is None else self.config.train_top_groups
        first_trainable = max(0, len(backbone) - top)
        entries = tuple(GroupPlan(g, trainable=i >= first_trainable, bn_mode=self.config.bn_mode)
                        for i, g in enumerate(backbone))
        return Plan(phase=0, groups=(*entries, GroupPlan(head, trainable=True)))
