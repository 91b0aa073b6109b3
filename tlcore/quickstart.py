"""A short, offline end-to-end run on real photographs bundled with scikit-image.

Three grayscale texture photographs (brick, grass, gravel) are cut into crops:
crops from the left half of each photograph train, crops from the right half
validate. EfficientNet-Lite0 with its bundled ImageNet weights is trained by
feature extraction and compared with the same network trained from scratch.
Every number printed is measured in the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from tlcore.backbone import DataConfig
from tlcore.config import load_config
from tlcore.errors import TlcoreError
from tlcore.model import build_model
from tlcore.trainer import Trainer

TEXTURES = ("brick", "grass", "gravel")


def _photographs() -> dict[str, np.ndarray]:
    try:
        import skimage.data
    except ImportError:
        raise TlcoreError("the quickstart needs scikit-image for its photographs: "
                          "pip install 'tlcore[quickstart]'") from None
    return {name: getattr(skimage.data, name)() for name in TEXTURES}


def texture_crops(size: int, train_per_class: int, val_per_class: int, seed: int = 0) -> tuple[
        TensorDataset, TensorDataset]:
    """Random ``size`` px crops as float tensors in [0, 1], shape ``(N, 1, size, size)``.

    Train crops come from the left half of each photograph, validation crops from the right.
    """
    rng = np.random.default_rng(seed)
    splits: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "val": ([], [])}
    for label, image in enumerate(_photographs().values()):
        half = image.shape[1] // 2
        for split, count, x0 in (("train", train_per_class, 0), ("val", val_per_class, half)):
            for _ in range(count):
                y = int(rng.integers(0, image.shape[0] - size))
                x = int(rng.integers(x0, x0 + half - size))
                splits[split][0].append(image[y:y + size, x:x + size])
                splits[split][1].append(label)

    def dataset(split: str) -> TensorDataset:
        crops, labels = splits[split]
        pixels = torch.from_numpy(np.stack(crops)).float().div(255).unsqueeze(1)
        return TensorDataset(pixels, torch.tensor(labels))

    return dataset("train"), dataset("val")


def normalised(data: TensorDataset, config: DataConfig) -> TensorDataset:
    """Replicate gray to the backbone's channels and normalise with its mean and std."""
    pixels, labels = data.tensors
    pixels = pixels.expand(-1, config.in_chans, -1, -1)
    mean = torch.tensor(config.mean).view(1, -1, 1, 1)
    std = torch.tensor(config.std).view(1, -1, 1, 1)
    return TensorDataset((pixels - mean) / std, labels)


def run(size: int = 128, epochs: int = 8, log: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Train both arms and return one result row per arm."""
    torch.set_flush_denormal(True)
    train, val = texture_crops(size, train_per_class=24, val_per_class=16)
    arms = {
        "from scratch (fine_tuning, random init)": {"pretrained": False, "policy": "fine_tuning", "lr": 3e-3},
        "pretrained (feature_extraction)": {"pretrained": True, "policy": "feature_extraction", "lr": 1e-2},
    }
    rows = []
    log(f"quickstart: {len(train)} train / {len(val)} validation crops of {size} px from "
        f"{', '.join(TEXTURES)} (scikit-image photographs); backbone tf_efficientnet_lite0")
    for arm, options in arms.items():
        config = load_config({
            "backbone": {"name": "timm", "model": "tf_efficientnet_lite0", "pretrained": options["pretrained"]},
            "policy": {"name": options["policy"]},
            "num_classes": len(TEXTURES),
            "trainer": {"epochs": epochs, "batch_size": 16, "lr": options["lr"], "device": "cpu"},
        })
        model = build_model(config)
        trainer = Trainer.from_config(config)
        started = time.perf_counter()
        history = trainer.fit(model, normalised(train, model.backbone.data_config),
                              normalised(val, model.backbone.data_config))
        seconds = time.perf_counter() - started
        rows.append({"arm": arm, "weights": model.backbone.weights_source,
                     "val_accuracy": history[-1]["val_accuracy"], "seconds": seconds})
        log(f"  {arm:<42} val accuracy {history[-1]['val_accuracy']:.3f}  ({seconds:.1f} s)")
    return rows
