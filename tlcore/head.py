"""The :class:`Head` interface: pooled backbone features to class logits."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import torch
from torch import nn

from tlcore.config import HeadConfig


class Head(nn.Module, ABC):
    """Maps features ``(B, num_features)`` to logits ``(B, num_classes)``.

    A new head should start *uninformed*: its first predictions are uniform, so the
    first loss is about ``ln(num_classes)``. :func:`zero_init_` does that for the last
    linear layer.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[HeadConfig]]

    num_features: int
    num_classes: int

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any, num_features: int, num_classes: int) -> Head:
        """Build the head for ``num_features`` inputs and ``num_classes`` outputs."""

    @abstractmethod
    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return logits ``(B, num_classes)``."""


def zero_init_(layer: nn.Linear) -> nn.Linear:
    """Zero a linear layer's weight and bias in place, so its outputs start uniform."""
    nn.init.zeros_(layer.weight)
    if layer.bias is not None:
        nn.init.zeros_(layer.bias)
    return layer
