"""Classification metrics a medical reader expects, computed with scikit-learn."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class EvaluationReport:
    """Metrics of one evaluation.

    Attributes:
        loss: Mean cross-entropy.
        accuracy: Fraction correct.
        balanced_accuracy: Mean recall over classes (robust to imbalance).
        macro_f1: Unweighted mean F1 over classes.
        roc_auc: One-vs-rest ROC-AUC (binary: of the positive class); NaN when a class is absent.
        per_class: For each class name: sensitivity (recall), specificity, precision, support.
        confusion: Confusion matrix, rows are true classes, columns predicted.
        class_names: Names of the classes, in label order.
        labels: True labels.
        probabilities: Predicted probabilities ``(N, C)``.
    """

    loss: float
    accuracy: float
    balanced_accuracy: float
    macro_f1: float
    roc_auc: float
    per_class: dict[str, dict[str, float]]
    confusion: list[list[int]]
    class_names: list[str]
    labels: np.ndarray = field(repr=False)
    probabilities: np.ndarray = field(repr=False)

    def scalars(self) -> dict[str, float]:
        """The single-number metrics, for logs and model selection."""
        return {"loss": self.loss, "accuracy": self.accuracy, "balanced_accuracy": self.balanced_accuracy,
                "macro_f1": self.macro_f1, "roc_auc": self.roc_auc}

    def to_dict(self) -> dict[str, Any]:
        """Everything except the raw arrays, JSON-serialisable (NaN becomes null)."""
        clean = {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in self.scalars().items()}
        return {**clean, "per_class": self.per_class, "confusion": self.confusion, "class_names": self.class_names}


def classification_report(labels: np.ndarray, probabilities: np.ndarray, loss: float,
                          class_names: Sequence[str] | None = None) -> EvaluationReport:
    """Compute every metric from true labels and predicted probabilities.

    Args:
        labels: ``(N,)`` integer labels.
        probabilities: ``(N, C)`` class probabilities.
        loss: The mean loss, passed through.
        class_names: Names for the ``C`` classes; ``"0"``, ``"1"``... when omitted.
    """
    from sklearn.metrics import (
        accuracy_score,
        balanced_accuracy_score,
        confusion_matrix,
        f1_score,
        precision_recall_fscore_support,
        roc_auc_score,
    )

    num_classes = probabilities.shape[1]
    names = list(class_names) if class_names is not None else [str(i) for i in range(num_classes)]
    classes = list(range(num_classes))
    predictions = probabilities.argmax(axis=1)
    confusion = confusion_matrix(labels, predictions, labels=classes)
    precision, recall, _, support = precision_recall_fscore_support(labels, predictions, labels=classes,
                                                                    zero_division=0)
    negatives = confusion.sum() - confusion.sum(axis=1)
    false_positives = confusion.sum(axis=0) - np.diag(confusion)
    specificity = np.divide(negatives - false_positives, negatives, out=np.zeros(num_classes), where=negatives > 0)
    present = np.unique(labels)
    if len(present) < num_classes or len(present) < 2:
        roc_auc = float("nan")
    elif num_classes == 2:
        roc_auc = float(roc_auc_score(labels, probabilities[:, 1]))
    else:
        roc_auc = float(roc_auc_score(labels, probabilities, multi_class="ovr", labels=classes))
    per_class = {name: {"sensitivity": float(recall[i]), "specificity": float(specificity[i]),
                        "precision": float(precision[i]), "support": int(support[i])}
                 for i, name in enumerate(names)}
    return EvaluationReport(
        loss=float(loss),
        accuracy=float(accuracy_score(labels, predictions)),
        balanced_accuracy=float(balanced_accuracy_score(labels, predictions)) if len(labels) else float("nan"),
        macro_f1=float(f1_score(labels, predictions, labels=classes, average="macro", zero_division=0)),
        roc_auc=roc_auc,
        per_class=per_class,
        confusion=confusion.tolist(),
        class_names=names,
        labels=labels,
        probabilities=probabilities,
    )
