"""Data: folders, manifests, splits, transforms, bad files, and training from a config."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from tlcore.backbone import DataConfig
from tlcore.config import DataSourceConfig, load_config
from tlcore.data import prepare_data
from tlcore.datasets import DataError
from tlcore.errors import ConfigError
from tlcore.splits import assign_splits
from tlcore.testing.images import image_folder, truncate, write_png

GRAY = DataConfig(input_size=(1, 32, 32), mean=(0.5,), std=(0.25,))
RGB = DataConfig(input_size=(3, 32, 32), mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25))


def test_stratified_split_keeps_class_proportions() -> None:
    labels = [0] * 60 + [1] * 30 + [2] * 10
    splits = assign_splits(labels, 0.2, 0.2, seed=0)
    for split, size in (("train", 60), ("val", 20), ("test", 20)):
        counts = Counter(label for label, s in zip(labels, splits, strict=True) if s == split)
        assert sum(counts.values()) == size
        assert counts == {0: size * 0.6, 1: size * 0.3, 2: size * 0.1}
    assert assign_splits(labels, 0.2, 0.2, seed=0) == splits
    assert assign_splits(labels, 0.2, 0.2, seed=1) != splits


def test_folder_split_is_written_and_reused(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "images", classes=2, per_class=10)
    config = DataSourceConfig(root=root, val_fraction=0.2, test_fraction=0.2)
    bundle = prepare_data(config, RGB, tmp_path / "run")
    assert bundle.classes == ["class_0", "class_1"]
    assert (len(bundle.train), len(bundle.val or []), len(bundle.test or [])) == (12, 4, 4)
    image, label = bundle.train[0]
    assert image.shape == (3, 32, 32) and label in (0, 1)
    assert json.loads((tmp_path / "run" / "classes.json").read_text()) == ["class_0", "class_1"]
    changed = DataSourceConfig(root=root, val_fraction=0.4, test_fraction=0.1, split_seed=5)
    again = prepare_data(changed, RGB, tmp_path / "run")  # the saved split wins on resume
    assert [s.path for s in again.test.samples] == [s.path for s in bundle.test.samples]  # type: ignore[union-attr]


def test_manifest_with_relative_paths_and_its_own_split(tmp_path: Path) -> None:
    image_folder(tmp_path / "data" / "img", classes=2, per_class=3)
    rows = [f"img/class_{c}/{i:03d}.png,{'benign' if c else 'normal'},{'train' if i < 2 else 'test'}"
            for c in range(2) for i in range(3)]
    manifest = tmp_path / "data" / "labels.csv"
    manifest.write_text("path,label,split\n" + "\n".join(rows) + "\n")
    bundle = prepare_data(DataSourceConfig(manifest=manifest), GRAY)
    assert bundle.classes == ["benign", "normal"] and bundle.val is None
    assert (len(bundle.train), len(bundle.test or [])) == (4, 2)
    assert bundle.train[0][0].shape == (1, 32, 32)
    jsonl = tmp_path / "data" / "labels.jsonl"
    jsonl.write_text("".join(json.dumps({"path": r.split(",")[0], "label": r.split(",")[1]}) + "\n" for r in rows))
    assert len(prepare_data(DataSourceConfig(manifest=jsonl, val_fraction=0, test_fraction=0.5), GRAY).train) == 3


def test_manifest_errors_come_before_training(tmp_path: Path) -> None:
    image_folder(tmp_path / "img", classes=1, per_class=2)
    manifest = tmp_path / "m.csv"
    manifest.write_text("path,label\nimg/class_0/000.png,a\nimg/class_0/missing.png,b\n")
    with pytest.raises(DataError, match=r"1 listed file\(s\) do not exist.*missing\.png"):
        prepare_data(DataSourceConfig(manifest=manifest), GRAY)
    manifest.write_text("path,label\nimg/class_0/000.png,a\nimg/class_0/001.png,zebra\n")
    with pytest.raises(DataError, match=r"data\.classes: labels \['zebra'\] match no class"):
        prepare_data(DataSourceConfig(manifest=manifest, classes=["a", "b"]), GRAY)


def test_empty_class_folder_is_an_error(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "images", classes=2, per_class=2)
    (root / "class_9").mkdir()
    with pytest.raises(DataError, match=r"class folder .*class_9 is empty"):
        prepare_data(DataSourceConfig(root=root), GRAY)


def test_truncated_png_in_both_error_modes(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "images", classes=2, per_class=6)
    truncate(root / "class_1" / "002.png")
    with pytest.raises(DataError, match=r"1 image\(s\) cannot be read:\n  .*class_1/002\.png"):
        prepare_data(DataSourceConfig(root=root, val_fraction=0.2, test_fraction=0.2), GRAY, tmp_path / "a")
    with pytest.warns(UserWarning, match="skipped 1 unreadable image"):
        bundle = prepare_data(DataSourceConfig(root=root, on_bad_image="skip", val_fraction=0.2, test_fraction=0.2),
                              GRAY, tmp_path / "b")
    summary = json.loads((tmp_path / "b" / "bad_images.json").read_text())
    assert summary["skipped"] == 1 and summary["images"][0]["path"].endswith("class_1/002.png")
    assert len(bundle.train) + len(bundle.val or []) + len(bundle.test or []) == 11


def test_sixteen_bit_images_flow_through_the_dataset(tmp_path: Path) -> None:
    root = tmp_path / "images"
    for label in range(2):
        for index in range(4):
            write_png(root / f"c{label}" / f"{index}.png", np.full((40, 40), 1000 + 20000 * label, dtype=np.uint16))
    bundle = prepare_data(DataSourceConfig(root=root, val_fraction=0, test_fraction=0, augment="none"), GRAY)
    values = {round(float(bundle.train[i][0].mean() * 0.25 + 0.5), 4) for i in range(len(bundle.train))}
    assert values == {round(1000 / 65535, 4), round(21000 / 65535, 4)}


def test_augmentation_presets_and_cacheability(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "images", classes=2, per_class=5)
    plain = prepare_data(DataSourceConfig(root=root, augment="none", test_fraction=0.2), RGB)
    light = prepare_data(DataSourceConfig(root=root, augment="medium", test_fraction=0.2), RGB)
    assert plain.train.deterministic and not light.train.deterministic
    assert light.val is not None and light.val.deterministic
    assert torch.equal(plain.train[0][0], plain.train[0][0])
    assert plain.train.fingerprint() == plain.train.fingerprint()


def test_config_needs_exactly_one_source() -> None:
    with pytest.raises(ConfigError, match=r"give exactly one of data\.root"):
        load_config({"backbone": {"name": "timm", "model": "test_resnet"}, "data": {"val_fraction": 0.1}})


def test_train_and_evaluate_commands_on_an_image_folder(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "images", classes=3, per_class=8)
    config = tmp_path / "experiment.yaml"
    config.write_text(f"""
