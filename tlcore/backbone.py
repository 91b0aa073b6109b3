"""The :class:`Backbone` interface: a pretrained feature extractor split into layer groups."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from tlcore.config import BackboneConfig


class DataConfig(BaseModel):
    """Preprocessing that the backbone's weights expect, kept as data.

    It travels from the backbone into training, checkpoints and the ONNX file.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    input_size: tuple[int, int, int] = Field(description="(channels, height, width) of the network input.")
    mean: tuple[float, ...] = Field(description="Per-channel mean on the 0-1 scale.")
    std: tuple[float, ...] = Field(description="Per-channel standard deviation on the 0-1 scale.")
    interpolation: Literal["nearest", "bilinear", "bicubic"] = Field("bilinear", description="Resize filter.")
    crop_pct: float = Field(0.875, gt=0, le=1, description="Centre-crop fraction used at evaluation.")
    crop_mode: Literal["center", "squash", "border"] = Field("center", description="How the crop is taken.")

    @property
    def in_chans(self) -> int:
        """Number of input channels."""
        return self.input_size[0]

    def with_channels(self, in_chans: int) -> DataConfig:
        """Return this config for ``in_chans`` inputs.

        One channel takes the average of the RGB mean and std. That matches a first
        conv whose RGB weights were summed into one channel: a gray image then gives
        the same activations as that gray image replicated to RGB (exactly so when the
        three channels share one mean and std, as for ``tf_`` EfficientNets).
        """
        if in_chans == self.in_chans:
            return self
        if in_chans != 1:
            raise ValueError(f"cannot derive {in_chans}-channel normalisation from {self.in_chans} channels")
        mean = (sum(self.mean) / len(self.mean),)
        std = (sum(self.std) / len(self.std),)
        return self.model_copy(update={"input_size": (1, *self.input_size[1:]), "mean": mean, "std": std})


@dataclass(frozen=True)
class LayerGroup:
    """A named group of backbone parameters; strategies act on whole groups.

    Attributes:
        name: Unique, readable name, e.g. ``"stem"`` or ``"layer3"``.
        params: Names of the parameters, as in ``backbone.named_parameters()``.
    """

    name: str
    params: tuple[str, ...]


class Backbone(nn.Module, ABC):
    """A feature extractor whose parameters are split into ordered layer groups.

    Subclasses set the class attributes ``name`` (the registry key) and
    ``config_class``, and the instance attributes ``num_features``,
    ``data_config`` and ``weights_source``.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[BackboneConfig]]

    num_features: int
    data_config: DataConfig
    weights_source: str = "random init"

    @classmethod
    @abstractmethod
    def from_config(cls, config: Any) -> Backbone:
        """Build the backbone, loading pretrained weights as the config asks."""

    @abstractmethod
    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Map images ``(B, in_chans, H, W)`` to pooled features ``(B, num_features)``."""

    @abstractmethod
    def layer_groups(self) -> list[LayerGroup]:
        """Return groups from input to output that cover every parameter exactly once."""

    @classmethod
    def list_models(cls, pattern: str = "*") -> list[tuple[str, str]]:
        """Model names this backbone accepts that match ``pattern``, with where pretrained weights come from.

        Returns:
            ``(model, weights)`` pairs, ``weights`` being e.g. ``"hub"``, ``"bundled (package)"`` or
            ``"none"``. Any model also takes a local weights file. The default lists nothing.
        """
        return []

    @property
    def in_chans(self) -> int:
        """Number of input channels the backbone takes."""
        return self.data_config.in_chans

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Same as :meth:`forward_features`."""
        return self.forward_features(x)


def name_groups(param_groups: Sequence[Sequence[str]]) -> list[LayerGroup]:
    """Name ordered lists of parameter names by their common module prefix.

    Prefixes are cut to the shallowest depth at which all names are unique
    (``layer1`` rather than ``layer1.0``). A group without a common prefix is called
    ``stem`` when first, ``top`` when last, else ``group<i>``. Empty groups are dropped.

    Args:
        param_groups: Parameter names per group, input to output.

    Returns:
        The named groups.
    """
    groups = [list(g) for g in param_groups if g]
    prefixes: list[list[str]] = []
    for params in groups:
        prefix: list[str] = []
        for tokens in zip(*(p.split(".")[:-1] for p in params), strict=False):
            if len(set(tokens)) != 1:
                break
            prefix.append(tokens[0])
        prefixes.append(prefix)

    def fallback(index: int) -> str:
        return "stem" if index == 0 else "top" if index == len(groups) - 1 else f"group{index}"

    deepest = max((len(p) for p in prefixes), default=0)
    for depth in range(1, deepest + 1):
        names = [".".join(p[:depth]) or fallback(i) for i, p in enumerate(prefixes)]
        if len(set(names)) == len(names):
            break
    else:
        names = [".".join(p) or fallback(i) for i, p in enumerate(prefixes)]
        names = [n if names.count(n) == 1 else fallback(i) for i, n in enumerate(names)]
        names = [n if names.count(n) == 1 else f"{n}_{i}" for i, n in enumerate(names)]
    return [LayerGroup(name, tuple(params)) for name, params in zip(names, groups, strict=True)]


def group_modules(module: nn.Module, group: LayerGroup) -> list[nn.Module]:
    """Return the submodules whose own parameters all belong to ``group``.

    Used to find the BatchNorm layers of a group.
    """
    members = set(group.params)
    found = []
    for prefix, sub in module.named_modules():
        own = [f"{prefix}.{n}" if prefix else n for n, _ in sub.named_parameters(recurse=False)]
        if own and all(p in members for p in own):
            found.append(sub)
    return found



_NORMS = (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm)


def split_by_modules(module: nn.Module) -> list[list[str]]:
    """Split ``module``'s parameters into ordered groups along its trunk.

    A generic fallback for networks without their own grouping. From the root down,
    a module's children are opened when it has fewer than three children with
    parameters, and a child holding over 90% of them is always opened (``features``
    in torchvision's EfficientNet, ``encoder.layers`` in its ViT).
    Every other child is one group; a normalisation layer joins the group before it
    (a stem conv and its norm), and loose parameters such as a class token join the
    group before them, or the first group. Registration order is taken as
    input-to-output order.

    Args:
        module: The network.

    Returns:
        Lists of parameter names, input to output, covering every parameter once.
    """

    def size(m: nn.Module) -> int:
        return sum(p.numel() for p in m.parameters())

    def parts(m: nn.Module, prefix: str) -> list[tuple[list[str], bool]]:
        """(parameter names, attaches to the previous group) for each piece of ``m``, in order."""
        own = [f"{prefix}{n}" for n, _ in m.named_parameters(recurse=False)]
        found: list[tuple[list[str], bool]] = [(own, True)] if own else []
        children = [(n, c) for n, c in m.named_children() if size(c) > 0]
        total = size(m)
        for name, child in children:
            opened = any(size(c) > 0 for c in child.children()) and (
                len(children) < 3 or 10 * size(child) > 9 * total)
            if opened:
                found.extend(parts(child, f"{prefix}{name}."))
            else:
                names = [f"{prefix}{name}.{n}" for n, _ in child.named_parameters()]
                found.append((names, isinstance(child, _NORMS)))
        return found

    groups: list[list[str]] = []
    pending: list[str] = []
    for names, attaches in parts(module, ""):
        if attaches and groups:
            groups[-1].extend(names)
        elif attaches:
            pending.extend(names)
        else:
            groups.append([*pending, *names])
            pending = []
    if pending:
        groups.append(pending)
    return groups
