"""One call from a config to a trained, evaluated run: what ``tlcore train`` does."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tlcore.config import ExperimentConfig
from tlcore.errors import ConfigError
from tlcore.metrics import EvaluationReport
from tlcore.model import TransferModel


@dataclass
class RunResult:
    """What a run produced."""

    run_dir: Path
    model: TransferModel
    history: list[dict[str, float]]
    classes: list[str]
    test: EvaluationReport | None
    seconds: float


def default_run_dir(name: str = "run") -> Path:
    """``runs/<name>-<YYYYmmdd-HHMMSS>``."""
    return Path("runs") / f"{name}-{time.strftime('%Y%m%d-%H%M%S')}"


def train(config: ExperimentConfig, run_dir: str | Path | None = None, resume: bool = False,
          callbacks: Any = ()) -> RunResult:
    """Build data, model and trainer from ``config``, fit, and evaluate on the test split.

    Args:
        config: The experiment; ``config.data`` is required.
        run_dir: The run directory; default ``config.run_dir`` or :func:`default_run_dir`.
        resume: Continue the run in ``run_dir`` from its latest checkpoint, with its saved split.
        callbacks: Extra :class:`~tlcore.callbacks.Callback` objects.

    Raises:
        ConfigError: ``config.data`` is missing.
    """
    from tlcore.classical import fit_classical, is_classical
    from tlcore.data import discover, prepare_data
    from tlcore.model import build_model
    from tlcore.trainer import Trainer

    if config.data is None:
        raise ConfigError("data: required to train; set data.root (an image folder) or data.manifest")
    started = time.perf_counter()
    path = Path(run_dir or config.run_dir or default_run_dir())
    _, classes = discover(config.data)
    if config.num_classes is not None and config.num_classes != len(classes):
        raise ConfigError(f"num_classes: {config.num_classes} does not match the {len(classes)} classes in the data "
                          f"{classes}; remove num_classes or fix the data")
    model = build_model(config, num_classes=len(classes))
    trainer = Trainer.from_config(config, callbacks)
    data = prepare_data(config.data, model.backbone.data_config, path, write=trainer.context.is_main)
    if is_classical(model):  # fitted once on features of the un-augmented training images
        history = fit_classical(trainer, model, data.unaugmented_train(), data.val, run_dir=path,
                                class_names=classes)
    else:
        history = trainer.fit(model, data.train, data.val, run_dir=path, resume=resume, class_names=classes)
    report = None
    if data.test is not None:
        report = trainer.evaluate(model, data.test, classes)
        if trainer.context.is_main:
            from tlcore.run_dir import RunDirectory

            RunDirectory(path).write_report(report, "test")
    return RunResult(path, model, history, classes, report, time.perf_counter() - started)
