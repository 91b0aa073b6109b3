"""The run directory: everything needed to resume, evaluate or export a run.

::

    RUN_DIR/
      config.yaml           the experiment config, as validated
      metrics.jsonl         one line per epoch
      best.json             the selected epoch and its monitored metric
      val_report.json       metrics of the selected model on the validation set
      plots/                learning_curves.png, val_confusion_matrix.png, val_roc.png
      checkpoints/          epoch-*/ step-*/ best/ (safetensors + JSON), latest.json
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tlcore.checkpoint import atomic_write_text
from tlcore.metrics import EvaluationReport


def _json_safe(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


class RunDirectory:
    """Writes a run's files. Only rank 0 writes; other ranks get ``enabled=False``.

    Args:
        path: The run folder (created if missing).
        enabled: Whether this process writes.
    """

    def __init__(self, path: str | Path, enabled: bool = True) -> None:
        self.path = Path(path)
        self.enabled = enabled
        if enabled:
            (self.path / "checkpoints").mkdir(parents=True, exist_ok=True)

    @property
    def checkpoints(self) -> Path:
        """The ``checkpoints/`` folder."""
        return self.path / "checkpoints"

    def write_json(self, name: str, data: Any) -> None:
        """Atomically write ``name`` as indented JSON (non-finite floats become null)."""
        if self.enabled:
            atomic_write_text(self.path / name, json.dumps(_json_safe(data), indent=2) + "\n")

    def write_config(self, config: Any) -> None:
        """Write ``config.yaml`` from a pydantic config."""
        if self.enabled:
            import yaml

            text = yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)
            atomic_write_text(self.path / "config.yaml", text)

    def write_metrics(self, history: Sequence[dict[str, Any]]) -> None:
        """Rewrite ``metrics.jsonl`` from the whole history (so a resumed run has no duplicates)."""
        if self.enabled:
            lines = "".join(json.dumps(_json_safe(record)) + "\n" for record in history)
            atomic_write_text(self.path / "metrics.jsonl", lines)

    def write_report(self, report: EvaluationReport, split: str) -> None:
        """Write ``<split>_report.json`` and the confusion-matrix and ROC plots."""
        if not self.enabled:
            return
        from tlcore import plots

        self.write_json(f"{split}_report.json", report.to_dict())
        (self.path / "plots").mkdir(exist_ok=True)
        plots.confusion_matrix(report, self.path / "plots" / f"{split}_confusion_matrix.png", f"{split}: confusion")
        plots.roc_curves(report, self.path / "plots" / f"{split}_roc.png", f"{split}: ROC, one-vs-rest")

    def write_learning_curves(self, history: Sequence[dict[str, Any]]) -> None:
        """Write ``plots/learning_curves.png``."""
        if self.enabled and history:
            from tlcore import plots

            (self.path / "plots").mkdir(exist_ok=True)
            plots.learning_curves(history, self.path / "plots" / "learning_curves.png")
