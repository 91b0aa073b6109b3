"""CPU training-step time of EfficientNet-Lite0 under the choices the default recipe makes.

Each variant fine-tunes the whole network (forward, backward, fused AdamW step) on the same
random batch; the median step time of each is compared with NCHW float32, all in one run.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import time

import torch


def step_ms(channels_last: bool, bf16: bool, size: int, batch: int, steps: int) -> float:
    from tlcore import build_model, load_config
    from tlcore.freeze import GroupPlan, Plan
    from tlcore.optim import build_optimizer

    config = load_config({"backbone": {"name": "timm", "model": "tf_efficientnet_lite0"}, "num_classes": 10})
    model = build_model(config)
    plan = Plan(0, tuple(GroupPlan(g, True) for g in model.group_names()))
    model.apply_plan(plan)
    optimizer = build_optimizer(model, plan, config.trainer)
    images = torch.randn(batch, 3, size, size, generator=torch.Generator().manual_seed(0))
    labels = torch.arange(batch) % 10
    if channels_last:
        model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        images = images.contiguous(memory_format=torch.channels_last)
    model.train()
    times = []
    for index in range(steps + 2):
        started = time.perf_counter()
        context = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
        with context:
            loss = torch.nn.functional.cross_entropy(model(images).float(), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        if index >= 2:
            times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--steps", type=int, default=8)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    results = {}
    for name, channels_last, bf16 in (("nchw_fp32", False, False), ("channels_last_fp32", True, False),
                                      ("channels_last_bf16", True, True), ("nchw_bf16", False, True)):
        results[name] = step_ms(channels_last, bf16, args.size, args.batch, args.steps)
        print(f"{name:<20} {results[name]:8.1f} ms/step  ({results['nchw_fp32'] / results[name]:.2f}x vs NCHW fp32)")
    print(json.dumps({"benchmark": "cpu_step", "size": args.size, "batch": args.batch,
                      "threads": torch.get_num_threads(), **{f"{k}_ms": round(v, 1) for k, v in results.items()},
                      "channels_last_speedup": round(results["nchw_fp32"] / results["channels_last_fp32"], 2),
                      "bf16_speedup": round(results["channels_last_fp32"] / results["channels_last_bf16"], 2)}))


if __name__ == "__main__":
    main()
