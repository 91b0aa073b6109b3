"""scikit-learn pipelines (scaler, PCA or selection, classifier) wrapped as tlcore heads."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar, Literal

import numpy as np
import torch
from pydantic import Field, field_validator

from tlcore.config import HeadConfig
from tlcore.errors import ConfigError, TlcoreError
from tlcore.head import Head


class SklearnHeadConfig(HeadConfig):
    """Fields shared by the scikit-learn heads."""

    standardize: bool = Field(True, description="Standardise features (zero mean, unit variance) first.")
    pca: float | int | None = Field(None, gt=0, description="PCA before the classifier: a fraction in (0, 1) of "
                                    "variance to keep, or a number of components.")
    select_k: int | None = Field(None, ge=1, description="Keep the k features with the best univariate ANOVA F "
                                 "score (instead of PCA).")
    cv: int = Field(5, ge=2, description="Cross-validation folds on the training split for the grid search.")
    grid: dict[str, list[Any]] = Field(default_factory=dict, description="Hyperparameter grid of the classifier, "
                                       "e.g. {C: [0.1, 1, 10]}; each list needs at least one value.")

    @field_validator("grid")
    @classmethod
    def _non_empty(cls, grid: dict[str, list[Any]]) -> dict[str, list[Any]]:
        empty = [name for name, values in grid.items() if not values]
        if empty:
            raise ValueError(f"grid values must not be empty: {empty}")
        return grid


class SklearnHead(Head):
    """A scikit-learn pipeline fitted on frozen backbone features.

    ``forward`` returns log-probabilities, which act as logits: their softmax is the pipeline's
    ``predict_proba``. Fit it with :meth:`fit_features` (the trainer's classical sibling,
    :func:`tlcore.classical.fit_classical`, does this on cached features).
    """

    classical: ClassVar[bool] = True
    default_grid: ClassVar[dict[str, list[Any]]] = {}
    config: SklearnHeadConfig

    def __init__(self, config: SklearnHeadConfig, num_features: int, num_classes: int) -> None:
        super().__init__()
        self.config, self.num_features, self.num_classes = config, num_features, num_classes
        if isinstance(config.pca, int) and config.pca > num_features:
            raise ConfigError(f"head.pca: {config.pca} components exceed the backbone's {num_features} features")
        if config.select_k is not None and config.select_k > num_features:
            raise ConfigError(f"head.select_k: {config.select_k} exceeds the backbone's {num_features} features")
        if config.pca is not None and config.select_k is not None:
            raise ConfigError("head: use pca or select_k, not both")
        self.pipeline: Any = None
        self.best_params: dict[str, Any] = {}

    @classmethod
    def from_config(cls, config: Any, num_features: int, num_classes: int) -> SklearnHead:
        """Build an unfitted head."""
        return cls(config, num_features, num_classes)

    def estimator(self) -> Any:
        """The classifier; subclasses return a fresh scikit-learn estimator."""
        raise NotImplementedError

    def make_pipeline(self) -> Any:
        """Scaler, reduction and classifier as one ``Pipeline`` (steps named scale, reduce, classify)."""
        from sklearn.decomposition import PCA
        from sklearn.feature_selection import SelectKBest, f_classif
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        steps: list[tuple[str, Any]] = []
        if self.config.standardize:
            steps.append(("scale", StandardScaler()))
        if self.config.pca is not None:
            steps.append(("reduce", PCA(n_components=self.config.pca, random_state=0)))
        elif self.config.select_k is not None:
            steps.append(("reduce", SelectKBest(f_classif, k=self.config.select_k)))
        steps.append(("classify", self.estimator()))
        return Pipeline(steps)

    def fit_features(self, features: np.ndarray, labels: np.ndarray) -> dict[str, Any]:
        """Grid-search the classifier by cross-validation on ``features``; keep the refitted best."""
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        grid = {f"classify__{k}": v for k, v in (self.config.grid or self.default_grid).items()}
        folds = min(self.config.cv, int(np.bincount(labels).min()))
        if folds < 2:
            raise TlcoreError("a classical head needs at least 2 training images per class for cross-validation")
        search = GridSearchCV(self.make_pipeline(), grid, cv=StratifiedKFold(folds, shuffle=True, random_state=0),
                              scoring="balanced_accuracy", n_jobs=1)
        try:
            search.fit(features, labels)
        except ValueError as error:
            counts = np.bincount(labels).tolist()
            raise TlcoreError(f"the {self.name} head could not be fitted with {counts} training images per class "
                              f"({str(error).splitlines()[0]}); add images, lower head.cv, or use "
                              "logistic_regression, which needs fewer") from None
        self.pipeline = search.best_estimator_
        self.best_params = {k.removeprefix("classify__"): v for k, v in search.best_params_.items()}
        return {"cv_balanced_accuracy": float(search.best_score_), **self.best_params}

    def to_onnx(self, input_name: str = "features") -> Any:
        """The fitted pipeline as ONNX (``features -> label, probabilities``), for composed export."""
        return pipeline_to_onnx(self, input_name)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """Log-probabilities of the fitted pipeline."""
        if self.pipeline is None:
            raise TlcoreError(f"the {self.name} head is not fitted yet; train it with tlcore train or fit_classical")
        probabilities = self.pipeline.predict_proba(features.detach().cpu().double().numpy())
        return torch.from_numpy(np.log(np.clip(probabilities, 1e-12, 1.0))).float().to(features.device)


class LogisticRegressionConfig(SklearnHeadConfig):
    """Config of ``logistic_regression``."""

    name: Literal["logistic_regression"] = "logistic_regression"


class LogisticRegressionHead(SklearnHead):
    """Multinomial logistic regression (L2)."""

    name = "logistic_regression"
    config_class = LogisticRegressionConfig
    default_grid: ClassVar[dict[str, list[Any]]] = {"C": [0.01, 0.1, 1.0, 10.0]}

    def estimator(self) -> Any:
        """``LogisticRegression``."""
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(max_iter=2000)


class LinearSVMConfig(SklearnHeadConfig):
    """Config of ``linear_svm``."""

    name: Literal["linear_svm"] = "linear_svm"


class LinearSVMHead(SklearnHead):
    """A linear SVM with sigmoid probability calibration."""

    name = "linear_svm"
    config_class = LinearSVMConfig
    default_grid: ClassVar[dict[str, list[Any]]] = {"estimator__C": [0.01, 0.1, 1.0]}

    def estimator(self) -> Any:
        """``CalibratedClassifierCV(LinearSVC)``."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import LinearSVC

        return CalibratedClassifierCV(LinearSVC(max_iter=5000), cv=3)


