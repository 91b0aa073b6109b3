"""The built-in strategies: plans, configs, composition, and fits on every kind of backbone."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import TensorDataset

from tlcore.config import load_config
from tlcore.errors import ConfigError
from tlcore.model import build_model, build_policy
from tlcore.plugins import registry
from tlcore.testing import check_freeze_policy
from tlcore.trainer import Trainer

GROUPS = ["stem", "l1", "l2", "l3", "head"]


def policy(config: dict[str, object]):  # type: ignore[no-untyped-def]
    full = load_config({"backbone": {"name": "timm", "model": "test_resnet", "pretrained": False},
                        "policy": config})
    return build_policy(full.policy)


def trainable(plan) -> list[str]:  # type: ignore[no-untyped-def]
    return [g.name for g in plan.groups if g.trainable]


@pytest.mark.parametrize("name", ["feature_extraction", "fine_tuning", "gradual_unfreezing", "discriminative_lr",
                                  "recipe"])
def test_contract(name: str) -> None:
    check_freeze_policy(policy({"name": name}))


def test_gradual_unfreezing_goes_top_down_every_n_epochs() -> None:
    plans = [policy({"name": "gradual_unfreezing", "every": 2}).plan(e, GROUPS) for e in range(10)]
    assert [trainable(p) for p in plans[::2]] == [["head"], ["l3", "head"], ["l2", "l3", "head"],
                                                   ["l1", "l2", "l3", "head"], GROUPS]
    assert [p.phase for p in plans] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_gradual_unfreezing_explicit_phases() -> None:
    unfreeze = policy({"name": "gradual_unfreezing", "phases": [
        {"epoch": 0, "train_top_groups": 0}, {"epoch": 3, "train_top_groups": 2},
        {"epoch": 5, "train_top_groups": "all"}]})
    assert [trainable(unfreeze.plan(e, GROUPS)) for e in (0, 2, 3, 4, 5, 9)] == [
        ["head"], ["head"], ["l2", "l3", "head"], ["l2", "l3", "head"], GROUPS, GROUPS]
    assert [unfreeze.plan(e, GROUPS).phase for e in (0, 3, 5)] == [0, 1, 2]


def test_invalid_phases_are_field_errors() -> None:
    with pytest.raises(ConfigError, match=r"policy\.phases: Value error, phase epochs must start at 0"):
        policy({"name": "gradual_unfreezing", "phases": [{"epoch": 1, "train_top_groups": 1}]})
    with pytest.raises(ConfigError, match=r"policy\.factor: Input should be greater than 1"):
        policy({"name": "discriminative_lr", "factor": 0.5})
    with pytest.raises(ConfigError, match=r"policy\.base\.name: unknown policy 'gradual'"):
        policy({"name": "discriminative_lr", "base": "gradual"})


def test_discriminative_rates_decay_by_2_6_from_the_top() -> None:
    plan = policy({"name": "discriminative_lr"}).plan(0, GROUPS)
    assert [g.lr_mult for g in plan.groups] == pytest.approx([2.6**-4, 2.6**-3, 2.6**-2, 2.6**-1, 1.0])
    assert all(g.trainable for g in plan.groups)
    layer_decay = policy({"name": "discriminative_lr", "layer_decay": 0.75}).plan(0, GROUPS)
    assert [g.lr_mult for g in layer_decay.groups] == pytest.approx([0.75**4, 0.75**3, 0.75**2, 0.75, 1.0])


def test_discriminative_rates_compose_with_gradual_unfreezing() -> None:
    combined = policy({"name": "discriminative_lr", "base": {"name": "gradual_unfreezing", "every": 1}})
    plan = combined.plan(2, GROUPS)
    assert trainable(plan) == ["l2", "l3", "head"] and plan.phase == 2
    assert plan.group("l2").lr_mult == pytest.approx(2.6**-2)


BACKBONES = {
    "timm": {"name": "timm", "model": "test_efficientnet", "pretrained": False},
    "torchvision": {"name": "torchvision", "model": "mobilenet_v3_small", "pretrained": False},
    "third_party": {"name": "tiny_cnn", "width": 4},
}
POLICIES = {
    "feature_extraction": {"name": "feature_extraction"},
    "fine_tuning_top2": {"name": "fine_tuning", "train_top_groups": 2},
    "gradual": {"name": "gradual_unfreezing", "every": 1},
    "gradual_discriminative": {"name": "discriminative_lr", "base": {"name": "gradual_unfreezing"}},
}


@pytest.mark.parametrize("backbone", BACKBONES)
@pytest.mark.parametrize("strategy", POLICIES)
def test_every_policy_trains_every_kind_of_backbone(backbone: str, strategy: str, example_plugin: object) -> None:
    config = load_config({"backbone": BACKBONES[backbone], "policy": POLICIES[strategy], "num_classes": 2,
                          "trainer": {"epochs": 2, "batch_size": 4, "lr": 0.01, "device": "cpu"}})
    model = build_model(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer.from_config(config)
    generator = torch.Generator().manual_seed(0)
    trainer.fit(model, TensorDataset(torch.randn(8, 3, 32, 32, generator=generator), torch.tensor([0, 1] * 4)))
    ever_trained: set[str] = set()
    for epoch in range(2):
        plan = trainer.plan_for(model, epoch)
        names = {g.name for g in plan.groups if g.trainable}
        ever_trained |= {p for g in model.layer_groups() if g.name in names for p in g.params}
    after = model.state_dict()
    for name, _ in model.named_parameters():
        assert torch.equal(before[name], after[name]) == (name not in ever_trained), name
    assert len(registry("policy")) >= 4


def test_recipe_is_the_default_and_starts_with_the_head_alone() -> None:
    config = load_config({"backbone": {"name": "timm", "model": "test_resnet", "pretrained": False}})
    assert config.policy.name == "recipe"
    recipe = build_policy(config.policy)
    plans = [recipe.plan(epoch, GROUPS) for epoch in range(6)]
    assert [trainable(p) for p in plans] == [["head"], ["head"], ["l3", "head"], ["l2", "l3", "head"],
                                             ["l1", "l2", "l3", "head"], GROUPS]
    assert [g.lr_mult for g in plans[-1].groups] == pytest.approx([2.6**-4, 2.6**-3, 2.6**-2, 2.6**-1, 1.0])


def test_gradual_unfreezing_head_epochs() -> None:
    unfreeze = policy({"name": "gradual_unfreezing", "head_epochs": 3, "every": 2})
    assert [unfreeze.plan(e, GROUPS).phase for e in range(8)] == [0, 0, 0, 1, 1, 2, 2, 3]
