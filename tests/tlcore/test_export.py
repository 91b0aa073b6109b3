"""ONNX export: parity over families, preprocessing inside, metadata, dynamic batch, providers, torch-free serving."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tlcore.config import load_config
from tlcore.export import METADATA_KEYS, ExportParityError, PreprocessingWrapper, export_onnx
from tlcore.model import TransferModel, build_model
from tlcore.predictor import OnnxPredictor, PredictorError, ProviderUnavailableError

FAMILIES = {
    "resnet": {"model": "test_resnet"},
    "efficientnet": {"model": "test_efficientnet"},
    "convnext": {"model": "test_convnext"},
    "vit": {"model": "test_vit", "kwargs": {"img_size": 32}},
}


def trained_like(backbone: dict[str, object], in_chans: int = 3, classes: int = 3) -> TransferModel:
    config = load_config({"backbone": {"name": "timm", "pretrained": False, "in_chans": in_chans, **backbone},
                          "num_classes": classes})
    model = build_model(config).eval()
    torch.nn.init.normal_(model.head.fc.weight, std=0.5)  # a zero head would make parity trivial
    return model


def uint8_images(count: int = 4, size: int = 32, channels: int = 3) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (count, size, size, channels), dtype=torch.uint8, generator=generator)


def export(model: TransferModel, path: Path, images: torch.Tensor, **options: object):  # type: ignore[no-untyped-def]
    config = model.backbone.data_config
    config = config.model_copy(update={"input_size": (config.in_chans, 32, 32)})
    return export_onnx(model, path, config, ["normal", "benign", "malignant"], images, **options)  # type: ignore[arg-type]


@pytest.mark.parametrize("family", FAMILIES)
def test_parity_across_families(family: str, tmp_path: Path) -> None:
    report = export(trained_like(FAMILIES[family]), tmp_path / "m.onnx", uint8_images())
    assert report.passed() and report.max_abs_logit_diff < 1e-3 and report.top1_agreement == 1.0
    assert report.batch_sizes_checked == [1, 3, 4, 7]


def test_raw_uint8_input_matches_the_torch_pipeline(tmp_path: Path) -> None:
    model = trained_like(FAMILIES["efficientnet"])
    export(model, tmp_path / "m.onnx", uint8_images())
    predictor = OnnxPredictor(tmp_path / "m.onnx")
    images = uint8_images(5)
    onnx_logits = predictor.run(images.numpy())["logits"]
    config = model.backbone.data_config
    mean, std = torch.tensor(config.mean).view(1, 3, 1, 1), torch.tensor(config.std).view(1, 3, 1, 1)
    with torch.no_grad():
        torch_logits = model((images.permute(0, 3, 1, 2).float() / 255 - mean) / std).numpy()
    assert np.abs(onnx_logits - torch_logits).max() < 1e-4


def test_gray_input_for_an_rgb_backbone_and_nchw(tmp_path: Path) -> None:
    model = trained_like(FAMILIES["resnet"])
    gray = uint8_images(3, channels=1).permute(0, 3, 1, 2).contiguous()
    report = export(model, tmp_path / "g.onnx", gray, channels=1, layout="NCHW")
    assert report.passed()
    assert OnnxPredictor(tmp_path / "g.onnx").run(gray.numpy())["logits"].shape == (3, 3)


def test_metadata_round_trips(tmp_path: Path) -> None:
    import onnx

    model = trained_like(FAMILIES["resnet"], in_chans=1)
    export(model, tmp_path / "m.onnx", uint8_images(channels=1), metadata={"val_metrics": {"accuracy": 0.9}})
    proto = onnx.load(str(tmp_path / "m.onnx"))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert set(METADATA_KEYS) - {"tlcore.backbone", "tlcore.weights_source"} <= set(meta)
    assert proto.opset_import[0].version >= 18
    predictor = OnnxPredictor(tmp_path / "m.onnx")
    assert predictor.class_names == ["normal", "benign", "malignant"]
    assert (predictor.height, predictor.width, predictor.channels, predictor.layout) == (32, 32, 1, "NHWC")
    assert predictor.mean.tolist() == pytest.approx(list(model.backbone.data_config.mean))
    assert json.loads(meta["tlcore.val_metrics"]) == {"accuracy": 0.9}
    assert meta["tlcore.preprocessing_inside"] == "true" and meta["tlcore.dtype"] == "uint8"


def test_dynamic_batch_of_1_3_and_7(tmp_path: Path) -> None:
    export(trained_like(FAMILIES["convnext"]), tmp_path / "m.onnx", uint8_images(2))
    predictor = OnnxPredictor(tmp_path / "m.onnx")
    for batch in (1, 3, 7):
        outputs = predictor.run(uint8_images(batch).numpy())
        assert outputs["logits"].shape == (batch, 3) and outputs["probabilities"].sum(1) == pytest.approx(1.0)


def test_parity_failure_writes_nothing(tmp_path: Path) -> None:
    with pytest.raises(ExportParityError, match="parity gate failed"):
        export(trained_like(FAMILIES["resnet"]), tmp_path / "m.onnx", uint8_images(), tolerance=-1.0)
    assert list(tmp_path.iterdir()) == []


def test_wrong_input_names_what_the_model_expects(tmp_path: Path) -> None:
    export(trained_like(FAMILIES["resnet"]), tmp_path / "m.onnx", uint8_images())
    predictor = OnnxPredictor(tmp_path / "m.onnx")
    with pytest.raises(PredictorError, match=r"takes a uint8 array of shape \('N', 32, 32, 3\) \(NHWC\)"):
        predictor.run(np.zeros((2, 32, 32, 3), dtype=np.float32))
    with pytest.raises(PredictorError, match=r"got uint8 of shape \(2, 32, 32, 1\)"):
        predictor.run(np.zeros((2, 32, 32, 1), dtype=np.uint8))


def test_strict_provider_fails_when_cuda_is_not_active(tmp_path: Path) -> None:
    export(trained_like(FAMILIES["resnet"]), tmp_path / "m.onnx", uint8_images())
    import onnxruntime

    if "CUDAExecutionProvider" in onnxruntime.get_available_providers():
        pytest.skip("CUDA is available here")
    with pytest.raises(ProviderUnavailableError, match="CUDAExecutionProvider"):
        OnnxPredictor(tmp_path / "m.onnx", providers=["CUDAExecutionProvider", "CPUExecutionProvider"], strict=True)
    assert OnnxPredictor(tmp_path / "m.onnx", providers=["CUDAExecutionProvider", "CPUExecutionProvider"]).providers \
        == ["CPUExecutionProvider"]


def test_predictor_runs_without_torch(tmp_path: Path) -> None:
    from tlcore.testing.images import write_png

    export(trained_like(FAMILIES["resnet"]), tmp_path / "m.onnx", uint8_images())
    image = write_png(tmp_path / "x.png", np.asarray(uint8_images(1)[0]))
    code = f"""