class SVMConfig(SklearnHeadConfig):
    """Config of ``svm``."""

    name: Literal["svm"] = "svm"


class SVMHead(SklearnHead):
    """An RBF-kernel SVM with sigmoid-calibrated (Platt) probabilities."""

    name = "svm"
    config_class = SVMConfig
    default_grid: ClassVar[dict[str, list[Any]]] = {"estimator__C": [1.0, 10.0], "estimator__gamma": ["scale"]}

    def estimator(self) -> Any:
        """``CalibratedClassifierCV(SVC(kernel="rbf"), ensemble=False)``."""
        from sklearn.calibration import CalibratedClassifierCV
        from sklearn.svm import SVC

        return CalibratedClassifierCV(SVC(kernel="rbf"), method="sigmoid", cv=3, ensemble=False)


class RandomForestConfig(SklearnHeadConfig):
    """Config of ``random_forest``."""

    name: Literal["random_forest"] = "random_forest"
    standardize: bool = Field(False, description="Standardise features first (trees do not need it).")


class RandomForestHead(SklearnHead):
    """A random forest."""

    name = "random_forest"
    config_class = RandomForestConfig
    default_grid: ClassVar[dict[str, list[Any]]] = {"n_estimators": [200], "max_depth": [None, 16]}

    def estimator(self) -> Any:
        """``RandomForestClassifier``."""
        from sklearn.ensemble import RandomForestClassifier

        return RandomForestClassifier(random_state=0)


class KNNConfig(SklearnHeadConfig):
    """Config of ``knn``."""

    name: Literal["knn"] = "knn"


class KNNHead(SklearnHead):
    """k nearest neighbours."""

    name = "knn"
    config_class = KNNConfig
    default_grid: ClassVar[dict[str, list[Any]]] = {"n_neighbors": [3, 5, 9], "weights": ["distance"]}

    def estimator(self) -> Any:
        """``KNeighborsClassifier``."""
        from sklearn.neighbors import KNeighborsClassifier

        return KNeighborsClassifier()


def pipeline_to_onnx(head: SklearnHead, input_name: str = "features") -> Any:
    """The fitted pipeline as an ONNX graph ``features -> label, probabilities`` (skl2onnx)."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    if head.pipeline is None:
        raise TlcoreError("fit the head before exporting it")
    classifier = head.pipeline.steps[-1][1]
    with warnings.catch_warnings():  # skl2onnx reads SVC attributes that scikit-learn 1.9 marks deprecated
        warnings.simplefilter("ignore", FutureWarning)
        return convert_sklearn(head.pipeline, initial_types=[(input_name, FloatTensorType([None, head.num_features]))],
                               options={id(classifier): {"zipmap": False}}, target_opset={"": 18, "ai.onnx.ml": 3})
