"""Phase changes: LR per group under every schedule, resume inside a phase, the feature cache."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch
from torch.utils.data import TensorDataset

from tlcore.callbacks import Callback
from tlcore.config import load_config
from tlcore.feature_cache import FeatureCache
from tlcore.model import TransferModel, build_model
from tlcore.schedule import lr_factor
from tlcore.trainer import Trainer

GRADUAL_DISCRIMINATIVE = {"name": "discriminative_lr", "base": {"name": "gradual_unfreezing", "every": 2}}


def data(n: int = 12) -> TensorDataset:
    generator = torch.Generator().manual_seed(3)
    return TensorDataset(torch.randn(n, 3, 32, 32, generator=generator), torch.arange(n) % 3)


def setup(policy: dict[str, Any], callbacks: list[Callback] = (), **trainer: Any) -> tuple[  # type: ignore[assignment]
        TransferModel, Trainer]:
    config = load_config({"backbone": {"name": "timm", "model": "test_efficientnet", "pretrained": False},
                          "policy": policy, "num_classes": 3,
                          "trainer": {"epochs": 6, "batch_size": 4, "lr": 0.01, "device": "cpu", **trainer}})
    return build_model(config), Trainer.from_config(config, callbacks)


class RecordLR(Callback):
    def __init__(self) -> None:
        self.rows: list[tuple[int, int, dict[str, float], dict[str, float]]] = []

    def on_epoch_end(self, trainer: Trainer, model: TransferModel, record: dict[str, Any]) -> None:
        assert trainer.optimizer is not None and trainer.scheduler is not None and trainer.plan is not None
        step = trainer.scheduler.last_epoch
        actual = {g["group"]: g["lr"] for g in trainer.optimizer.param_groups}
        planned = {g.name: trainer.config.lr * g.lr_mult for g in trainer.plan.groups if g.trainable}
        self.rows.append((int(record["epoch"]), step, actual, planned))


@pytest.mark.parametrize("schedule", ["cosine", "onecycle", "step", "constant"])
def test_group_learning_rates_follow_the_plan_at_every_epoch(schedule: str) -> None:
    recorder = RecordLR()
    model, trainer = setup(GRADUAL_DISCRIMINATIVE, [recorder], scheduler=schedule, warmup_epochs=1, step_epochs=2)
    trainer.fit(model, data())
    steps_per_epoch, total = 3, 18
    assert [len(row[2]) for row in recorder.rows] == [1, 1, 2, 2, 3, 3]  # groups join at phase changes
    for epoch, step, actual, planned in recorder.rows:
        assert step == (epoch + 1) * steps_per_epoch
        factor = lr_factor(step, total, schedule, warmup_steps=steps_per_epoch, step_every=2 * steps_per_epoch)  # type: ignore[arg-type]
        assert set(actual) == set(planned)
        for name, lr in actual.items():
            assert lr == pytest.approx(planned[name] * factor), (epoch, name)


class Crash(Callback):
    def __init__(self, after_epoch: int) -> None:
        self.after_epoch = after_epoch

    def on_epoch_end(self, trainer: Trainer, model: TransferModel, record: dict[str, Any]) -> None:
        if record["epoch"] == self.after_epoch:
            raise KeyboardInterrupt("simulated crash")


def test_resume_inside_a_gradual_unfreezing_phase_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    recorder = RecordLR()
    model, trainer = setup(GRADUAL_DISCRIMINATIVE, [recorder])
    trainer.fit(model, data(), run_dir=tmp_path / "straight")
    expected = {k: v.clone() for k, v in model.state_dict().items()}

    crashed_model, crashed = setup(GRADUAL_DISCRIMINATIVE, [Crash(after_epoch=2)])
    with pytest.raises(KeyboardInterrupt):
        crashed.fit(crashed_model, data(), run_dir=tmp_path / "resumed")  # epoch 2 opened phase 1

    resumed_recorder = RecordLR()
    resumed_model, resumed = setup(GRADUAL_DISCRIMINATIVE, [resumed_recorder])
    history = resumed.fit(resumed_model, data(), run_dir=tmp_path / "resumed", resume=True)
    assert [row[0] for row in resumed_recorder.rows] == [3, 4, 5]
    assert resumed_recorder.rows == recorder.rows[3:]
    assert [h["phase"] for h in history] == [0, 0, 1, 1, 2, 2]
    for key, value in expected.items():
        assert torch.equal(value, resumed_model.state_dict()[key]), key


class CountBackboneCalls(Callback):
    def on_fit_start(self, trainer: Trainer, model: TransferModel) -> None:
        self.calls: list[int] = []
        self.count = 0

        original = model.backbone.forward_features

        def counting(images: torch.Tensor) -> torch.Tensor:
            self.count += 1
            return original(images)

        model.backbone.forward_features = counting  # type: ignore[method-assign]

    def on_epoch_end(self, trainer: Trainer, model: TransferModel, record: dict[str, Any]) -> None:
        self.calls.append(self.count)


def test_feature_cache_skips_the_backbone_after_the_first_epoch() -> None:
    counter = CountBackboneCalls()
    model, trainer = setup({"name": "feature_extraction"}, [counter], epochs=3)
    history = trainer.fit(model, data(), data(6))
    assert counter.calls[0] > 0 and counter.calls[1] == counter.calls[0] == counter.calls[2]
    assert all(h["cached_features"] == 1.0 for h in history)
    assert trainer.feature_cache is not None and trainer.feature_cache.computed == 2  # train and validation


def test_cached_and_uncached_training_give_the_same_head() -> None:
    results = []
    for cache in ("memory", "off"):
        model, trainer = setup({"name": "feature_extraction"}, feature_cache=cache, epochs=2)
        trainer.fit(model, data())
        results.append(model.head.fc.weight.detach().clone())
    assert torch.allclose(results[0], results[1], atol=1e-5)


def test_cache_is_invalidated_by_weights_preprocessing_or_data() -> None:
    model, _ = setup({"name": "feature_extraction"})
    cache = FeatureCache()
    backbone = model.backbone
    key = cache.key(backbone, data())
    assert cache.key(backbone, data()) == key
    with torch.no_grad():
        next(backbone.parameters()).add_(1e-3)
    changed_weights = cache.key(backbone, data())
    backbone.data_config = backbone.data_config.model_copy(update={"mean": (0.4, 0.4, 0.4)})
    changed_preprocessing = cache.key(backbone, data())
    assert len({key, changed_weights, changed_preprocessing, cache.key(backbone, data(10))}) == 4


def test_disk_cache_is_reused_across_runs(tmp_path: Path) -> None:
    for run in range(2):
        model, trainer = setup({"name": "feature_extraction"}, feature_cache="disk", feature_cache_dir=tmp_path,
                               epochs=1)
        trainer.fit(model, data())
        assert trainer.feature_cache is not None
        assert (trainer.feature_cache.computed, trainer.feature_cache.reused) == ((1, 0) if run == 0 else (0, 1))
    assert len(list(tmp_path.glob("*.features.npy"))) == 1


def test_augmented_data_is_not_cached_unless_asked() -> None:
    class Augmented(torch.utils.data.Dataset[tuple[torch.Tensor, int]]):
        def __len__(self) -> int:
            return 8

        def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
            return torch.randn(3, 32, 32), index % 3

    model, trainer = setup({"name": "feature_extraction"}, epochs=1)
    assert trainer.fit(model, Augmented())[-1]["cached_features"] == 0.0
    model, trainer = setup({"name": "feature_extraction"}, epochs=2, feature_cache="memory", feature_cache_views=2)
    trainer.fit(model, Augmented())
    assert trainer.feature_cache is not None and trainer.feature_cache.computed == 1
