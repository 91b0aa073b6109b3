"""Trainer features: run directory, model selection, accumulation, clipping, balance, precision, progress."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import TensorDataset

from tlcore.batching import class_weights, epoch_batches
from tlcore.config import load_config
from tlcore.distributed import DistContext
from tlcore.errors import ConfigError
from tlcore.metrics import classification_report
from tlcore.model import TransferModel, build_model
from tlcore.trainer import Trainer


def data(n: int = 12, seed: int = 3) -> TensorDataset:
    generator = torch.Generator().manual_seed(seed)
    return TensorDataset(torch.randn(n, 3, 32, 32, generator=generator), torch.arange(n) % 3)


def setup(policy: str = "fine_tuning", **trainer: Any) -> tuple[TransferModel, Trainer]:
    config = load_config({"backbone": {"name": "timm", "model": "test_efficientnet", "pretrained": False},
                          "policy": policy, "num_classes": 3,
                          "trainer": {"epochs": 3, "batch_size": 4, "lr": 0.01, "device": "cpu",
                                      "progress": "none", **trainer}})
    return build_model(config), Trainer.from_config(config)


def test_run_directory_holds_config_metrics_plots_and_pickle_free_checkpoints(tmp_path: Path) -> None:
    model, trainer = setup(monitor="val_balanced_accuracy")
    trainer.fit(model, data(), data(9, seed=4), run_dir=tmp_path, class_names=["a", "b", "c"])
    assert (tmp_path / "config.yaml").read_text().startswith("backbone:")
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [0, 1, 2]
    assert {"train_loss", "val_loss", "val_accuracy", "val_balanced_accuracy", "val_macro_f1", "val_roc_auc",
            "lr", "phase", "seconds"} <= set(json.loads(lines[0]))
    for plot in ("learning_curves", "val_confusion_matrix", "val_roc"):
        assert (tmp_path / "plots" / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
    report = json.loads((tmp_path / "val_report.json").read_text())
    assert set(report["per_class"]) == {"a", "b", "c"}
    assert set(report["per_class"]["a"]) == {"sensitivity", "specificity", "precision", "support"}
    best = json.loads((tmp_path / "best.json").read_text())
    assert best["monitor"] == "val_balanced_accuracy"
    checkpoints = tmp_path / "checkpoints"
    assert json.loads((checkpoints / "latest.json").read_text()) == {"checkpoint": "step-00000009"}
    assert sorted(p.name for p in (checkpoints / "step-00000009").iterdir()) == [
        "model.safetensors", "optimizer.safetensors", "state.json"]
    assert sorted(p.name for p in (checkpoints / "best").iterdir()) == ["model.safetensors", "state.json"]
    assert len(list(checkpoints.glob("step-*"))) == 2  # keep_checkpoints
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.pkl"))


def test_best_epoch_is_restored_and_early_stopping_stops() -> None:
    train = data()
    contradicting = TensorDataset(train.tensors[0], (train.tensors[1] + 1) % 3)  # gets worse as train improves
    model, trainer = setup(epochs=8, monitor="val_loss", early_stopping_patience=2, scheduler="constant")
    history = trainer.fit(model, train, contradicting)
    losses = [h["val_loss"] for h in history]
    best = int(np.argmin(losses))
    assert trainer.best["epoch"] == best and len(history) == best + 3 < 8
    assert trainer.evaluate(model, contradicting).loss == pytest.approx(losses[best], rel=1e-5)


def test_monitor_must_be_a_validation_metric() -> None:
    with pytest.raises(ConfigError, match=r"trainer\.monitor: Value error, monitor must be a validation metric"):
        setup(monitor="test_accuracy")


def test_gradient_accumulation_matches_a_larger_batch() -> None:
    heads = []
    for batch_size, accumulate in ((8, 1), (4, 2)):
        model, trainer = setup("feature_extraction", batch_size=batch_size, accumulate_steps=accumulate,
                               optimizer="sgd", momentum=0.0, epochs=2)
        trainer.fit(model, data(16))
        heads.append(model.head.fc.weight.detach().clone())
    assert torch.allclose(heads[0], heads[1], atol=1e-6)


def test_gradient_clipping_bounds_the_update() -> None:
    model, trainer = setup("feature_extraction", optimizer="sgd", momentum=0.0, weight_decay=0.0, lr=1.0,
                           clip_grad_norm=1e-3, epochs=1, batch_size=12, scheduler="constant")
    before = [p.detach().clone() for p in model.head.parameters()]
    trainer.fit(model, data())
    change = torch.sqrt(sum(((p - b) ** 2).sum() for p, b in zip(model.head.parameters(), before, strict=True)))
    assert 0 < change <= 1e-3 + 1e-7


def test_class_weights_and_balanced_sampling() -> None:
    labels = np.array([0] * 8 + [1] * 2)
    weights = class_weights(labels, 3)
    assert weights.tolist() == pytest.approx([10 / 24, 10 / 6, 0.0])
    sample_weights = weights[torch.from_numpy(labels)].double()
    drawn = [labels[i] for epoch in range(50) for b in epoch_batches(10, 5, 0, epoch, DistContext(), sample_weights)
             for i in b]
    assert abs(np.mean(drawn) - 0.5) < 0.05
    model, trainer = setup(class_balance="weights", epochs=1)
    trainer.fit(model, data())


def test_bf16_autocast_trains_on_cpu_and_fp16_needs_cuda() -> None:
    model, trainer = setup(precision="bf16", epochs=1)
    history = trainer.fit(model, data())
    assert np.isfinite(history[0]["train_loss"])
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match=r"trainer\.precision: fp16 needs a CUDA device"):
            setup(precision="fp16")


def test_channels_last_for_convolutional_backbones() -> None:
    model, trainer = setup(epochs=1)
    trainer.fit(model, data())
    conv = model.backbone.model.conv_stem.weight
    assert conv.is_contiguous(memory_format=torch.channels_last) and not conv.is_contiguous()


def test_plain_lines_when_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    model, trainer = setup(epochs=2, progress="auto")
    trainer.fit(model, data(), data(6))
    lines = capsys.readouterr().out.splitlines()
    assert [line.split("  ")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert "val_balanced_accuracy" in lines[0]


def test_metrics_match_hand_computed_values() -> None:
    labels = np.array([0, 0, 0, 1, 1, 2])
    probabilities = np.array([[.8, .1, .1], [.6, .3, .1], [.2, .7, .1], [.1, .8, .1], [.5, .4, .1], [.1, .1, .8]])
    report = classification_report(labels, probabilities, loss=0.5, class_names=["normal", "benign", "malignant"])
    assert report.accuracy == pytest.approx(4 / 6)
    assert report.balanced_accuracy == pytest.approx((2 / 3 + 1 / 2 + 1) / 3)
    assert report.per_class["normal"] == {"sensitivity": pytest.approx(2 / 3), "specificity": pytest.approx(2 / 3),
                                          "precision": pytest.approx(2 / 3), "support": 3}
    assert report.per_class["malignant"]["specificity"] == 1.0
    assert report.confusion == [[2, 1, 0], [1, 1, 0], [0, 0, 1]]
    assert 0.5 < report.roc_auc <= 1.0
