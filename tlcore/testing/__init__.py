"""Contract checks that any plugin author can run on their own components.

Each check raises :class:`AssertionError` with a message saying what is wrong, so
it reads well inside pytest::

    from tlcore.testing import check_backbone_class
    from my_plugin import MyBackbone, MyBackboneConfig

    def test_my_backbone_contract():
        check_backbone_class(MyBackbone, MyBackboneConfig(pretrained=False))
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

from tlcore.backbone import Backbone, DataConfig
from tlcore.freeze import HEAD_GROUP, FreezePolicy, Plan
from tlcore.head import Head

__all__ = ["check_backbone", "check_backbone_class", "check_freeze_policy", "check_head"]


def check_backbone(backbone: Backbone, image_size: int = 32, batch_size: int = 2) -> None:
    """Check one backbone instance: metadata, layer groups and output shape.

    Args:
        backbone: The backbone to check.
        image_size: Side of the random test images.
        batch_size: Number of test images.
    """
    kind = type(backbone).__qualname__
    assert isinstance(backbone, Backbone), f"{kind} does not subclass tlcore.Backbone"
    assert isinstance(backbone.num_features, int) and backbone.num_features > 0, f"{kind}.num_features must be > 0"
    config = backbone.data_config
    assert isinstance(config, DataConfig), f"{kind}.data_config must be a tlcore.DataConfig"
    assert len(config.mean) == len(config.std) == config.in_chans, (
        f"{kind}.data_config has {len(config.mean)} means and {len(config.std)} stds for {config.in_chans} channels")
    assert all(s > 0 for s in config.std), f"{kind}.data_config.std must be positive"
    assert isinstance(backbone.weights_source, str) and backbone.weights_source, f"{kind}.weights_source is empty"

    groups = backbone.layer_groups()
    assert groups, f"{kind}.layer_groups() is empty"
    names = [g.name for g in groups]
    assert len(set(names)) == len(names), f"{kind}.layer_groups() names repeat: {names}"
    assert HEAD_GROUP not in names, f"{kind}.layer_groups() must not use the reserved name '{HEAD_GROUP}'"
    listed = Counter(p for g in groups for p in g.params)
    actual = {name for name, _ in backbone.named_parameters()}
    twice = sorted(p for p, n in listed.items() if n > 1)
    assert not twice, f"{kind}: parameters in more than one group: {twice[:5]}"
    missing, unknown = sorted(actual - set(listed)), sorted(set(listed) - actual)
    assert not missing, f"{kind}: parameters in no group: {missing[:5]}"
    assert not unknown, f"{kind}: groups name unknown parameters: {unknown[:5]}"

    backbone.eval()
    with torch.no_grad():
        features = backbone.forward_features(torch.randn(batch_size, backbone.in_chans, image_size, image_size))
    expected = (batch_size, backbone.num_features)
    assert tuple(features.shape) == expected, f"{kind}.forward_features gave {tuple(features.shape)}, want {expected}"
    assert torch.isfinite(features).all(), f"{kind}.forward_features gave non-finite values"


def check_backbone_class(backbone_class: type[Backbone], config: Any, image_size: int = 32) -> None:
    """Build ``backbone_class`` from ``config`` with 3 and with 1 input channels and check both.

    The 1-channel build must take one mean and std and have groups named like the RGB build.
    """
    rgb = backbone_class.from_config(config.model_copy(update={"in_chans": 3}))
    check_backbone(rgb, image_size)
    gray = backbone_class.from_config(config.model_copy(update={"in_chans": 1}))
    check_backbone(gray, image_size)
    assert gray.in_chans == 1, f"{backbone_class.__qualname__} ignored in_chans=1"
    assert [g.name for g in gray.layer_groups()] == [g.name for g in rgb.layer_groups()], (
        "layer groups differ between 1 and 3 input channels")


def check_head(head_class: type[Head], config: Any, num_features: int = 16, num_classes: int = 4,
               uninformed: bool = True) -> None:
    """Check a head: output shape and, by default, an uninformed start (loss about ln(num_classes))."""
    head = head_class.from_config(config, num_features, num_classes)
    assert isinstance(head, Head), f"{head_class.__qualname__} does not subclass tlcore.Head"
    head.eval()
    features = torch.randn(8, num_features)
    logits = head(features)
    assert tuple(logits.shape) == (8, num_classes), f"head gave {tuple(logits.shape)}, want (8, {num_classes})"
    if uninformed:
        loss = torch.nn.functional.cross_entropy(logits, torch.randint(0, num_classes, (8,))).item()
        assert abs(loss - math.log(num_classes)) < 0.05, (
            f"first loss {loss:.3f} is not ln({num_classes}) = {math.log(num_classes):.3f}: initialise the last "
            "layer so that a new head starts uninformed (tlcore.head.zero_init_)")


def check_freeze_policy(policy: FreezePolicy, groups: Sequence[str] = ("stem", "stage1", "stage2", "stage3"),
                        epochs: int = 12) -> list[Plan]:
    """Check a policy's plans over ``epochs`` epochs for a backbone with ``groups``.

    Every plan must list exactly the groups plus ``head``, in order, with at least one
    trainable group, positive finite LR multipliers and phases that never go back.

    Returns:
        The plans, one per epoch, for further checks.
    """
    names = [*groups, HEAD_GROUP]
    plans = [policy.plan(epoch, names) for epoch in range(epochs)]
    for epoch, plan in enumerate(plans):
        assert isinstance(plan, Plan), f"plan for epoch {epoch} is not a tlcore.Plan"
        assert [g.name for g in plan.groups] == names, f"epoch {epoch}: plan groups {plan.groups} != {names}"
        assert any(g.trainable for g in plan.groups), f"epoch {epoch}: nothing trains"
        for group in plan.groups:
            assert math.isfinite(group.lr_mult) and group.lr_mult > 0, f"epoch {epoch}: bad lr_mult in {group}"
        if epoch:
            assert plan.phase >= plans[epoch - 1].phase, f"epoch {epoch}: phase went back"
    return plans
