"""Two CPU processes under torchrun (gloo): gradual unfreezing with DDP stays in sync across ranks."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).parent / "scripts" / "ddp_run.py"


def test_gradual_unfreezing_under_torchrun_with_two_processes(tmp_path: Path) -> None:
    run_dir, out_dir = tmp_path / "run", tmp_path / "out"
    out_dir.mkdir()
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", str(SCRIPT),
         str(run_dir), str(out_dir)],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    ranks = [load_file(out_dir / f"rank{r}.safetensors") for r in (0, 1)]
    for key in ranks[0]:
        assert torch.equal(ranks[0][key], ranks[1][key]), f"{key} differs between ranks"
    assert ranks[0]["__changed__"].sum() > 0
    assert result.stdout.count("epoch 3/3") == 1  # only rank 0 prints
    assert len((run_dir / "metrics.jsonl").read_text().splitlines()) == 3
    assert (run_dir / "plots" / "learning_curves.png").is_file()


def test_torchrun_tlcore_train_cli_with_two_processes(tmp_path: Path) -> None:
    from tlcore.testing.images import image_folder

    root = image_folder(tmp_path / "images", classes=2, per_class=8)
    config = tmp_path / "ddp.yaml"
    config.write_text(f"""
backbone: {{name: timm, model: test_resnet, pretrained: false}}
policy: {{name: gradual_unfreezing, every: 1}}
data: {{root: {root}, val_fraction: 0.25, test_fraction: 0.25}}
trainer: {{epochs: 2, batch_size: 2, lr: 0.01, progress: lines}}
""")
    result = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "tlcore",
         "train", str(config), "--out", str(tmp_path / "run")],
        capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert result.stdout.count("epoch 2/2") == 1 and result.stdout.count("run directory:") == 1
    assert len((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()) == 2
    assert (tmp_path / "run" / "test_report.json").is_file()
