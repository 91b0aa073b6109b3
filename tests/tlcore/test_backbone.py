"""Generic layer grouping, group naming and DataConfig channel handling."""

from __future__ import annotations

import pytest
from torch import nn

from tlcore.backbone import DataConfig, name_groups, split_by_modules


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.token = nn.Parameter(nn.init.zeros_(nn.Parameter(nn.Linear(1, 4).weight)))
        self.conv = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        widths = [(4, 16), (16, 16), (16, 4)]  # the body holds over 90% of the parameters, so it is opened
        self.body = nn.Sequential(*(nn.Sequential(nn.Conv2d(i, o, 3), nn.BatchNorm2d(o)) for i, o in widths))
        self.norm = nn.LayerNorm(4)
        self.pool = nn.AdaptiveAvgPool2d(1)


def test_split_follows_the_trunk_and_covers_every_parameter_once() -> None:
    net = Net()
    groups = split_by_modules(net)
    assert [p for g in groups for p in g] == [n for n, _ in net.named_parameters()]
    named = name_groups(groups)
    assert [g.name for g in named] == ["stem", "body.0", "body.1", "top"]
    assert named[0].params == ("token", "conv.weight", "conv.bias", "bn.weight", "bn.bias")
    assert named[-1].params[-2:] == ("norm.weight", "norm.bias")


def test_names_are_cut_to_the_shallowest_unique_prefix() -> None:
    groups = name_groups([["a.w"], ["blocks.0.x.w"], ["blocks.1.x.w"], [], ["z.w", "y.w"]])
    assert [g.name for g in groups] == ["a", "blocks.0", "blocks.1", "top"]


def test_gray_data_config_averages_rgb_statistics() -> None:
    rgb = DataConfig(input_size=(3, 64, 64), mean=(0.4, 0.5, 0.6), std=(0.1, 0.2, 0.3))
    gray = rgb.with_channels(1)
    assert gray.input_size == (1, 64, 64)
    assert gray.mean == pytest.approx((0.5,)) and gray.std == pytest.approx((0.2,))
    assert rgb.with_channels(3) is rgb
