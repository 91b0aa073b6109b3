"""Evaluating a finished run from its directory alone (``tlcore evaluate``)."""

from __future__ import annotations

import json
from pathlib import Path

from tlcore.errors import ConfigError
from tlcore.metrics import EvaluationReport
from tlcore.model import TransferModel


def load_run_model(run_dir: Path, checkpoint: str = "best") -> tuple[TransferModel, list[str]]:
    """Rebuild a run's model from ``config.yaml`` and load a checkpoint (``best``, else the latest).

    No pretrained weights are fetched: the checkpoint holds every weight.
    """
    from tlcore.checkpoint import latest_checkpoint, load_checkpoint
    from tlcore.config import load_config
    from tlcore.model import build_model

    if not (run_dir / "config.yaml").is_file():
        raise ConfigError(f"{run_dir} is not a run directory (no config.yaml); give the folder tlcore train wrote")
    config = load_config(run_dir / "config.yaml")
    classes = json.loads((run_dir / "classes.json").read_text(encoding="utf-8"))
    structure = config.model_copy(update={"backbone": config.backbone.model_copy(update={"pretrained": False,
                                                                                        "weights": None})})
    model = build_model(structure, num_classes=len(classes))
    best = run_dir / "checkpoints" / "best"
    if (best / "head.onnx").is_file():  # a classical head: backbone weights plus the head's ONNX graph
        from safetensors.torch import load_file

        from tlcore.classical import OnnxHead

        model.backbone.load_state_dict(load_file(str(best / "backbone.safetensors")))
        model.head = OnnxHead(best / "head.onnx", model.backbone.num_features, len(classes))
        return model.eval(), classes
    path = run_dir / "checkpoints" / checkpoint
    if not path.is_dir():
        path = latest_checkpoint(run_dir / "checkpoints")  # type: ignore[assignment]
    if path is None:
        raise ConfigError(f"{run_dir} has no checkpoint to evaluate")
    model.load_state_dict(load_checkpoint(path).model)
    model.eval()
    return model, classes


def evaluate_run(run_dir: Path, split: str = "test") -> EvaluationReport:
    """Evaluate the best model of ``run_dir`` on one of its saved splits; write the report and plots."""
    from tlcore.config import load_config
    from tlcore.data import prepare_data
    from tlcore.run_dir import RunDirectory
    from tlcore.trainer import Trainer

    model, classes = load_run_model(run_dir)
    config = load_config(run_dir / "config.yaml")
    if config.data is None:
        raise ConfigError(f"{run_dir}/config.yaml has no data section")
    if not (run_dir / "split.csv").is_file():
        raise ConfigError(f"{run_dir} has no split.csv; it was not written by tlcore train")
    data = prepare_data(config.data, model.backbone.data_config, run_dir, write=False)
    dataset = {"train": data.unaugmented_train(), "val": data.val, "test": data.test}[split]
    if dataset is None:
        raise ConfigError(f"--split {split}: the run's split has no {split} images")
    trainer = Trainer(config.trainer.model_copy(update={"feature_cache": "off", "progress": "none"}))
    report = trainer.evaluate(model, dataset, classes)
    RunDirectory(run_dir).write_report(report, split)
    return report
