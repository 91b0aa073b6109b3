"""tlcore plugin: every torchvision classification model as a backbone (``backbone.name: torchvision``)."""

from __future__ import annotations

from collections.abc import Callable

from tlcore.hookspecs import hookimpl
from tlcore_torchvision.backbone import TorchvisionBackbone, TorchvisionBackboneConfig

__all__ = ["TorchvisionBackbone", "TorchvisionBackboneConfig", "tlcore_register_backbones"]


@hookimpl
def tlcore_register_backbones(register: Callable[[type], None]) -> None:
    """Register :class:`TorchvisionBackbone`."""
    register(TorchvisionBackbone)
