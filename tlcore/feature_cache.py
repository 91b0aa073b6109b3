"""Pooled features of a frozen backbone, computed once and reused by the head.

The cache key hashes the backbone's weights (parameters and buffers), its
``data_config``, the data, and the number of views, so a stale entry is never used:
change any of them and the features are computed again. Storage is in memory, or on
disk as memory-mapped ``.npy`` files for sets that do not fit.

With augmentation, caching one view would silently remove it. Either leave the cache
off, or cache ``views`` augmented passes over the data: epoch ``e`` trains on view
``e % views``. That costs ``views`` backbone passes up front and ``views`` times the
memory, instead of one backbone pass per epoch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from tlcore.backbone import Backbone

Storage = Literal["memory", "disk"]


def _bytes(tensor: torch.Tensor) -> bytes:
    flat = tensor.detach().cpu().contiguous().reshape(-1)
    return bytes(flat.view(torch.uint8).numpy().tobytes())


def weights_digest(module: torch.nn.Module) -> str:
    """SHA-256 of every parameter and buffer, by name."""
    digest = hashlib.sha256()
    for name, tensor in sorted(module.state_dict().items()):
        digest.update(name.encode())
        digest.update(_bytes(tensor))
    return digest.hexdigest()


def data_digest(data: Dataset[Any]) -> str | None:
    """A fingerprint of a dataset's content, or ``None`` when it has none.

    Uses ``data.fingerprint()`` when the dataset has one (tlcore's image datasets hash their
    files and transforms), hashes the tensors of a ``TensorDataset``, and hashes every sample
    of a dataset that declares ``deterministic = True``. Other datasets (typically augmented
    ones) have no stable content, so ``None`` is returned.
    """
    fingerprint = getattr(data, "fingerprint", None)
    if callable(fingerprint):
        return str(fingerprint())
    digest = hashlib.sha256()
    if isinstance(data, TensorDataset):
        for tensor in data.tensors:
            digest.update(str(tuple(tensor.shape)).encode())
            digest.update(_bytes(tensor))
        return digest.hexdigest()
    if not getattr(data, "deterministic", False):
        return None
    for index in range(len(data)):  # type: ignore[arg-type]
        image, label = data[index]
        digest.update(_bytes(torch.as_tensor(image)))
        digest.update(str(int(label)).encode())
    return digest.hexdigest()


def is_deterministic(data: Dataset[Any]) -> bool:
    """Whether a dataset returns the same sample every time: a ``TensorDataset``, or one that says so."""
    return isinstance(data, TensorDataset) or bool(getattr(data, "deterministic", False))


class FeatureCache:
    """Computes and keeps backbone features per (weights, preprocessing, data, views) key.

    Args:
        storage: ``memory``, or ``disk`` for memory-mapped files under ``directory``.
        directory: Where disk entries live; required for ``disk``.
        views: Passes over the data to cache (1 for deterministic data; K for K augmented views).
        batch_size: Batch size of the feature pass.
    """

    def __init__(self, storage: Storage = "memory", directory: Path | None = None, views: int = 1,
                 batch_size: int = 64) -> None:
        if storage == "disk" and directory is None:
            raise ValueError("a disk feature cache needs a directory")
        self.storage, self.directory, self.views, self.batch_size = storage, directory, views, batch_size
        self._memory: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self._anchors: dict[int, Dataset[Any]] = {}
        self.computed = 0
        self.reused = 0

    def key(self, backbone: Backbone, data: Dataset[Any]) -> str:
        """The cache key of ``data`` through ``backbone``.

        A dataset without a content fingerprint (see :func:`data_digest`) is keyed by the
        object itself, which is kept alive by the cache; such entries never go to disk.
        """
        content = data_digest(data)
        if content is None:
            self._anchors[id(data)] = data
            content = f"object:{id(data)}"
        parts = {"weights": weights_digest(backbone), "data_config": backbone.data_config.model_dump(mode="json"),
                 "data": content, "views": self.views, "backbone": type(backbone).__qualname__}
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:32]

    def _on_disk(self, data: Dataset[Any]) -> bool:
        return self.storage == "disk" and id(data) not in self._anchors

    def features(self, backbone: Backbone, data: Dataset[Any], device: torch.device) -> tuple[torch.Tensor,
                                                                                              torch.Tensor]:
        """Features ``(views, N, num_features)`` and labels ``(N,)``, computed only on a miss."""
        key = self.key(backbone, data)
        disk = self._on_disk(data)
        found = self._load(key, disk)
        if found is not None:
            self.reused += 1
            return found
        features, labels = self._compute(backbone, data, device)
        self.computed += 1
        self._store(key, features, labels, disk)
        return self._load(key, disk) or (features, labels)

    @torch.no_grad()
    def _compute(self, backbone: Backbone, data: Dataset[Any], device: torch.device) -> tuple[torch.Tensor,
                                                                                              torch.Tensor]:
        was_training = backbone.training
        backbone.eval()
        views, labels = [], []
        for view in range(self.views):
            chunks = []
            loader = DataLoader(data, batch_size=self.batch_size, shuffle=False,
                                generator=torch.Generator().manual_seed(view))  # leaves the global RNG alone
            for images, targets in loader:
                chunks.append(backbone.forward_features(images.to(device)).float().cpu())
                if view == 0:
                    labels.append(targets)
            views.append(torch.cat(chunks))
        backbone.train(was_training)
        return torch.stack(views), torch.cat(labels).long()

    def _paths(self, key: str) -> tuple[Path, Path]:
        assert self.directory is not None
        return self.directory / f"{key}.features.npy", self.directory / f"{key}.labels.npy"

    def _store(self, key: str, features: torch.Tensor, labels: torch.Tensor, disk: bool) -> None:
        if not disk:
            self._memory[key] = (features, labels)
            return
        from tlcore.checkpoint import atomic_write

        def writer(array: np.ndarray) -> Any:
            def write(tmp: Path) -> None:
                with open(tmp, "wb") as stream:
                    np.save(stream, array)
            return write

        for path, array in zip(self._paths(key), (features.numpy(), labels.numpy()), strict=True):
            atomic_write(path, writer(array))

    def _load(self, key: str, disk: bool) -> tuple[torch.Tensor, torch.Tensor] | None:
        if not disk:
            return self._memory.get(key)
        feature_path, label_path = self._paths(key)
        if not (feature_path.is_file() and label_path.is_file()):
            return None
        features = np.load(feature_path, mmap_mode="c")  # copy-on-write: the file is never modified
        return torch.from_numpy(features), torch.from_numpy(np.load(label_path))
