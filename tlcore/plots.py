"""PNG plots of a run: learning curves, confusion matrix, ROC curves (matplotlib, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.metrics import EvaluationReport


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(plt: Any, figure: Any, path: Path) -> Path:
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return path


def learning_curves(history: Sequence[dict[str, Any]], path: Path) -> Path:
    """Loss (left) and validation metrics (right) per epoch."""
    plt = _pyplot()
    epochs = [int(r["epoch"]) + 1 for r in history]
    figure, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    for key in ("train_loss", "val_loss"):
        if any(key in r for r in history):
            left.plot(epochs, [r.get(key, np.nan) for r in history], marker="o", label=key)
    left.set(xlabel="epoch", ylabel="cross-entropy", title="loss")
    for key in ("val_accuracy", "val_balanced_accuracy", "val_macro_f1", "val_roc_auc"):
        if any(key in r for r in history):
            right.plot(epochs, [r.get(key, np.nan) for r in history], marker="o", label=key.removeprefix("val_"))
    right.set(xlabel="epoch", ylim=(0, 1.02), title="validation")
    for axis in (left, right):
        axis.grid(alpha=0.3)
        if axis.get_legend_handles_labels()[0]:
            axis.legend()
    return _save(plt, figure, path)


def confusion_matrix(report: EvaluationReport, path: Path, title: str = "confusion matrix") -> Path:
    """The confusion matrix with counts in every cell."""
    from sklearn.metrics import ConfusionMatrixDisplay

    plt = _pyplot()
    size = max(4.0, 0.6 * len(report.class_names) + 2)
    figure, axis = plt.subplots(figsize=(size, size))
    ConfusionMatrixDisplay(np.array(report.confusion), display_labels=report.class_names).plot(
        ax=axis, colorbar=False, xticks_rotation=45)
    axis.set_title(title)
    return _save(plt, figure, path)


def roc_curves(report: EvaluationReport, path: Path, title: str = "ROC, one-vs-rest") -> Path:
    """One ROC curve per class (one for binary problems), with its AUC."""
    from sklearn.metrics import RocCurveDisplay

    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(5, 5))
    classes = [1] if len(report.class_names) == 2 else range(len(report.class_names))
    for index in classes:
        positives = report.labels == index
        if positives.all() or not positives.any():
            continue
        RocCurveDisplay.from_predictions(positives, report.probabilities[:, index], ax=axis,
                                         name=report.class_names[index])
    axis.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    axis.set_title(title)
    return _save(plt, figure, path)
