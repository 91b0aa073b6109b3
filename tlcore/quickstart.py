"""``tlcore quickstart``: why transfer learning wins on a small set, measured offline in minutes.

Real images (Animal-MNIST silhouettes, see :mod:`tlcore.sample_data`) are written as an image
folder, and EfficientNet-Lite0 is trained four ways through the same API and YAML configs a
user writes: from scratch, by feature extraction on ImageNet features (with the feature
cache), as deep features with PCA and an SVM (the canonical pipeline with a pretrained network's
features), and by gradual unfreezing with discriminative learning rates. The arm that is best on
*validation* is exported to ONNX and used to classify held-out images. Every number printed
is measured in the run.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from tlcore.sample_data import ANIMALS, write_animal_folder

BACKBONE = {"name": "timm", "model": "tf_efficientnet_lite0"}


@dataclass(frozen=True)
class QuickstartSize:
    """How much data and training the quickstart uses."""

    per_class: int = 90
    val_per_class: int = 10
    test_per_class: int = 50
    image_size: int = 96
    epochs: int = 12
    batch_size: int = 32


SMOKE = QuickstartSize(per_class=9, val_per_class=2, test_per_class=2, image_size=32, epochs=1, batch_size=8)


def arm_configs(root: Path, size: QuickstartSize) -> dict[str, dict[str, Any]]:
    """The experiment configs of the three arms, as a user would write them."""
    data = {"root": str(root), "val_fraction": size.val_per_class / size.per_class,
            "test_fraction": size.test_per_class / size.per_class, "image_size": size.image_size,
            "augment": "light"}
    trainer = {"epochs": size.epochs, "batch_size": size.batch_size, "monitor": "val_balanced_accuracy",
               "progress": "lines", "warmup_epochs": min(1, size.epochs - 1)}
    return {
        "from_scratch": {"backbone": {**BACKBONE, "pretrained": False}, "policy": {"name": "fine_tuning"},
                         "data": data, "trainer": {**trainer, "lr": 3e-3}},
        "feature_extraction": {"backbone": BACKBONE, "policy": {"name": "feature_extraction"}, "data": data,
                               "trainer": {**trainer, "lr": 1e-2, "feature_cache": "memory",
                                           "feature_cache_views": 4}},
        "deep_features_svm": {"backbone": BACKBONE, "head": {"name": "svm", "pca": 0.95},
                              "policy": {"name": "feature_extraction"}, "data": data, "trainer": trainer},
        "gradual_unfreezing_discriminative": {
            "backbone": BACKBONE, "data": data, "trainer": {**trainer, "lr": 3e-3},
            "policy": {"name": "discriminative_lr", "factor": 2.6,
                       "base": {"name": "gradual_unfreezing", "every": max(1, size.epochs // 6)}}},
    }


def run(out: Path, size: QuickstartSize | None = None, log: Callable[[str], Any] = print) -> list[dict[str, Any]]:
    """Run the quickstart into ``out``; return one result row per arm.

    ``out`` receives ``data/`` (the image folder), ``configs/`` (one YAML per arm), ``runs/``
    (one run directory per arm), ``results.json``, ``results.md``, ``results.png`` and the
    best arm's ``model.onnx``.
    """
    from tlcore.config import load_config
    from tlcore.export import export_run
    from tlcore.predictor import OnnxPredictor
    from tlcore.runner import train

    size = size or QuickstartSize()
    out.mkdir(parents=True, exist_ok=True)
    root = out / "data" / "animal_mnist"
    if not root.is_dir():
        write_animal_folder(root, size.per_class)
    log(f"data: {root} - Animal-MNIST silhouettes (MIT), {len(ANIMALS)} classes x {size.per_class} images: "
        f"{size.per_class - size.val_per_class - size.test_per_class} train, {size.val_per_class} validation, "
        f"{size.test_per_class} test per class, resized to {size.image_size} px")
    rows: list[dict[str, Any]] = []
    for arm, raw in arm_configs(root, size).items():
        path = out / "configs" / f"{arm}.yaml"
        path.parent.mkdir(exist_ok=True)
        path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
        log(f"\n== {arm} ({path})")
        started = time.perf_counter()
        result = train(load_config(path), out / "runs" / arm)
        report = result.test
        assert report is not None
        rows.append({"arm": arm, "weights": result.model.backbone.weights_source,
                     "val_balanced_accuracy": max(h.get("val_balanced_accuracy", 0.0) for h in result.history),
                     "head": raw.get("head", {"name": "linear"})["name"],
                     "test_accuracy": report.accuracy, "test_balanced_accuracy": report.balanced_accuracy,
                     "test_macro_f1": report.macro_f1, "seconds": time.perf_counter() - started,
                     "run_dir": str(result.run_dir)})
    _write_results(out, rows, log)
    best = max(rows, key=lambda r: r["val_balanced_accuracy"])
    onnx_path, parity = export_run(Path(best["run_dir"]), out / "model.onnx")
    log(f"\nexported the arm best on validation ({best['arm']}) to {onnx_path}: parity on {parity.images} images, "
        f"max |logit diff| {parity.max_abs_logit_diff:.1e}, top-1 agreement {parity.top1_agreement:.0%}")
    predictor = OnnxPredictor(onnx_path)
    held_out = _held_out_images(Path(best["run_dir"]), count=5)
    for (image, truth), ranked in zip(held_out, predictor.predict([p for p, _ in held_out], top_k=1), strict=True):
        log(f"  {image.name:>12}  true {truth:<9} predicted {ranked[0][0]:<9} ({ranked[0][1]:.2f})")
    log("\nThe same on your own images (one folder per class):\n"
        "  tlcore config --example > my.yaml      # set data.root: /path/to/images\n"
        "  tlcore train my.yaml --out runs/mine\n"
        "  tlcore export runs/mine\n"
        "  tlcore predict runs/mine/model.onnx some_image.png --top-k 3")
    return rows


def _held_out_images(run_dir: Path, count: int) -> list[tuple[Path, str]]:
    import csv

    with open(run_dir / "split.csv", newline="", encoding="utf-8") as stream:
        rows = [r for r in csv.DictReader(stream) if r["split"] == "test"]
    step = max(1, len(rows) // count)
    return [(Path(r["path"]), r["label"]) for r in rows[::step][:count]]


def _write_results(out: Path, rows: list[dict[str, Any]], log: Callable[[str], Any]) -> None:
    header = "| arm | weights | test accuracy | test balanced accuracy | test macro-F1 | seconds |"
    lines = [header, "| --- | --- | --- | --- | --- | --- |"]
    lines += [f"| {r['arm']} | {r['weights']} | {r['test_accuracy']:.3f} | {r['test_balanced_accuracy']:.3f} | "
              f"{r['test_macro_f1']:.3f} | {r['seconds']:.0f} |" for r in rows]
    (out / "results.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (out / "results.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    log("\nresults (test split, never used for selection):")
    log(f"  {'arm':<36} {'accuracy':>9} {'bal. acc.':>9} {'macro-F1':>9} {'seconds':>8}")
    for r in rows:
        log(f"  {r['arm']:<36} {r['test_accuracy']:>9.3f} {r['test_balanced_accuracy']:>9.3f} "
            f"{r['test_macro_f1']:>9.3f} {r['seconds']:>8.1f}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 3.5))
    names = [r["arm"].replace("_", "\n") for r in rows]
    axis.bar(names, [r["test_balanced_accuracy"] for r in rows], color=["#999999", "#4c72b0", "#c44e52", "#55a868"])
    axis.set(ylim=(0, 1), ylabel="test balanced accuracy", title="EfficientNet-Lite0 on Animal-MNIST")
    figure.tight_layout()
    figure.savefig(out / "results.png", dpi=100)
    plt.close(figure)
