"""Feature extraction with the feature cache against recomputing the frozen backbone every epoch.

Pretrained EfficientNet-Lite0 (bundled ImageNet weights), real photographs (crops of
scikit-image's brick, grass and gravel textures), 10 epochs, the same seed and split
for both arms, in one run. Prints the wall-time ratio and both validation accuracies;
the last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import time

import torch

from tlcore.config import load_config
from tlcore.model import build_model
from tlcore.sample_data import normalised, texture_crops
from tlcore.trainer import Trainer


def run_arm(cache: str, size: int, epochs: int, train: object, val: object) -> tuple[float, float]:
    config = load_config({
        "backbone": {"name": "timm", "model": "tf_efficientnet_lite0"},
        "policy": {"name": "feature_extraction"},
        "num_classes": 3,
        "trainer": {"epochs": epochs, "batch_size": 32, "lr": 0.01, "device": "cpu", "feature_cache": cache},
    })
    model = build_model(config)
    train_set, val_set = (normalised(d, model.backbone.data_config) for d in (train, val))  # type: ignore[arg-type]
    started = time.perf_counter()
    history = Trainer.from_config(config).fit(model, train_set, val_set)
    return time.perf_counter() - started, history[-1]["val_accuracy"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=160)
    parser.add_argument("--train-per-class", type=int, default=60)
    parser.add_argument("--val-per-class", type=int, default=30)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.set_flush_denormal(True)
    train, val = texture_crops(args.size, args.train_per_class, args.val_per_class)
    print(f"{len(train)} train / {len(val)} val crops at {args.size} px, {args.epochs} epochs, "
          f"{torch.get_num_threads()} threads")
    cached_s, cached_acc = run_arm("memory", args.size, args.epochs, train, val)
    print(f"with cache:      {cached_s:7.1f} s   val accuracy {cached_acc:.3f}")
    plain_s, plain_acc = run_arm("off", args.size, args.epochs, train, val)
    print(f"without cache:   {plain_s:7.1f} s   val accuracy {plain_acc:.3f}")
    print(f"speed-up: {plain_s / cached_s:.1f}x")
    print(json.dumps({"benchmark": "feature_cache", "speedup": round(plain_s / cached_s, 2),
                      "seconds_cached": round(cached_s, 2), "seconds_uncached": round(plain_s, 2),
                      "val_accuracy_cached": cached_acc, "val_accuracy_uncached": plain_acc,
                      "epochs": args.epochs, "images": len(train) + len(val), "size": args.size}))


if __name__ == "__main__":
    main()
