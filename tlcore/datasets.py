"""Image sources (folders and manifests) and the dataset that reads them."""

from __future__ import annotations

import csv
import hashlib
import json
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch
from torch.utils.data import Dataset

from tlcore.errors import TlcoreError
from tlcore.images import BadImageError, ImageReaders

CACHE_BUDGET_BYTES = 2 * 1024**3


class DataError(TlcoreError):
    """The image source is malformed: empty class, unknown label, missing file..."""


@dataclass(frozen=True)
class Sample:
    """One image: its file, its class name, and the split the source assigned (if any)."""

    path: Path
    label: str
    split: str | None = None


def scan_folder(root: Path) -> list[Sample]:
    """Every file under ``root/<class>/`` (hidden files skipped).

    Raises:
        DataError: ``root`` is missing, has no class folders, or a class folder is empty.
    """
    if not root.is_dir():
        raise DataError(f"data.root: {root} is not a folder")
    classes = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise DataError(f"data.root: {root} has no class folders; lay images out as {root}/<class>/<image>")
    samples: list[Sample] = []
    for folder in classes:
        files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise DataError(f"data.root: class folder {folder} is empty; add images or remove the folder")
        samples.extend(Sample(path, folder.name) for path in files)
    return samples


def read_manifest(manifest: Path) -> list[Sample]:
    """Rows of a CSV or JSONL manifest with ``path``, ``label`` and optional ``split``.

    Raises:
        DataError: The file is missing, a column is missing, a split value is unknown, or
            listed files do not exist (all missing files are named, up to ten).
    """
    if not manifest.is_file():
        raise DataError(f"data.manifest: {manifest} does not exist")
    with open(manifest, newline="", encoding="utf-8") as stream:
        if manifest.suffix.lower() in (".jsonl", ".ndjson"):
            rows = [json.loads(line) for line in stream if line.strip()]
        else:
            rows = list(csv.DictReader(stream))
    samples: list[Sample] = []
    missing: list[str] = []
    for number, row in enumerate(rows, start=2 if manifest.suffix.lower() == ".csv" else 1):
        if not row.get("path") or row.get("label") in (None, ""):
            raise DataError(f"data.manifest: {manifest} line {number} needs non-empty 'path' and 'label' columns, "
                            f"got {sorted(row)}")
        split = (row.get("split") or "").strip() or None
        if split not in (None, "train", "val", "test"):
            raise DataError(f"data.manifest: {manifest} line {number}: split must be train, val or test, not {split!r}")
        path = Path(row["path"])
        path = path if path.is_absolute() else manifest.parent / path
        if not path.is_file():
            missing.append(str(path))
        samples.append(Sample(path, str(row["label"]), split))
    if missing:
        raise DataError(f"data.manifest: {len(missing)} listed file(s) do not exist, e.g. {missing[:10]}")
    if not samples:
        raise DataError(f"data.manifest: {manifest} lists no images")
    return samples


def class_names(samples: Sequence[Sample], declared: Sequence[str] | None) -> list[str]:
    """The classes in label order: ``declared``, or the sorted labels found.

    Raises:
        DataError: A sample's label is not among ``declared``.
    """
    found = sorted({s.label for s in samples})
    if declared is None:
        return found
    unknown = sorted(set(found) - set(declared))
    if unknown:
        raise DataError(f"data.classes: labels {unknown} match no class in {list(declared)}")
    return list(declared)


def verify(samples: Sequence[Sample], readers: ImageReaders, in_chans: int,
           keep: bool) -> tuple[list[Sample], list[dict[str, str]], dict[Path, torch.Tensor]]:
    """Decode every image once (in threads): the good samples, the bad ones with reasons, and, if
    ``keep``, the decoded tensors."""

    def decode(sample: Sample) -> torch.Tensor | BadImageError:
        try:
            return readers.read(sample.path, in_chans)
        except BadImageError as error:
            return error

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(decode, samples))
    good, bad, decoded = [], [], {}
    for sample, result in zip(samples, results, strict=True):
        if isinstance(result, BadImageError):
            bad.append({"path": str(sample.path), "error": str(result)})
        else:
            good.append(sample)
            if keep:
                decoded[sample.path] = result
    return good, bad, decoded


class ImageDataset(Dataset[tuple[torch.Tensor, int]]):
    """Images with integer labels, read by the installed readers and transformed.

    Args:
        samples: The images.
        classes: Class names; a sample's label is its index here.
        readers: The configured image readers.
        in_chans: Channels the backbone takes (gray is replicated, colour turned to luma).
        transform: A callable on ``(C, H, W)`` float tensors in [0, 1], e.g. from
            :func:`tlcore.transforms.build_transform`, or any torchvision v2 transform.
        decoded: Already decoded images by path (a small set held in memory).
    """

    def __init__(self, samples: Sequence[Sample], classes: Sequence[str], readers: ImageReaders, in_chans: int,
                 transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
                 decoded: dict[Path, torch.Tensor] | None = None) -> None:
        from tlcore.transforms import is_random

        self.samples = list(samples)
        self.classes = list(classes)
        index = {name: i for i, name in enumerate(self.classes)}
        self.targets = [index[s.label] for s in self.samples]
        self.readers, self.in_chans, self.transform = readers, in_chans, transform
        self.decoded = decoded or {}
        self.deterministic = transform is None or not is_random(transform)

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        sample = self.samples[index]
        image = self.decoded.get(sample.path)
        if image is None:
            image = self.readers.read(sample.path, self.in_chans)
        if self.transform is not None:
            image = self.transform(image)
        return image, self.targets[index]

    def fingerprint(self) -> str:
        """Hash of files (path, size, modification time), labels, channels and transform."""
        digest = hashlib.sha256(f"{self.in_chans}|{self.transform!r}|{self.classes}".encode())
        for sample, target in zip(self.samples, self.targets, strict=True):
            stat = sample.path.stat()
            digest.update(f"{sample.path}|{stat.st_size}|{stat.st_mtime_ns}|{target}".encode())
        return digest.hexdigest()


def warn_skipped(bad: Sequence[dict[str, str]]) -> None:
    """Warn once about images left out by ``on_bad_image: skip``."""
    if bad:
        warnings.warn(f"skipped {len(bad)} unreadable image(s), e.g. {bad[0]['path']}; see bad_images.json",
                      stacklevel=2)
