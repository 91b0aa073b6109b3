"""scikit-learn heads on frozen deep features: fitting, evaluation, configs, one-file ONNX export."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from tlcore.config import load_config
from tlcore.errors import ConfigError
from tlcore.model import build_model
from tlcore.runner import train
from tlcore.testing.images import image_folder


def config_for(root: Path, head: dict[str, object]) -> object:
    return load_config({"backbone": {"name": "timm", "model": "test_resnet", "pretrained": False},
                        "head": head, "policy": "feature_extraction",
                        "data": {"root": str(root), "val_fraction": 0.25, "test_fraction": 0.25, "image_size": 32},
                        "trainer": {"progress": "none"}})


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return image_folder(tmp_path_factory.mktemp("images"), classes=3, per_class=12)


@pytest.mark.parametrize("head", [{"name": "logistic_regression"}, {"name": "linear_svm"},
                                  {"name": "svm", "pca": 0.95}, {"name": "random_forest", "grid": {
                                      "n_estimators": [20]}}, {"name": "knn", "select_k": 16}])
def test_each_classical_head_trains_and_evaluates(root: Path, tmp_path: Path, head: dict[str, object]) -> None:
    result = train(config_for(root, head), tmp_path / "run")  # type: ignore[arg-type]
    assert result.test is not None and result.test.accuracy > 0.6  # textures are easy
    record = result.history[0]
    assert 0 <= record["cv_balanced_accuracy"] <= 1 and "val_balanced_accuracy" in record
    for name in ("val_report.json", "test_report.json", "metrics.jsonl", "checkpoints/best/head.onnx",
                 "checkpoints/best/backbone.safetensors", "plots/test_confusion_matrix.png"):
        assert (tmp_path / "run" / name).is_file(), name


def test_pca_svm_exports_to_one_onnx_matching_scikit_learn(root: Path, tmp_path: Path) -> None:
    from tlcore.export import export_run
    from tlcore.predictor import OnnxPredictor

    run = train(config_for(root, {"name": "svm", "pca": 8, "grid": {"estimator__C": [1.0, 10.0]}}), tmp_path / "run")  # type: ignore[arg-type]
    out, report = export_run(run.run_dir)
    assert report.passed() and report.max_abs_logit_diff < 1e-4
    predictor = OnnxPredictor(out)
    assert predictor.class_names == ["class_0", "class_1", "class_2"]
    images = sorted(root.glob("class_2/*.png"))[:4]
    batch = np.stack([predictor.preprocess(p) for p in images])
    onnx_probabilities = predictor.run(batch)["probabilities"]
    model = run.model
    config = model.backbone.data_config
    x = torch.from_numpy(batch).permute(0, 3, 1, 2).float() / 255
    x = (x - torch.tensor(config.mean).view(1, -1, 1, 1)) / torch.tensor(config.std).view(1, -1, 1, 1)
    with torch.no_grad():
        features = model.backbone(x).double().numpy()
    expected = model.head.pipeline.predict_proba(features)  # type: ignore[union-attr]
    assert np.abs(onnx_probabilities - expected).max() < 1e-4
    meta = json.loads(predictor.metadata["tlcore.outputs"])
    assert meta == ["logits", "probabilities"]


def test_features_of_the_cache_match_forward_features(root: Path) -> None:
    from tlcore.features import extract_features

    config = config_for(root, {"name": "logistic_regression"})
    features = extract_features(config)  # type: ignore[arg-type]
    model = build_model(config, num_classes=3)  # type: ignore[arg-type]
    from tlcore.data import prepare_data

    data = prepare_data(config.data, model.backbone.data_config)  # type: ignore[attr-defined]
    assert data.val is not None
    images = torch.stack([data.val[i][0] for i in range(3)])
    with torch.no_grad():
        direct = model.eval().backbone.forward_features(images)
    assert torch.allclose(torch.from_numpy(features.splits["val"][0][:3]), direct, atol=1e-5)
    assert features.cache.computed == 3 and features.splits["train"][0].shape[1] == model.backbone.num_features
    assert set(features.splits) == {"train", "val", "test"} and features.classes == ["class_0", "class_1", "class_2"]
    again = extract_features(config, cache=features.cache)  # type: ignore[arg-type]
    assert again.cache.computed == 3 and again.cache.reused == 3


def test_wrong_classical_configs_are_field_errors(root: Path) -> None:
    with pytest.raises(ConfigError, match=r"head\.grid: Value error, grid values must not be empty: \['C'\]"):
        config_for(root, {"name": "svm", "grid": {"C": []}})  # the message names the empty key
    config = config_for(root, {"name": "svm", "pca": 5000})
    with pytest.raises(ConfigError, match=r"head\.pca: 5000 components exceed the backbone's 96 features"):
        build_model(config, num_classes=3)  # type: ignore[arg-type]


def test_features_command_writes_npz(root: Path, tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    config = tmp_path / "features.yaml"
    config.write_text(f"backbone: {{name: timm, model: test_resnet, pretrained: false}}\n"
                      f"data: {{root: {root}, image_size: 32}}\n")
    result = subprocess.run([sys.executable, "-m", "tlcore", "features", str(config), "--out", str(tmp_path / "f.npz"),
                             "--groups", "layer2,layer4"],
                            capture_output=True, text=True, env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    saved = np.load(tmp_path / "f.npz")
    assert saved["train_features"].shape[1] == 96 and len(saved["train_labels"]) == len(saved["train_paths"])
    assert list(saved["class_names"]) == ["class_0", "class_1", "class_2"]
    assert saved["train_features_layer2"].shape == (len(saved["train_labels"]), 48)  # test_resnet widths
    assert np.allclose(saved["train_features_layer4"], saved["train_features"], atol=1e-5)  # pooled top = features
