"""A separately pip-installed plugin distribution is found and used through a config file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

from tlcore.config import load_config
from tlcore.model import build_model, build_policy
from tlcore.plugins import registry
from tlcore.testing import check_backbone_class, check_freeze_policy, check_head
from tlcore.trainer import Trainer

CONFIG = """
backbone:
  name: tiny_cnn
  width: 4
head:
  name: norm_linear
policy:
  name: head_first
  head_epochs: 1
num_classes: 2
trainer:
  epochs: 2
  batch_size: 4
  lr: 0.01
  device: cpu
"""


def test_registered_under_its_distribution(example_plugin: Path) -> None:
    entry = registry("backbone").get("tiny_cnn")
    assert (entry.plugin, entry.distribution) == ("example", "tlcore-example-plugin")
    assert "norm_linear" in registry("head") and "head_first" in registry("policy")


def test_passes_the_contract_checks(example_plugin: Path) -> None:
    backbone, head, policy = (registry(kind).get(name) for kind, name in (
        ("backbone", "tiny_cnn"), ("head", "norm_linear"), ("policy", "head_first")))
    check_backbone_class(backbone.component, backbone.config_class())
    check_head(head.component, head.config_class())
    plans = check_freeze_policy(build_policy(policy.config_class(head_epochs=2)))
    assert [p.phase for p in plans[:3]] == [0, 0, 1]


def test_config_file_naming_its_components_builds_and_trains(example_plugin: Path, tmp_path: Path) -> None:
    path = tmp_path / "experiment.yaml"
    path.write_text(CONFIG)
    config = load_config(path)
    model = build_model(config)
    stem_before = model.backbone.stem[0].weight.detach().clone()
    generator = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.randn(8, 3, 16, 16, generator=generator), torch.tensor([0, 1] * 4))
    history = Trainer.from_config(config).fit(model, data, data)
    assert len(history) == 2
    assert not torch.equal(stem_before, model.backbone.stem[0].weight)  # unfrozen in phase 1


def test_cli_lists_it_with_distribution_and_version(example_plugin: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "tlcore", "plugins"], capture_output=True, text=True, check=True)
    assert "example  (tlcore-example-plugin 1.0.0)" in result.stdout
    assert "backbone: tiny_cnn" in result.stdout and "policy: head_first" in result.stdout
    assert "timm  (tlcore " in result.stdout
