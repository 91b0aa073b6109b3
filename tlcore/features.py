"""Deep features for the canonical pipeline: pooled backbone features of every split, to hand to
your own scikit-learn code (``tlcore features``)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.config import ExperimentConfig
from tlcore.feature_cache import FeatureCache


@dataclass
class FeatureSet:
    """Features, labels and paths per split, with the class names and the cache that made them."""

    classes: list[str]
    splits: dict[str, tuple[np.ndarray, np.ndarray, list[str]]]
    cache: FeatureCache

    def save(self, path: Path) -> list[Path]:
        """Write ``path`` (.npz) and, if pyarrow is installed, a Parquet file beside it."""
        arrays: dict[str, Any] = {"class_names": np.array(self.classes)}
        for split, (features, labels, paths) in self.splits.items():
            arrays.update({f"{split}_features": features, f"{split}_labels": labels,
                           f"{split}_paths": np.array(paths)})
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays)
        written = [path]
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            return written
        rows = [(split, p, int(label), feature.tolist()) for split, (features, labels, paths) in self.splits.items()
                for feature, label, p in zip(features, labels, paths, strict=True)]
        table = pa.table({"split": [r[0] for r in rows], "path": [r[1] for r in rows],
                          "label": [r[2] for r in rows], "features": [r[3] for r in rows]})
        parquet = path.with_suffix(".parquet")
        pq.write_table(table, parquet)
        return [*written, parquet]


def extract_features(config: ExperimentConfig, cache: FeatureCache | None = None) -> FeatureSet:
    """Pooled features of every split of ``config.data`` through ``config.backbone`` (no augmentation).

    Features come from the feature cache: a second call with the same cache, weights,
    preprocessing and data reuses them.
    """
    import torch

    from tlcore.data import discover, prepare_data
    from tlcore.errors import ConfigError
    from tlcore.model import build_backbone

    if config.data is None:
        raise ConfigError("data: required to extract features")
    from tlcore.reproducibility import seed_everything

    _, classes = discover(config.data)
    seed_everything(config.trainer.seed)  # as build_model does, so a random-init backbone is the same one
    backbone = build_backbone(config.backbone).eval()
    data = prepare_data(config.data, backbone.data_config, write=False)
    data.train.transform, data.train.deterministic = (data.val or data.test or data.train).transform, True
    storage = "disk" if config.trainer.feature_cache == "disk" else "memory"
    cache = cache or FeatureCache(storage, config.trainer.feature_cache_dir)  # type: ignore[arg-type]
    splits = {}
    for split, dataset in (("train", data.train), ("val", data.val), ("test", data.test)):
        if dataset is None:
            continue
        features, labels = cache.features(backbone, dataset, torch.device("cpu"))
        splits[split] = (features[0].numpy(), labels.numpy(), [str(s.path) for s in dataset.samples])
    return FeatureSet(classes, splits, cache)
