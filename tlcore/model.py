""":class:`TransferModel` (backbone + head) and the builders that make components from configs."""

from __future__ import annotations

from typing import Any, cast

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from tlcore.backbone import Backbone, LayerGroup, group_modules
from tlcore.config import BackboneConfig, ExperimentConfig, FreezePolicyConfig, HeadConfig
from tlcore.errors import ConfigError, PluginError
from tlcore.freeze import HEAD_GROUP, FreezePolicy, Plan
from tlcore.head import Head
from tlcore.reproducibility import seed_everything


class TransferModel(nn.Module):
    """A backbone with a new head, trained group by group under a :class:`~tlcore.freeze.Plan`.

    After :meth:`apply_plan`, frozen parameters have ``requires_grad=False``, and the
    BatchNorm layers of frozen groups keep the plan's mode even after ``model.train()``.
    When the whole backbone is frozen, its forward runs without building an autograd graph.

    Args:
        backbone: The feature extractor.
        head: The classifier on top of the pooled features.
    """

    def __init__(self, backbone: Backbone, head: Head) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        self._eval_modules: list[nn.Module] = []
        self._backbone_frozen = False
        self.backbone_is_constant = False
        names = [g.name for g in backbone.layer_groups()]
        if HEAD_GROUP in names or len(set(names)) != len(names):
            raise PluginError(f"{type(backbone).__qualname__}.layer_groups() must return unique names other "
                              f"than '{HEAD_GROUP}', got {names}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits for images ``x``."""
        if self._backbone_frozen:
            with torch.no_grad():
                features = self.backbone.forward_features(x)
        else:
            features = self.backbone.forward_features(x)
        return cast(torch.Tensor, self.head(features))

    def layer_groups(self) -> list[LayerGroup]:
        """The backbone's groups (parameter names prefixed ``backbone.``), then the head's."""
        groups = [LayerGroup(g.name, tuple(f"backbone.{p}" for p in g.params)) for g in self.backbone.layer_groups()]
        groups.append(LayerGroup(HEAD_GROUP, tuple(f"head.{n}" for n, _ in self.head.named_parameters())))
        return groups

    def group_names(self) -> list[str]:
        """Names of :meth:`layer_groups`, input to output."""
        return [g.name for g in self.layer_groups()]

    def apply_plan(self, plan: Plan) -> None:
        """Set ``requires_grad`` and BatchNorm modes of every group as ``plan`` says.

        When the whole backbone is frozen and no group updates BatchNorm statistics, the
        backbone is a constant function: it is kept entirely in eval mode (dropout and
        drop-path off too), which is what makes its features cacheable.
        """
        groups = self.layer_groups()
        if [g.name for g in groups] != [g.name for g in plan.groups]:
            raise ValueError(f"plan groups {[g.name for g in plan.groups]} do not match the model's "
                             f"{[g.name for g in groups]}")
        params = dict(self.named_parameters())
        self._eval_modules = []
        for group in groups:
            entry = plan.group(group.name)
            for name in group.params:
                params[name].requires_grad_(entry.trainable)
            if entry.trainable and not entry.bn_update_stats:
                self._eval_modules += [m for m in group_modules(self, group) if isinstance(m, _BatchNorm)]
            if entry.trainable or entry.bn_mode == "train_stats":
                continue
            for module in group_modules(self, group):
                if isinstance(module, _BatchNorm):
                    self._eval_modules.append(module)
                    if entry.bn_mode == "train_affine":
                        module.requires_grad_(True)
        self._backbone_frozen = not any(p.requires_grad for p in self.backbone.parameters())
        updates_stats = any(not g.trainable and g.bn_mode == "train_stats" for g in plan.groups)
        self.backbone_is_constant = self._backbone_frozen and not updates_stats
        if self.backbone_is_constant:
            self._eval_modules = [self.backbone]
        self.train(self.training)

    def train(self, mode: bool = True) -> TransferModel:
        """Switch train/eval mode, keeping frozen BatchNorm layers (or a frozen backbone) in eval mode."""
        super().train(mode)
        for module in self._eval_modules:
            module.eval()
        return self


def build_backbone(config: BackboneConfig) -> Backbone:
    """Build the backbone registered under ``config.name``."""
    from tlcore.plugins import registry

    return cast(Backbone, registry("backbone").get(config.name).component.from_config(config))


def build_head(config: HeadConfig, num_features: int, num_classes: int) -> Head:
    """Build the head registered under ``config.name``."""
    from tlcore.plugins import registry

    return cast(Head, registry("head").get(config.name).component.from_config(config, num_features, num_classes))


def build_policy(config: FreezePolicyConfig) -> FreezePolicy:
    """Build the freeze policy registered under ``config.name``."""
    from tlcore.plugins import registry

    return cast(FreezePolicy, registry("policy").get(config.name).component.from_config(config))


def build_model(config: ExperimentConfig, num_classes: int | None = None) -> TransferModel:
    """Build backbone and head from an experiment config, seeded with ``config.trainer.seed``.

    Args:
        config: The experiment.
        num_classes: Overrides ``config.num_classes`` (e.g. when taken from the data).

    Raises:
        ConfigError: Neither argument gives the number of classes.
    """
    classes: Any = num_classes or config.num_classes
    if classes is None:
        raise ConfigError("num_classes: not set; give it in the config or take it from the data.")
    seed_everything(config.trainer.seed)
    backbone = build_backbone(config.backbone)
    head = build_head(config.head, backbone.num_features, int(classes))
    return TransferModel(backbone, head)