backbone: {{name: timm, model: test_efficientnet, pretrained: false, in_chans: 1}}
policy: {{name: fine_tuning}}
data: {{root: {root}, val_fraction: 0.25, test_fraction: 0.25, augment: light}}
trainer: {{epochs: 2, batch_size: 4, lr: 0.01, monitor: val_balanced_accuracy}}
""")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    run = tmp_path / "run"
    result = subprocess.run([sys.executable, "-m", "tlcore", "train", str(config), "--out", str(run)],
                            capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stderr
    assert "test: loss" in result.stdout and "balanced_accuracy" in result.stdout
    for name in ("config.yaml", "split.csv", "classes.json", "metrics.jsonl", "test_report.json", "val_report.json",
                 "plots/test_confusion_matrix.png", "checkpoints/best/model.safetensors"):
        assert (run / name).is_file(), name
    evaluated = subprocess.run([sys.executable, "-m", "tlcore", "evaluate", str(run), "--split", "test"],
                               capture_output=True, text=True, env=env)
    assert evaluated.returncode == 0, evaluated.stderr
    saved = json.loads((run / "test_report.json").read_text())
    assert f"accuracy {saved['accuracy']:.4f}" in evaluated.stdout
    assert "class_0" in evaluated.stdout and "sensitivity" in evaluated.stdout
    missing = subprocess.run([sys.executable, "-m", "tlcore", "evaluate", str(tmp_path)], capture_output=True,
                             text=True, env=env)
    assert missing.returncode == 2 and "is not a run directory" in missing.stderr


def test_custom_v2_transform_from_the_api(tmp_path: Path) -> None:
    from torchvision.transforms import v2

    root = image_folder(tmp_path / "images", classes=2, per_class=4)
    custom = v2.Compose([v2.Resize(20), v2.CenterCrop(16)])
    bundle = prepare_data(DataSourceConfig(root=root, val_fraction=0, test_fraction=0), RGB, train_transform=custom)
    assert bundle.train[0][0].shape == (3, 16, 16)


def test_unaugmented_train_uses_the_evaluation_transform_even_without_a_val_split(tmp_path: Path) -> None:
    root = image_folder(tmp_path / "images", classes=2, per_class=4)
    bundle = prepare_data(DataSourceConfig(root=root, val_fraction=0, test_fraction=0, augment="medium"), RGB)
    assert bundle.val is None and not bundle.train.deterministic
    plain = bundle.unaugmented_train()
    assert plain.deterministic and plain.transform is bundle.eval_transform
    assert torch.equal(plain[0][0], plain[0][0]) and plain[0][0].shape == (3, 32, 32)
