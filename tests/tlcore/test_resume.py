"""A run killed with SIGKILL in the middle of an epoch resumes to bit-identical weights."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).parent / "scripts" / "resumable_run.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})


def test_sigkill_mid_epoch_then_resume_is_bit_identical(tmp_path: Path) -> None:
    straight = run(str(tmp_path / "straight"), str(tmp_path / "straight.safetensors"))
    assert straight.returncode == 0, straight.stderr

    killed = run(str(tmp_path / "crashed"), str(tmp_path / "never.safetensors"), "--kill-after-step", "7")
    assert killed.returncode == -signal.SIGKILL
    latest = json.loads((tmp_path / "crashed" / "checkpoints" / "latest.json").read_text())
    assert latest == {"checkpoint": "step-00000006"}  # 5 steps per epoch: step 6 is inside epoch 2
    state = json.loads((tmp_path / "crashed" / "checkpoints" / "step-00000006" / "state.json").read_text())
    assert (state["epoch"], state["batch"], state["phase"]) == (1, 1, 1)
    assert not (tmp_path / "never.safetensors").exists()

    resumed = run(str(tmp_path / "crashed"), str(tmp_path / "resumed.safetensors"), "--resume")
    assert resumed.returncode == 0, resumed.stderr
    expected, actual = load_file(tmp_path / "straight.safetensors"), load_file(tmp_path / "resumed.safetensors")
    assert expected.keys() == actual.keys()
    for key in expected:
        assert torch.equal(expected[key], actual[key]), key
    metrics = [json.loads(line) for line in (tmp_path / "crashed" / "metrics.jsonl").read_text().splitlines()]
    straight_metrics = [json.loads(line) for line in (tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()]
    assert [m["epoch"] for m in metrics] == [0, 1, 2]
    for ours, theirs in zip(metrics, straight_metrics, strict=True):
        assert {k: v for k, v in ours.items() if k != "seconds"} == {k: v for k, v in theirs.items() if k != "seconds"}
