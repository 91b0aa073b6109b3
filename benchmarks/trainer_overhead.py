"""tlcore's Trainer against a hand-written minimal PyTorch loop: same model, data, epochs and seed.

Each arm runs in its own process (so peak memory is its own), ``--repeats`` times; the fastest
run of each is compared. Both fine-tune EfficientNet-Lite0 (bundled weights) end to end with
AdamW and a cosine schedule, in float32 and NCHW, with no validation, so the ratio is the
Trainer's overhead. The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import subprocess
import sys
import time

import torch
from torch.utils.data import DataLoader, TensorDataset

CONFIG = {
    "backbone": {"name": "timm", "model": "tf_efficientnet_lite0"},
    "policy": {"name": "fine_tuning"},
    "num_classes": 4,
    "trainer": {"epochs": 3, "batch_size": 16, "lr": 1e-3, "weight_decay": 0.0, "device": "cpu",
                "scheduler": "cosine", "memory_format": "contiguous", "flush_denormal": False,
                "feature_cache": "off", "progress": "none"},
}


def dataset(size: int, count: int) -> TensorDataset:
    generator = torch.Generator().manual_seed(0)
    return TensorDataset(torch.randn(count, 3, size, size, generator=generator), torch.arange(count) % 4)


def tlcore_arm(data: TensorDataset) -> float:
    from tlcore import Trainer, build_model, load_config

    config = load_config(CONFIG)
    model = build_model(config)
    trainer = Trainer.from_config(config)
    started = time.perf_counter()
    trainer.fit(model, data)
    return time.perf_counter() - started


def hand_arm(data: TensorDataset) -> float:
    from tlcore import build_model, load_config  # the same weights and zero-initialised head

    config = load_config(CONFIG)
    model = build_model(config)
    epochs, batch_size = config.trainer.epochs, config.trainer.batch_size
    loader = DataLoader(data, batch_size=batch_size, shuffle=True, generator=torch.Generator().manual_seed(0))
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.trainer.lr, weight_decay=0.0)
    total = epochs * len(loader)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
    loss_fn = torch.nn.CrossEntropyLoss()
    started = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for images, labels in loader:
            loss = loss_fn(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
    return time.perf_counter() - started


def run_one(arm: str, size: int, count: int) -> None:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)
    data = dataset(size, count)
    seconds = (tlcore_arm if arm == "tlcore" else hand_arm)(data)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"arm": arm, "seconds": seconds, "peak_rss_mib": peak_mib}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--count", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--arm", choices=["tlcore", "hand"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        run_one(args.arm, args.size, args.count)
        return
    results: dict[str, list[dict[str, float]]] = {"hand": [], "tlcore": []}
    for repeat in range(args.repeats):
        for arm in ("hand", "tlcore") if repeat % 2 == 0 else ("tlcore", "hand"):
            out = subprocess.run([sys.executable, __file__, "--arm", arm, "--size", str(args.size), "--count",
                                  str(args.count)], check=True, capture_output=True, text=True).stdout
            results[arm].append(json.loads(out.strip().splitlines()[-1]))
            print(f"{arm:>6}: {results[arm][-1]['seconds']:.2f} s, peak RSS {results[arm][-1]['peak_rss_mib']:.0f} MiB")
    best = {arm: min(r["seconds"] for r in runs) for arm, runs in results.items()}
    memory = {arm: max(r["peak_rss_mib"] for r in runs) for arm, runs in results.items()}
    ratio = best["tlcore"] / best["hand"]
    print(f"fastest: tlcore {best['tlcore']:.2f} s, hand {best['hand']:.2f} s, ratio {ratio:.3f}")
    print(json.dumps({"benchmark": "trainer_overhead", "time_ratio": round(ratio, 3),
                      "seconds_tlcore": round(best["tlcore"], 3), "seconds_hand": round(best["hand"], 3),
                      "peak_rss_mib_tlcore": round(memory["tlcore"]), "peak_rss_mib_hand": round(memory["hand"]),
                      "images": args.count, "size": args.size, "epochs": CONFIG["trainer"]["epochs"]}))  # type: ignore[index]


if __name__ == "__main__":
    main()
