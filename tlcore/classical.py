"""The trainer's small sibling for heads that are not trained by gradient descent (scikit-learn).

The backbone is frozen, features come from the feature cache, the head is fitted by
cross-validated grid search, and the result goes through the same evaluation, metrics, plots
and run directory as a neural head.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tlcore.errors import TlcoreError
from tlcore.freeze import GroupPlan, Plan
from tlcore.head import Head
from tlcore.model import TransferModel
from tlcore.run_dir import RunDirectory
from tlcore.trainer import Trainer


def is_classical(model: TransferModel) -> bool:
    """Whether the model's head is fitted by :func:`fit_classical` rather than :meth:`Trainer.fit`."""
    return bool(getattr(model.head, "classical", False))


def fit_classical(trainer: Trainer, model: TransferModel, train_data: Dataset[Any],
                  val_data: Dataset[Any] | None = None, *, run_dir: str | Path | None = None,
                  class_names: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Fit a classical head on cached features of a frozen backbone, then evaluate it like any head.

    ``train_data`` must be deterministic (no augmentation): the head sees each image's
    features once.

    Returns:
        A one-record history: cross-validation score, chosen hyperparameters, validation metrics.
    """
    started = time.perf_counter()
    model.to(trainer.device)
    *backbone, head = model.group_names()
    model.apply_plan(Plan(0, (*(GroupPlan(g, trainable=False) for g in backbone), GroupPlan(head, True))))
    cached = trainer.cached_features(model, train_data)
    if cached is None:
        from tlcore.feature_cache import FeatureCache

        cached = FeatureCache().features(model.backbone, train_data, trainer.device)
    features, labels = cached
    record: dict[str, Any] = {"epoch": 0, "phase": 0, **model.head.fit_features(  # type: ignore[operator]
        features[0].double().numpy(), labels.numpy())}
    trainer.class_names = list(class_names or getattr(train_data, "classes", None) or []) or None
    run = RunDirectory(run_dir) if run_dir is not None else None
    if run is not None and trainer.experiment is not None:
        run.write_config(trainer.experiment)
    if val_data is not None:
        report = trainer.evaluate(model, val_data)
        record.update({f"val_{k}": v for k, v in report.scalars().items()})
        if run is not None:
            run.write_report(report, "val")
            run.write_json("best.json", {"epoch": 0, "monitor": "cv_balanced_accuracy",
                                         "value": record["cv_balanced_accuracy"]})
    record["seconds"] = time.perf_counter() - started
    trainer.history = [record]
    if run is not None:
        run.write_metrics(trainer.history)
        _save_head(run, model)
    return trainer.history


def _save_head(run: RunDirectory, model: TransferModel) -> None:
    """Backbone weights as safetensors and the fitted head as ONNX: no pickles."""
    import onnx
    from safetensors.torch import save_file

    from tlcore.checkpoint import atomic_write

    best = run.checkpoints / "best"
    best.mkdir(parents=True, exist_ok=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.backbone.state_dict().items()}
    atomic_write(best / "backbone.safetensors", lambda tmp: save_file(weights, str(tmp)))
    if not hasattr(model.head, "to_onnx"):
        raise TlcoreError(f"{type(model.head).__name__} cannot be saved without to_onnx()")
    head_graph = model.head.to_onnx("features")  # type: ignore[operator]
    atomic_write(best / "head.onnx", lambda tmp: onnx.save(head_graph, str(tmp)))


class OnnxHead(Head):
    """A fitted classical head loaded back from ``head.onnx`` (run through onnxruntime).

    Lets ``tlcore evaluate`` and ``tlcore export`` work on classical runs without pickles.
    """

    name = "onnx_head"
    classical = True

    def __init__(self, path: Path, num_features: int, num_classes: int) -> None:
        super().__init__()
        import onnx
        import onnxruntime as ort

        self.proto = onnx.load(str(path))
        self.session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        self.num_features, self.num_classes = num_features, num_classes
        self.output = next(o.name for o in self.session.get_outputs() if "probabilities" in o.name)

    @classmethod
    def from_config(cls, config: Any, num_features: int, num_classes: int) -> OnnxHead:
        """Not built from configs."""
        raise TlcoreError("OnnxHead is loaded from a run directory, not built from a config")

    def to_onnx(self, input_name: str = "features") -> Any:
        """The stored graph."""
        return self.proto

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Log-probabilities from the stored graph."""
        probabilities = self.session.run([self.output], {"features": features.detach().cpu().float().numpy()})[0]
        return torch.from_numpy(np.log(np.clip(probabilities, 1e-12, 1.0))).float().to(features.device)
