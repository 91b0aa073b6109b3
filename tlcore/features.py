"""Deep features for the canonical pipeline: pooled backbone features of every split, to hand to
your own scikit-learn code (``tlcore features``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
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
    intermediate: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    def save(self, path: Path) -> list[Path]:
        """Write ``path`` (.npz) and, if pyarrow is installed, a Parquet file beside it."""
        arrays: dict[str, Any] = {"class_names": np.array(self.classes)}
        for split, (features, labels, paths) in self.splits.items():
            arrays.update({f"{split}_features": features, f"{split}_labels": labels,
                           f"{split}_paths": np.array(paths)})
            for group, values in self.intermediate.get(split, {}).items():
                arrays[f"{split}_features_{group}"] = values
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


def group_output_module(backbone: Any, group: Any) -> Any:
    """The module whose output ends a layer group: the group's common module, else the module
    holding its last parameter."""
    parts = [p.split(".")[:-1] for p in group.params]
    prefix: list[str] = []
    for tokens in zip(*parts, strict=False):
        if len(set(tokens)) != 1:
            break
        prefix.append(tokens[0])
    return backbone.get_submodule(".".join(prefix) if prefix else ".".join(parts[-1]))


def intermediate_features(backbone: Any, dataset: Any, groups: Sequence[str], batch_size: int = 64
                          ) -> dict[str, np.ndarray]:
    """Globally average-pooled outputs of the named layer groups (multi-scale features)."""
    import torch
    from torch.utils.data import DataLoader

    from tlcore.errors import ConfigError

    by_name = {g.name: g for g in backbone.layer_groups()}
    unknown = [g for g in groups if g not in by_name]
    if unknown:
        raise ConfigError(f"--groups: {unknown} are not layer groups of this backbone; groups: {sorted(by_name)}")
    outputs: dict[str, list[np.ndarray]] = {g: [] for g in groups}

    def pooled(name: str) -> Any:
        def hook(module: Any, inputs: Any, output: Any) -> None:
            value = output[0] if isinstance(output, tuple | list) else output
            value = value.mean(dim=(2, 3)) if value.ndim == 4 else value.mean(dim=1) if value.ndim == 3 else value
            outputs[name].append(value.float().cpu().numpy())
        return hook

    handles = [group_output_module(backbone, by_name[g]).register_forward_hook(pooled(g)) for g in groups]
    try:
        backbone.eval()
        with torch.no_grad():
            for images, _ in DataLoader(dataset, batch_size=batch_size):
                backbone.forward_features(images)
    finally:
        for handle in handles:
            handle.remove()
    return {g: np.concatenate(v) for g, v in outputs.items()}


def extract_features(config: ExperimentConfig, cache: FeatureCache | None = None,
                     groups: Sequence[str] = ()) -> FeatureSet:
    """Pooled features of every split of ``config.data`` through ``config.backbone`` (no augmentation).

    Features come from the feature cache: a second call with the same cache, weights,
    preprocessing and data reuses them. ``groups`` adds the pooled outputs of those layer
    groups (multi-scale features), computed directly.
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
    storage = "disk" if config.trainer.feature_cache == "disk" else "memory"
    cache = cache or FeatureCache(storage, config.trainer.feature_cache_dir)  # type: ignore[arg-type]
    splits = {}
    datasets = {"train": data.unaugmented_train(), "val": data.val, "test": data.test}
    for split, dataset in datasets.items():
        if dataset is None:
            continue
        features, labels = cache.features(backbone, dataset, torch.device("cpu"))
        splits[split] = (features[0].numpy(), labels.numpy(), [str(s.path) for s in dataset.samples])
    intermediate = {split: intermediate_features(backbone, dataset, groups)
                    for split, dataset in datasets.items() if dataset is not None and groups}
    return FeatureSet(classes, splits, cache, intermediate)
