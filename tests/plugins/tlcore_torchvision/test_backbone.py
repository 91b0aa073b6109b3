"""torchvision backbones: the contract over a sample, classifier removal, files and offline errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tlcore_torchvision import TorchvisionBackbone, TorchvisionBackboneConfig

from tlcore.errors import WeightsUnavailableError
from tlcore.testing import check_backbone_class

SAMPLE = {  # model: pre-logits width
    "resnet18": 512,
    "mobilenet_v3_small": 1024,
    "squeezenet1_1": 512,
    "shufflenet_v2_x0_5": 1024,
    "mnasnet0_5": 1280,
    "googlenet": 1024,
    "regnet_x_400mf": 400,
}


@pytest.mark.parametrize("model", SAMPLE)
def test_contract(model: str) -> None:
    check_backbone_class(TorchvisionBackbone, TorchvisionBackboneConfig(model=model, pretrained=False),
                         image_size=64)
    backbone = TorchvisionBackbone.from_config(TorchvisionBackboneConfig(model=model, pretrained=False))
    assert backbone.num_features == SAMPLE[model]


def test_data_config_comes_from_the_default_weights() -> None:
    backbone = TorchvisionBackbone.from_config(TorchvisionBackboneConfig(model="resnet18", pretrained=False))
    config = backbone.data_config
    assert config.input_size == (3, 224, 224) and config.crop_pct == pytest.approx(224 / 256)
    assert config.mean == pytest.approx((0.485, 0.456, 0.406))
    gray = TorchvisionBackbone.from_config(TorchvisionBackboneConfig(model="resnet18", pretrained=False, in_chans=1))
    assert gray.data_config.mean == pytest.approx((sum(config.mean) / 3,))


def test_weights_from_a_torchvision_state_dict(tmp_path: Path) -> None:
    import torchvision

    source = torchvision.models.resnet18()
    path = tmp_path / "resnet18.pth"
    torch.save(source.state_dict(), path)
    backbone = TorchvisionBackbone.from_config(TorchvisionBackboneConfig(model="resnet18", weights=path))
    assert torch.equal(backbone.model.layer4[1].conv2.weight, source.layer4[1].conv2.weight)
    gray = TorchvisionBackbone.from_config(TorchvisionBackboneConfig(model="resnet18", weights=path, in_chans=1))
    assert torch.allclose(gray.model.conv1.weight, source.conv1.weight.sum(1, keepdim=True))


def test_unreachable_hub_explains_how_to_pass_a_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    import torchvision.models._api as api

    def offline(self: object, *args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(api.WeightsEnum, "get_state_dict", offline)
    with pytest.raises(WeightsUnavailableError, match=r"backbone\.weights"):
        TorchvisionBackbone.from_config(TorchvisionBackboneConfig(model="resnet18", pretrained=True))


def test_unknown_model_suggests() -> None:
    with pytest.raises(ValueError, match="Did you mean: resnet18"):
        TorchvisionBackboneConfig(model="resnet_18")
