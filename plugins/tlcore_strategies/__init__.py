"""tlcore plugin: the built-in transfer-learning strategies (freeze policies)."""

from __future__ import annotations

from collections.abc import Callable

from tlcore.hookspecs import hookimpl
from tlcore_strategies.gradual import (
    DiscriminativeLR,
    DiscriminativeLRConfig,
    GradualUnfreezing,
    GradualUnfreezingConfig,
    Recipe,
    RecipeConfig,
)
from tlcore_strategies.policies import (
    FeatureExtraction,
    FeatureExtractionConfig,
    FineTuning,
    FineTuningConfig,
)

__all__ = [
    "DiscriminativeLR",
    "DiscriminativeLRConfig",
    "FeatureExtraction",
    "FeatureExtractionConfig",
    "FineTuning",
    "FineTuningConfig",
    "GradualUnfreezing",
    "GradualUnfreezingConfig",
    "Recipe",
    "RecipeConfig",
    "tlcore_register_freeze_policies",
]


@hookimpl
def tlcore_register_freeze_policies(register: Callable[[type], None]) -> None:
    """Register the built-in strategies."""
    register(FeatureExtraction)
    register(FineTuning)
    register(GradualUnfreezing)
    register(DiscriminativeLR)
    register(Recipe)
