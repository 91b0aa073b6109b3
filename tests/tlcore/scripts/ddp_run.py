"""Run under torchrun: gradual unfreezing with DDP; each rank writes its weights to OUT_DIR/rank<r>.safetensors."""

from __future__ import annotations

import os
import sys

import torch
from safetensors.torch import save_file
from torch.utils.data import TensorDataset

from tlcore import Trainer, build_model, load_config

CONFIG = {
    "backbone": {"name": "timm", "model": "test_resnet", "pretrained": False},
    "policy": {"name": "discriminative_lr", "base": {"name": "gradual_unfreezing", "every": 1}},
    "num_classes": 2,
    "trainer": {"epochs": 3, "batch_size": 4, "lr": 0.01, "device": "cpu", "progress": "lines"},
}


def main() -> None:
    run_dir, out_dir = sys.argv[1], sys.argv[2]
    generator = torch.Generator().manual_seed(0)
    train = TensorDataset(torch.randn(16, 3, 32, 32, generator=generator), torch.arange(16) % 2)
    val = TensorDataset(torch.randn(6, 3, 32, 32, generator=generator), torch.arange(6) % 2)
    config = load_config(CONFIG)
    model = build_model(config)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    trainer = Trainer.from_config(config)
    history = trainer.fit(model, train, val, run_dir=run_dir)
    rank = trainer.context.rank
    assert trainer.context.world_size == 2
    assert [h["phase"] for h in history] == [0, 1, 2]
    changed = {k: float(not torch.equal(before[k], v)) for k, v in model.state_dict().items() if "weight" in k}
    tensors = {k: v.contiguous() for k, v in model.state_dict().items()}
    tensors["__val_accuracy__"] = torch.tensor([h["val_accuracy"] for h in history])
    tensors["__changed__"] = torch.tensor(list(changed.values()))
    save_file(tensors, os.path.join(out_dir, f"rank{rank}.safetensors"))


if __name__ == "__main__":
    main()
