"""Train a small model into RUN_DIR; optionally SIGKILL this process after a given optimizer step.

Usage: resumable_run.py RUN_DIR OUT.safetensors [--kill-after-step N] [--resume]
"""

from __future__ import annotations

import argparse
import os
import signal
from typing import Any

import torch
from safetensors.torch import save_file
from torch.utils.data import TensorDataset

from tlcore import Callback, Trainer, build_model, load_config

CONFIG = {
    "backbone": {"name": "timm", "model": "test_efficientnet", "pretrained": False, "drop_rate": 0.2},
    "head": {"name": "mlp", "hidden": [16], "dropout": 0.3},
    "policy": {"name": "discriminative_lr", "base": {"name": "gradual_unfreezing", "every": 1}},
    "num_classes": 3,
    "trainer": {"epochs": 3, "batch_size": 4, "lr": 0.01, "device": "cpu", "scheduler": "onecycle",
                "checkpoint_every_steps": 2, "progress": "none", "restore_best": False},
}


class KillAt(Callback):
    def __init__(self, step: int) -> None:
        self.step = step

    def on_batch_end(self, trainer: Trainer, model: Any, batch: int, loss: float) -> None:
        if trainer.step == self.step:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("run_dir")
    parser.add_argument("out")
    parser.add_argument("--kill-after-step", type=int)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args()
    torch.use_deterministic_algorithms(True)
    generator = torch.Generator().manual_seed(7)
    train = TensorDataset(torch.randn(20, 3, 32, 32, generator=generator), torch.arange(20) % 3)
    val = TensorDataset(torch.randn(9, 3, 32, 32, generator=generator), torch.arange(9) % 3)
    config = load_config(CONFIG)
    callbacks = [KillAt(args.kill_after_step)] if args.kill_after_step else []
    model = build_model(config)
    Trainer.from_config(config, callbacks).fit(model, train, val, run_dir=args.run_dir, resume=args.resume)
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, args.out)


if __name__ == "__main__":
    main()
