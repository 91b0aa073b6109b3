"""Heads start uninformed: the first loss is ln(num_classes), for the head alone and on a real backbone."""

from __future__ import annotations

import math

import pytest
import torch
from tlcore_heads import LinearHead, LinearHeadConfig, MLPHead, MLPHeadConfig

from tlcore.config import load_config
from tlcore.model import build_model
from tlcore.testing import check_head


@pytest.mark.parametrize(("head", "config"), [(LinearHead, LinearHeadConfig()),
                                              (MLPHead, MLPHeadConfig(hidden=[32, 16]))])
def test_contract_and_uninformed_start(head: type, config: object) -> None:
    check_head(head, config, num_features=24, num_classes=5)


@pytest.mark.parametrize("head", ["linear", "mlp"])
@pytest.mark.parametrize("classes", [2, 4, 10])
def test_first_loss_of_a_new_model_is_ln_num_classes(head: str, classes: int) -> None:
    model = build_model(load_config({"backbone": {"name": "timm", "model": "test_efficientnet", "pretrained": False},
                                     "head": head, "num_classes": classes}))
    model.train()
    images, labels = torch.randn(16, 3, 32, 32), torch.randint(0, classes, (16,))
    loss = torch.nn.functional.cross_entropy(model(images), labels).item()
    assert loss == pytest.approx(math.log(classes), abs=1e-4)
