"""The :class:`FreezePolicy` interface: which layer groups train, how fast, and BatchNorm modes."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from tlcore.config import FreezePolicyConfig

BNMode = Literal["frozen", "train_stats", "train_affine"]
"""What BatchNorm does inside a *frozen* group.

* ``frozen``: eval mode; running statistics and affine parameters are untouched.
* ``train_stats``: train mode; running statistics update, affine parameters stay fixed.
* ``train_affine``: eval mode; statistics untouched, but the affine scale and shift train.
"""

HEAD_GROUP = "head"
"""Name of the head's group; it always comes last in a plan."""


@dataclass(frozen=True)
class GroupPlan:
    """What one layer group does during a phase.

    Attributes:
        name: The layer group (a backbone group, or ``"head"``).
        trainable: Whether the group's parameters are optimised.
        lr_mult: Multiplier of the base learning rate (used only when trainable).
        bn_mode: BatchNorm behaviour when the group is frozen.
        bn_update_stats: When the group trains, whether its BatchNorm layers re-estimate their
            running statistics (train mode). False keeps the pretrained statistics while the
            affine weights train, Keras's advice for fine-tuning: new batch statistics in lower
            layers shift everything above them.
    """

    name: str
    trainable: bool
    lr_mult: float = 1.0
    bn_mode: BNMode = "frozen"
    bn_update_stats: bool = True


@dataclass(frozen=True)
class Plan:
    """The state of every layer group during one phase of training.

    Attributes:
        phase: Index of the phase; the trainer rebuilds its optimizer when it changes.
        groups: One entry per group, input to output, the head last.
    """

    phase: int
    groups: tuple[GroupPlan, ...]

    def group(self, name: str) -> GroupPlan:
        """Return the entry for ``name``."""
        for group in self.groups:
            if group.name == name:
                return group
        raise KeyError(f"no group {name!r} in plan; groups: {[g.name for g in self.groups]}")


class FreezePolicy(ABC):
    """A training strategy, expressed as a plan per epoch over named layer groups.

    Policies see only group names, so every policy works on every backbone.

    Args:
        config: The policy's validated config.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[FreezePolicyConfig]]

    def __init__(self, config: Any) -> None:
        self.config = config

    @classmethod
    def from_config(cls, config: Any) -> FreezePolicy:
        """Build the policy from its config."""
        return cls(config)

    @abstractmethod
    def plan(self, epoch: int, groups: Sequence[str]) -> Plan:
        """Return the plan for ``epoch`` (0-based).

        Args:
            epoch: The epoch about to run.
            groups: Layer-group names from input to output; the last is ``"head"``.
        """
