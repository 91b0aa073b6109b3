"""TransferModel: plans set requires_grad and BatchNorm modes that survive `.train()`."""

from __future__ import annotations

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm

from tlcore.config import load_config
from tlcore.errors import ConfigError
from tlcore.freeze import GroupPlan, Plan
from tlcore.model import TransferModel, build_model


def make_model(head: str = "linear") -> TransferModel:
    config = load_config({"backbone": {"name": "timm", "model": "test_efficientnet", "pretrained": False},
                          "head": head, "num_classes": 3})
    return build_model(config)


def frozen_backbone_plan(model: TransferModel, bn_mode: str) -> Plan:
    *backbone, head = model.group_names()
    return Plan(0, (*(GroupPlan(g, False, bn_mode=bn_mode) for g in backbone), GroupPlan(head, True)))  # type: ignore[arg-type]


def bn_stats(model: TransferModel) -> list[torch.Tensor]:
    return [t.clone() for m in model.backbone.modules() if isinstance(m, _BatchNorm)
            for t in (m.running_mean, m.running_var)]


def test_frozen_bn_stays_in_eval_after_train_and_stats_are_bit_identical(images: torch.Tensor) -> None:
    model = make_model()
    model.apply_plan(frozen_backbone_plan(model, "frozen"))
    before = bn_stats(model)
    model.train()
    assert all(not m.training for m in model.backbone.modules() if isinstance(m, _BatchNorm))
    logits = model(images)
    assert all(torch.equal(a, b) for a, b in zip(before, bn_stats(model), strict=True))
    assert logits.requires_grad
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_frozen_backbone_builds_no_autograd_graph(images: torch.Tensor) -> None:
    model = make_model()
    model.apply_plan(frozen_backbone_plan(model, "frozen"))
    seen = []
    model.head.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0]))
    model.train()(images).sum().backward()
    assert seen[0].grad_fn is None and not seen[0].requires_grad


def test_train_stats_mode_updates_statistics_but_not_weights(images: torch.Tensor) -> None:
    model = make_model()
    model.apply_plan(frozen_backbone_plan(model, "train_stats"))
    before = bn_stats(model)
    model.train()(images)
    assert not all(torch.equal(a, b) for a, b in zip(before, bn_stats(model), strict=True))
    assert not any(p.requires_grad for p in model.backbone.parameters())


def test_train_affine_mode_trains_bn_affine_with_statistics_fixed(images: torch.Tensor) -> None:
    model = make_model()
    model.apply_plan(frozen_backbone_plan(model, "train_affine"))
    before = bn_stats(model)
    model.train()(images)
    assert all(torch.equal(a, b) for a, b in zip(before, bn_stats(model), strict=True))
    bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    assert all(m.weight.requires_grad and m.bias.requires_grad for m in bns)
    convs = [m for m in model.backbone.modules() if isinstance(m, torch.nn.Conv2d)]
    assert not any(m.weight.requires_grad for m in convs)


def test_plan_must_name_the_model_groups() -> None:
    model = make_model()
    with pytest.raises(ValueError, match="do not match"):
        model.apply_plan(Plan(0, (GroupPlan("head", True),)))


def test_groups_cover_backbone_and_head_parameters_once() -> None:
    model = make_model("mlp")
    listed = [p for g in model.layer_groups() for p in g.params]
    assert sorted(listed) == sorted(n for n, _ in model.named_parameters())
    assert model.group_names()[-1] == "head"


def test_num_classes_is_required() -> None:
    config = load_config({"backbone": {"name": "timm", "model": "test_vit", "pretrained": False}})
    with pytest.raises(ConfigError, match="num_classes"):
        build_model(config)


def test_trainable_groups_can_keep_pretrained_bn_statistics(images: torch.Tensor) -> None:
    model = make_model()
    *backbone, head = model.group_names()
    model.apply_plan(Plan(0, (*(GroupPlan(g, True, bn_update_stats=False) for g in backbone), GroupPlan(head, True))))
    before = bn_stats(model)
    model.train()(images).sum().backward()
    assert all(torch.equal(a, b) for a, b in zip(before, bn_stats(model), strict=True))
    bns = [m for m in model.backbone.modules() if isinstance(m, _BatchNorm)]
    assert all(not m.training and m.weight.requires_grad for m in bns)
    assert all(m.weight.grad is not None for m in bns)