import sys
sys.modules["torch"] = None  # any import of torch now fails
from tlcore.predictor import OnnxPredictor
predictor = OnnxPredictor({str(tmp_path / 'm.onnx')!r})
print(predictor.predict([{str(image)!r}], top_k=2))
assert not any(name == "torch" or name.startswith("torch.") for name, m in sys.modules.items() if m is not None)
"""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "[[(" in result.stdout


def test_wrapper_channel_conversion() -> None:
    model = trained_like(FAMILIES["resnet"], in_chans=1)
    wrapper = PreprocessingWrapper(model, model.backbone.data_config, channels=3)
    rgb = uint8_images(2)
    gray = (rgb.float() * torch.tensor([0.299, 0.587, 0.114])).sum(-1, keepdim=True)
    mean, std = model.backbone.data_config.mean[0], model.backbone.data_config.std[0]
    with torch.no_grad():
        expected = model(((gray / 255 - mean) / std).permute(0, 3, 1, 2))
        assert torch.allclose(wrapper(rgb)[0], expected, atol=1e-4)


def test_export_and_predict_commands_on_a_trained_run(tmp_path: Path) -> None:
    from tlcore.runner import train
    from tlcore.testing.images import image_folder

    root = image_folder(tmp_path / "images", classes=3, per_class=6)
    config = load_config({"backbone": {"name": "timm", "model": "test_resnet", "pretrained": False},
                          "policy": "feature_extraction",
                          "data": {"root": str(root), "val_fraction": 0.34, "test_fraction": 0.0,
                                   "image_size": 32},
                          "trainer": {"epochs": 2, "batch_size": 4, "lr": 0.05, "progress": "none"}})
    run = train(config, tmp_path / "run").run_dir
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    exported = subprocess.run([sys.executable, "-m", "tlcore", "export", str(run)], capture_output=True, text=True,
                              env=env)
    assert exported.returncode == 0, exported.stderr
    assert "parity on 7 validation images" in exported.stdout and (run / "model.onnx").is_file()
    images = [str(p) for p in sorted(root.glob("class_1/*.png"))[:3]]
    predicted = subprocess.run([sys.executable, "-m", "tlcore", "predict", str(run / "model.onnx"), *images, "--out",
                                str(tmp_path / "preds.csv"), "--top-k", "2"], capture_output=True, text=True, env=env)
    assert predicted.returncode == 0, predicted.stderr
    lines = (tmp_path / "preds.csv").read_text().splitlines()
    assert lines[0] == "image,rank,class,probability" and len(lines) == 1 + 3 * 2
    assert {line.split(",")[2] for line in lines[1:]} <= {"class_0", "class_1", "class_2"}
    strict = subprocess.run([sys.executable, "-m", "tlcore", "predict", str(run / "model.onnx"), images[0],
                             "--provider", "cuda", "--strict"], capture_output=True, text=True, env=env)
    import onnxruntime

    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        assert strict.returncode == 2 and "CUDAExecutionProvider" in strict.stderr
    broken = subprocess.run([sys.executable, "-m", "tlcore", "export", str(tmp_path / "images")],
                            capture_output=True, text=True, env=env)
    assert broken.returncode == 2 and "is not a run directory" in broken.stderr
