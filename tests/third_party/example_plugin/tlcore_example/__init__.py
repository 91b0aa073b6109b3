"""An example third-party tlcore plugin: one backbone, one head and one policy."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from pydantic import Field
from torch import nn

from tlcore import hookimpl
from tlcore.backbone import Backbone, DataConfig, LayerGroup
from tlcore.config import BackboneConfig, FreezePolicyConfig, HeadConfig
from tlcore.freeze import FreezePolicy, GroupPlan, Plan
from tlcore.head import Head, zero_init_


class TinyCNNConfig(BackboneConfig):
    name: Literal["tiny_cnn"] = "tiny_cnn"
    pretrained: bool = False
    width: int = Field(8, ge=1, description="Channels of the first conv.")


class TinyCNN(Backbone):
    """Two conv stages and global average pooling."""

    name = "tiny_cnn"
    config_class = TinyCNNConfig

    def __init__(self, width: int, in_chans: int) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(in_chans, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU())
        self.stage = nn.Sequential(nn.Conv2d(width, 2 * width, 3, stride=2, padding=1), nn.BatchNorm2d(2 * width),
                                   nn.ReLU())
        self.num_features = 2 * width
        self.data_config = DataConfig(input_size=(3, 32, 32), mean=(0.5,) * 3, std=(0.25,) * 3).with_channels(in_chans)

    @classmethod
    def from_config(cls, config: TinyCNNConfig) -> TinyCNN:
        return cls(config.width, config.in_chans)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stage(self.stem(x)).mean(dim=(2, 3))

    def layer_groups(self) -> list[LayerGroup]:
        return [LayerGroup(part, tuple(f"{part}.{n}" for n, _ in getattr(self, part).named_parameters()))
                for part in ("stem", "stage")]


class NormLinearHeadConfig(HeadConfig):
    name: Literal["norm_linear"] = "norm_linear"
    dropout: float = Field(0.1, ge=0, lt=1, description="Dropout after the LayerNorm.")


class NormLinearHead(Head):
    """LayerNorm, dropout, then a zero-initialised linear layer."""

    name = "norm_linear"
    config_class = NormLinearHeadConfig

    def __init__(self, num_features: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.num_features, self.num_classes = num_features, num_classes
        self.norm = nn.LayerNorm(num_features)
        self.dropout = nn.Dropout(dropout)
        self.fc = zero_init_(nn.Linear(num_features, num_classes))

    @classmethod
    def from_config(cls, config: NormLinearHeadConfig, num_features: int, num_classes: int) -> NormLinearHead:
        return cls(num_features, num_classes, config.dropout)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.norm(features)))


class HeadFirstConfig(FreezePolicyConfig):
    name: Literal["head_first"] = "head_first"
    head_epochs: int = Field(1, ge=0, description="Epochs that train only the head.")


class HeadFirst(FreezePolicy):
    """Train the head alone for ``head_epochs`` epochs, then everything."""

    name = "head_first"
    config_class = HeadFirstConfig

    def plan(self, epoch: int, groups: Sequence[str]) -> Plan:
        *backbone, head = groups
        phase = int(epoch >= self.config.head_epochs)
        return Plan(phase, (*(GroupPlan(g, trainable=bool(phase)) for g in backbone), GroupPlan(head, True)))


@hookimpl
def tlcore_register_backbones(register):
    register(TinyCNN)


@hookimpl
def tlcore_register_heads(register):
    register(NormLinearHead)


@hookimpl
def tlcore_register_freeze_policies(register):
    register(HeadFirst)
