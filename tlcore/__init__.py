"""tlcore: transfer learning on images.

Importing :mod:`tlcore` is cheap: it loads neither torch, timm, torchvision,
onnxruntime nor any plugin. Public names are imported on first access.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS = {
    "Backbone": "tlcore.backbone",
    "DataConfig": "tlcore.backbone",
    "LayerGroup": "tlcore.backbone",
    "Head": "tlcore.head",
    "FreezePolicy": "tlcore.freeze",
    "GroupPlan": "tlcore.freeze",
    "Plan": "tlcore.freeze",
    "TransferModel": "tlcore.model",
    "build_backbone": "tlcore.model",
    "build_head": "tlcore.model",
    "build_model": "tlcore.model",
    "build_policy": "tlcore.model",
    "Trainer": "tlcore.trainer",
    "train": "tlcore.runner",
    "extract_features": "tlcore.features",
    "Callback": "tlcore.callbacks",
    "ExperimentConfig": "tlcore.config",
    "BackboneConfig": "tlcore.config",
    "HeadConfig": "tlcore.config",
    "FreezePolicyConfig": "tlcore.config",
    "TrainerConfig": "tlcore.config",
    "load_config": "tlcore.config",
    "hookimpl": "tlcore.hookspecs",
    "registry": "tlcore.plugins",
    "register_plugin": "tlcore.plugins",
    "TlcoreError": "tlcore.errors",
    "ConfigError": "tlcore.errors",
}

__all__ = ["__version__", *_EXPORTS]

if TYPE_CHECKING:
    from tlcore.backbone import Backbone, DataConfig, LayerGroup
    from tlcore.callbacks import Callback
    from tlcore.config import (
        BackboneConfig,
        ExperimentConfig,
        FreezePolicyConfig,
        HeadConfig,
        TrainerConfig,
        load_config,
    )
    from tlcore.errors import ConfigError, TlcoreError
    from tlcore.features import extract_features
    from tlcore.freeze import FreezePolicy, GroupPlan, Plan
    from tlcore.head import Head
    from tlcore.hookspecs import hookimpl
    from tlcore.model import TransferModel, build_backbone, build_head, build_model, build_policy
    from tlcore.plugins import register_plugin, registry
    from tlcore.runner import train
    from tlcore.trainer import Trainer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'tlcore' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
