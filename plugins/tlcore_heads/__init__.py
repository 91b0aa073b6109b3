"""tlcore plugin: the built-in ``linear`` and ``mlp`` heads."""

from __future__ import annotations

from collections.abc import Callable

from tlcore.hookspecs import hookimpl
from tlcore_heads.heads import LinearHead, LinearHeadConfig, MLPHead, MLPHeadConfig

__all__ = ["LinearHead", "LinearHeadConfig", "MLPHead", "MLPHeadConfig", "tlcore_register_heads"]


@hookimpl
def tlcore_register_heads(register: Callable[[type], None]) -> None:
    """Register :class:`LinearHead` and :class:`MLPHead`."""
    register(LinearHead)
    register(MLPHead)
