"""ULMFiT-style gradual unfreezing and discriminative learning rates."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, field_validator, model_validator

from tlcore.config import FreezePolicyConfig, component_config_class
from tlcore.freeze import BNMode, FreezePolicy, GroupPlan, Plan
from tlcore.model import build_policy


class UnfreezePhase(BaseModel):
    """One phase of an explicit unfreezing schedule."""

    model_config = ConfigDict(extra="forbid")

    epoch: int = Field(ge=0, description="First epoch of the phase.")
    train_top_groups: int | Literal["all"] = Field(description="Backbone groups trained, counted from the top.")


def _policy_config(data: dict[str, Any]) -> FreezePolicyConfig:
    """Validate ``data`` with the config class of the policy it names."""
    config_class = component_config_class("policy", str(data.get("name", "")))
    return cast(FreezePolicyConfig, config_class.model_validate(data))


class GradualUnfreezingConfig(FreezePolicyConfig):
    """Config of ``gradual_unfreezing``: the head first, then one more group at a time, top down."""

    name: Literal["gradual_unfreezing"] = "gradual_unfreezing"
    every: int = Field(1, ge=1, description="Epochs per phase: one more group every `every` epochs.")
    head_epochs: int | None = Field(None, ge=0, description="Epochs that train the head alone first (on cached "
                                    "features when possible); default `every`.")
    groups_per_phase: int = Field(1, ge=1, description="Backbone groups unfrozen at each phase change.")
    phases: list[UnfreezePhase] | None = Field(
        None, description="Explicit schedule instead of `every`: a list of {epoch, train_top_groups}, the first at "
        "epoch 0, epochs increasing.")
    bn_mode: BNMode = Field("frozen", description="BatchNorm mode of the groups still frozen.")
    unfrozen_bn: Literal["update", "frozen"] = Field(
        "update", description="BatchNorm statistics of unfrozen groups: update re-estimates them from the new data; "
        "frozen keeps the pretrained ones while the affine weights train.")

    @field_validator("phases")
    @classmethod
    def _increasing(cls, phases: list[UnfreezePhase] | None) -> list[UnfreezePhase] | None:
        if phases is not None:
            epochs = [p.epoch for p in phases]
            if not epochs or epochs[0] != 0 or epochs != sorted(set(epochs)):
                raise ValueError(f"phase epochs must start at 0 and increase, got {epochs}")
        return phases


class GradualUnfreezing(FreezePolicy):
    """Unfreeze from the top down: phase ``k`` trains the head and the top ``k * groups_per_phase`` groups."""

    name = "gradual_unfreezing"
    config_class = GradualUnfreezingConfig
    config: GradualUnfreezingConfig

    def _phase(self, epoch: int, num_groups: int) -> tuple[int, int]:
        """(phase index, backbone groups trained) at ``epoch``."""
        if self.config.phases is not None:
            index = max(i for i, p in enumerate(self.config.phases) if p.epoch <= epoch)
            top = self.config.phases[index].train_top_groups
            return index, num_groups if top == "all" else min(top, num_groups)
        head = self.config.every if self.config.head_epochs is None else self.config.head_epochs
        max_phase = -(-num_groups // self.config.groups_per_phase)
        phase = 0 if epoch < head else min(1 + (epoch - head) // self.config.every, max_phase)
        return phase, min(phase * self.config.groups_per_phase, num_groups)

    def plan(self, epoch: int, groups: Sequence[str]) -> Plan:
        """Head plus the top groups of the current phase; the rest frozen."""
        *backbone, head = groups
        phase, top = self._phase(epoch, len(backbone))
        first = len(backbone) - top
        update = self.config.unfrozen_bn == "update"
        entries = tuple(GroupPlan(g, trainable=i >= first, bn_mode=self.config.bn_mode, bn_update_stats=update)
                        for i, g in enumerate(backbone))
        return Plan(phase=phase, groups=(*entries, GroupPlan(head, trainable=True)))


class DiscriminativeLRConfig(FreezePolicyConfig):
    """Config of ``discriminative_lr``: learning rates that decay from the top, over another policy."""

    name: Literal["discriminative_lr"] = "discriminative_lr"
    factor: float = Field(2.6, gt=1, description="ULMFiT divisor: each group one step further from the top trains "
                          "`factor` times slower (lr_mult = factor ** -distance).")
    layer_decay: float | None = Field(None, gt=0, lt=1, description="timm-style layer decay instead of `factor`: "
                                      "lr_mult = layer_decay ** distance.")
    base: SerializeAsAny[FreezePolicyConfig] = Field(
        default_factory=lambda: _policy_config({"name": "fine_tuning"}),
        description="The policy that decides which groups train, e.g. {name: gradual_unfreezing}.")

    @field_validator("base", mode="before")
    @classmethod
    def _resolve_base(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = {"name": value}
        if isinstance(value, dict):
            return _policy_config(value)
        return value

    @model_validator(mode="after")
    def _not_nested(self) -> DiscriminativeLRConfig:
        if self.base.name == self.name:
            raise ValueError("base cannot itself be discriminative_lr")
        return self


class DiscriminativeLR(FreezePolicy):
    """Scale each group's rate by its distance from the top; the head (distance 0) keeps the base rate.

    Which groups train, the phases and BatchNorm modes come from the ``base`` policy, so this
    composes with any policy, e.g. gradual unfreezing with discriminative rates.
    """

    name = "discriminative_lr"
    config_class = DiscriminativeLRConfig
    config: DiscriminativeLRConfig

    def __init__(self, config: DiscriminativeLRConfig) -> None:
        super().__init__(config)
        self.base = build_policy(config.base)

    @property
    def decay(self) -> float:
        """Multiplier per step of distance from the top."""
        return self.config.layer_decay if self.config.layer_decay is not None else 1 / self.config.factor

    def plan(self, epoch: int, groups: Sequence[str]) -> Plan:
        """The base plan with ``lr_mult`` multiplied by ``decay ** distance_from_top``."""
        base = self.base.plan(epoch, groups)
        last = len(base.groups) - 1
        scaled = tuple(GroupPlan(g.name, g.trainable, g.lr_mult * self.decay ** (last - i), g.bn_mode,
                                 g.bn_update_stats) for i, g in enumerate(base.groups))
        return Plan(phase=base.phase, groups=scaled)


class RecipeConfig(FreezePolicyConfig):
    """Config of ``recipe``, the default strategy: feature extraction, then gradual unfreezing with
    discriminative learning rates."""

    name: Literal["recipe"] = "recipe"
    head_epochs: int = Field(2, ge=0, description="Epochs that train the head alone on cached features.")
    every: int = Field(1, ge=1, description="Then one more backbone group (top down) every `every` epochs.")
    factor: float = Field(2.6, gt=1, description="Each group one step further from the top trains `factor` times "
                          "slower (ULMFiT).")
    bn_mode: BNMode = Field("frozen", description="BatchNorm mode of the groups still frozen.")
    unfrozen_bn: Literal["update", "frozen"] = Field(
        "frozen", description="BatchNorm statistics of unfrozen groups; frozen keeps the pretrained ones (measured: "
        "re-estimating them late, on small batches of shifted data, cost accuracy).")


class Recipe(FreezePolicy):
    """Two stages: the head on a frozen backbone (cheap, cached), then ULMFiT-style gradual unfreezing
    from the top with rates decaying by ``factor`` per group. It is ``discriminative_lr`` over
    ``gradual_unfreezing``, with defaults chosen by measurement (see the docs' strategy guide)."""

    name = "recipe"
    config_class = RecipeConfig
    config: RecipeConfig

    def __init__(self, config: RecipeConfig) -> None:
        super().__init__(config)
        base = GradualUnfreezingConfig(head_epochs=config.head_epochs, every=config.every, bn_mode=config.bn_mode,
                                       unfrozen_bn=config.unfrozen_bn)
        self.inner = DiscriminativeLR(DiscriminativeLRConfig(factor=config.factor, base=base))

    def plan(self, epoch: int, groups: Sequence[str]) -> Plan:
        """The plan of ``discriminative_lr`` over ``gradual_unfreezing``."""
        return self.inner.plan(epoch, groups)
