"""Seeded, stratified train/val/test splits, written to and read back from the run directory."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tlcore.checkpoint import atomic_write_text
from tlcore.errors import ConfigError

SPLITS = ("train", "val", "test")


def assign_splits(labels: Sequence[int], val_fraction: float, test_fraction: float, seed: int,
                  stratify: bool = True) -> list[str]:
    """Give each sample ``train``, ``val`` or ``test``.

    Args:
        labels: Label of each sample.
        val_fraction: Fraction for validation.
        test_fraction: Fraction for the test.
        seed: Seed of the shuffle.
        stratify: Keep class proportions in every split.

    Raises:
        ConfigError: A class is too small to stratify.
    """
    from sklearn.model_selection import train_test_split

    indices = np.arange(len(labels))
    array = np.asarray(labels)
    splits = np.array(["train"] * len(labels), dtype=object)
    rest = indices
    try:
        if test_fraction > 0:
            rest, test = train_test_split(indices, test_size=test_fraction, random_state=seed,
                                          stratify=array if stratify else None)
            splits[test] = "test"
        if val_fraction > 0:
            share = val_fraction / (1 - test_fraction)
            _, val = train_test_split(rest, test_size=share, random_state=seed + 1,
                                      stratify=array[rest] if stratify else None)
            splits[val] = "val"
    except ValueError as error:
        counts = dict(zip(*np.unique(array, return_counts=True), strict=True))
        raise ConfigError(f"data: cannot split {len(labels)} images with val_fraction={val_fraction} and "
                          f"test_fraction={test_fraction} ({error}); images per class: {counts}. Add images, lower "
                          "the fractions, or set data.stratify: false") from None
    return [str(s) for s in splits]


def write_split(path: Path, paths: Sequence[Path], labels: Sequence[str], splits: Sequence[str]) -> None:
    """Write ``split.csv`` (path, label, split) atomically."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["path", "label", "split"])
    writer.writerows([str(p), label, split] for p, label, split in zip(paths, labels, splits, strict=True))
    atomic_write_text(path, buffer.getvalue())


def read_split(path: Path) -> dict[str, str]:
    """Path to split, from a ``split.csv``."""
    with open(path, newline="", encoding="utf-8") as stream:
        return {row["path"]: row["split"] for row in csv.DictReader(stream)}
