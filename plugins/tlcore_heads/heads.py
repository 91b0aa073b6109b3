"""Linear and MLP heads. Both start uninformed: the last layer is zero-initialised."""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import nn

from tlcore.config import HeadConfig
from tlcore.head import Head, zero_init_


class LinearHeadConfig(HeadConfig):
    """Config of the linear head."""

    name: Literal["linear"] = "linear"
    dropout: float = Field(0.0, ge=0, lt=1, description="Dropout on the features before the linear layer.")


class MLPHeadConfig(HeadConfig):
    """Config of the MLP head."""

    name: Literal["mlp"] = "mlp"
    hidden: list[int] = Field(default_factory=lambda: [512], min_length=1,
                              description="Widths of the hidden layers, input to output.")
    dropout: float = Field(0.2, ge=0, lt=1, description="Dropout after each hidden layer.")
    activation: Literal["relu", "gelu"] = Field("gelu", description="Activation after each hidden layer.")


class LinearHead(Head):
    """Dropout then one linear layer, zero-initialised so the first loss is ln(num_classes)."""

    name = "linear"
    config_class = LinearHeadConfig

    def __init__(self, num_features: int, num_classes: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.num_features, self.num_classes = num_features, num_classes
        self.dropout = nn.Dropout(dropout)
        self.fc = zero_init_(nn.Linear(num_features, num_classes))

    @classmethod
    def from_config(cls, config: LinearHeadConfig, num_features: int, num_classes: int) -> LinearHead:
        """Build from config."""
        return cls(num_features, num_classes, config.dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return logits."""
        out: torch.Tensor = self.fc(self.dropout(features))
        return out


class MLPHead(Head):
    """Hidden layers (linear, activation, dropout), then a zero-initialised output layer."""

    name = "mlp"
    config_class = MLPHeadConfig

    def __init__(self, num_features: int, num_classes: int, hidden: list[int], dropout: float = 0.2,
                 activation: Literal["relu", "gelu"] = "gelu") -> None:
        super().__init__()
        self.num_features, self.num_classes = num_features, num_classes
        layers: list[nn.Module] = []
        width = num_features
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU() if activation == "relu" else nn.GELU(), nn.Dropout(dropout)]
            width = size
        self.hidden = nn.Sequential(*layers)
        self.fc = zero_init_(nn.Linear(width, num_classes))

    @classmethod
    def from_config(cls, config: MLPHeadConfig, num_features: int, num_classes: int) -> MLPHead:
        """Build from config."""
        return cls(num_features, num_classes, config.hidden, config.dropout, config.activation)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Return logits."""
        out: torch.Tensor = self.fc(self.hidden(features))
        return out
