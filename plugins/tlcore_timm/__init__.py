"""tlcore plugin: every timm model as a backbone (``backbone.name: timm``)."""

from __future__ import annotations

from collections.abc import Callable

from tlcore.hookspecs import hookimpl
from tlcore_timm.backbone import TimmBackbone, TimmBackboneConfig

__all__ = ["TimmBackbone", "TimmBackboneConfig", "tlcore_register_backbones"]


@hookimpl
def tlcore_register_backbones(register: Callable[[type], None]) -> None:
    """Register :class:`TimmBackbone`."""
    register(TimmBackbone)
