"""tlcore plugin: scikit-learn classifiers as heads on frozen deep features.

``logistic_regression``, ``linear_svm``, ``svm`` (RBF), ``random_forest`` and ``knn``, each
after optional standardisation, PCA or univariate selection, with hyperparameters chosen by
cross-validation on the training split. They register through the same hook as the neural heads.
"""

from __future__ import annotations

from collections.abc import Callable

from tlcore.hookspecs import hookimpl
from tlcore_sklearn.heads import (
    KNNHead,
    LinearSVMHead,
    LogisticRegressionHead,
    RandomForestHead,
    SklearnHead,
    SklearnHeadConfig,
    SVMHead,
)

__all__ = ["KNNHead", "LinearSVMHead", "LogisticRegressionHead", "RandomForestHead", "SVMHead", "SklearnHead",
           "SklearnHeadConfig", "tlcore_register_heads"]


@hookimpl
def tlcore_register_heads(register: Callable[[type], None]) -> None:
    """Register the scikit-learn heads."""
    for head in (LogisticRegressionHead, LinearSVMHead, SVMHead, RandomForestHead, KNNHead):
        register(head)
