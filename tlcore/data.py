"""From a ``data`` config to train/val/test datasets, with the split kept in the run directory."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from tlcore.backbone import DataConfig
from tlcore.config import DataSourceConfig
from tlcore.datasets import (
    CACHE_BUDGET_BYTES,
    DataError,
    ImageDataset,
    Sample,
    class_names,
    read_manifest,
    scan_folder,
    verify,
    warn_skipped,
)
from tlcore.images import ImageReaders
from tlcore.splits import SPLITS, assign_splits, read_split, write_split
from tlcore.transforms import build_transform


@dataclass
class DataBundle:
    """The datasets of one experiment."""

    classes: list[str]
    train: ImageDataset
    eval_transform: Any
    val: ImageDataset | None = None
    test: ImageDataset | None = None
    bad_images: list[dict[str, str]] = field(default_factory=list)

    def unaugmented_train(self) -> ImageDataset:
        """The training images with the evaluation transform: for scoring them, or for heads fitted
        once on their features."""
        train = self.train
        return ImageDataset(train.samples, train.classes, train.readers, train.in_chans, self.eval_transform,
                            train.decoded)


def discover(config: DataSourceConfig) -> tuple[list[Sample], list[str]]:
    """List the images and their classes (cheap: no image is decoded)."""
    samples = scan_folder(config.root) if config.root is not None else read_manifest(config.manifest)  # type: ignore[arg-type]
    return samples, class_names(samples, config.classes)


def _splits(samples: list[Sample], classes: list[str], config: DataSourceConfig, run_dir: Path | None) -> list[str]:
    saved = run_dir / "split.csv" if run_dir is not None else None
    if saved is not None and saved.is_file():
        known = read_split(saved)
        unknown = [str(s.path) for s in samples if str(s.path) not in known]
        if unknown:
            raise DataError(f"{saved} does not list {len(unknown)} image(s) of the current data, e.g. {unknown[:3]}; "
                            "the data changed since this run was split. Start a new run directory.")
        return [known[str(s.path)] for s in samples]
    given = [s.split for s in samples]
    if all(given):
        return [str(s) for s in given]
    if any(given):
        raise DataError("data.manifest: the split column is filled for some rows only; fill it for all or none")
    labels = [classes.index(s.label) for s in samples]
    return assign_splits(labels, config.val_fraction, config.test_fraction, config.split_seed, config.stratify)


def prepare_data(config: DataSourceConfig, data_config: DataConfig, run_dir: Path | None = None,
                 write: bool = True, train_transform: Any = None, eval_transform: Any = None) -> DataBundle:
    """Read, verify, split and wrap the images for a backbone with ``data_config``.

    A split already saved in ``run_dir/split.csv`` is reused (resume, evaluation); otherwise the
    manifest's split column, else a seeded stratified split. ``split.csv``, ``classes.json`` and
    ``bad_images.json`` are written to ``run_dir`` when ``write``. ``train_transform`` and
    ``eval_transform`` replace the pipelines built from ``data_config`` (any callable on float
    tensors ``(C, H, W)`` in [0, 1], e.g. a torchvision v2 ``Compose``).

    Raises:
        DataError: Bad images with ``on_bad_image: error`` (all are named), or a malformed source.
    """
    samples, classes = discover(config)
    in_chans = data_config.in_chans
    readers = ImageReaders(config.readers)
    bad: list[dict[str, str]] = []
    decoded: dict[Path, torch.Tensor] = {}
    if config.verify:
        keep = config.cache_decoded == "on"
        if config.cache_decoded == "auto":
            first = readers.read(samples[0].path, in_chans) if samples[0].path.is_file() else None
            keep = first is not None and first.numel() * 4 * len(samples) < CACHE_BUDGET_BYTES
        samples, bad, decoded = verify(samples, readers, in_chans, keep)
        if bad and config.on_bad_image == "error":
            listed = "\n  ".join(b["error"] for b in bad[:10])
            raise DataError(f"{len(bad)} image(s) cannot be read:\n  {listed}\nFix or remove them, or set "
                            "data.on_bad_image: skip to train without them")
        warn_skipped(bad)
        if not samples:
            raise DataError("data: no readable image is left")
    splits = _splits(samples, classes, config, run_dir)
    if run_dir is not None and write:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_split(run_dir / "split.csv", [s.path for s in samples], [s.label for s in samples], splits)
        (run_dir / "classes.json").write_text(json.dumps(classes, indent=2) + "\n", encoding="utf-8")
        if bad:
            (run_dir / "bad_images.json").write_text(json.dumps({"skipped": len(bad), "images": bad}, indent=2) + "\n",
                                                     encoding="utf-8")
    if train_transform is None:
        train_transform = build_transform(data_config, True, config.augment, config.flip, config.image_size)
    if eval_transform is None:
        eval_transform = build_transform(data_config, False, "none", config.flip, config.image_size)
    parts = {}
    for split in SPLITS:
        chosen = [s for s, name in zip(samples, splits, strict=True) if name == split]
        transform = train_transform if split == "train" else eval_transform
        parts[split] = ImageDataset(chosen, classes, readers, in_chans, transform, decoded) if chosen else None
    if parts["train"] is None:
        raise DataError("data: the split leaves no training images")
    return DataBundle(classes, parts["train"], eval_transform, parts["val"], parts["test"], bad)
