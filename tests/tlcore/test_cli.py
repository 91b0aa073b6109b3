"""The command line: plugin listing, error paragraphs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tlcore.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "tlcore", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_plugins_lists_builtins_with_what_they_register() -> None:
    result = run("plugins")
    assert result.returncode == 0
    assert "heads  (tlcore 0.1.0)\n    head: linear, mlp" in result.stdout
    assert "torchvision  (tlcore 0.1.0)\n    backbone: torchvision" in result.stdout


def test_plugins_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"timm", "torchvision", "heads", "strategies"} <= {p["name"] for p in report["plugins"]}


def test_broken_plugin_goes_to_stderr_and_the_rest_list(make_dist, tmp_path) -> None:  # type: ignore[no-untyped-def]
    make_dist("broken-tlcore-plugin", "tlcore_broken", "import does_not_exist\n")
    result = run("plugins", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0
    assert "timm  (tlcore" in result.stdout
    assert "FAILED plugin 'tlcore_broken' from broken-tlcore-plugin 1.0 failed: import failed: " \
           "ModuleNotFoundError" in result.stderr


def test_usage_errors_exit_non_zero() -> None:
    result = run("no-such-command")
    assert result.returncode == 2 and "invalid choice" in result.stderr


PLAN = """
backbone: {name: timm, model: test_resnet}
policy:
  name: discriminative_lr
  base: {name: gradual_unfreezing, every: 2}
num_classes: 3
trainer: {epochs: 4, lr: 0.01}
"""


def test_plan_prints_each_phase_without_weights_or_training(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    result = run("plan", str(path))  # pretrained: true by default, yet offline works: no weights are loaded
    assert result.returncode == 0, result.stderr
    assert "phase 0 (epochs 0-1)" in result.stdout and "phase 1 (epochs 2-3)" in result.stdout
    phase1 = result.stdout.split("phase 1")[1]
    assert [line.split()[:3] for line in phase1.splitlines() if line.strip().startswith(("layer4", "layer3"))] == [
        ["layer3", "42,432", "no"], ["layer4", "267,840", "yes"]]
    assert "0.00385  train" in phase1  # 0.01 / 2.6 for the top backbone group


def test_plan_error_is_one_paragraph_naming_the_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "plan.yaml"
    path.write_text(PLAN)
    result = run("plan", str(path), "--set", "policy.base.evry=3")
    assert result.returncode == 2
    assert "policy.base.evry: unknown key. Did you mean: every?" in result.stderr
    assert "Traceback" not in result.stderr
