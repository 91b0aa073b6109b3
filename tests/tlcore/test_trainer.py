"""The minimal Trainer: plans applied per epoch, frozen weights untouched, optimizer groups."""

from __future__ import annotations

import pytest
import torch
from torch.nn.modules.batchnorm import _BatchNorm
from torch.utils.data import TensorDataset

from tlcore.config import load_config
from tlcore.model import TransferModel, build_model
from tlcore.optim import build_optimizer
from tlcore.trainer import Trainer, TrainingDivergedError


def data(n: int = 16, classes: int = 3) -> TensorDataset:
    generator = torch.Generator().manual_seed(1)
    return TensorDataset(torch.randn(n, 3, 32, 32, generator=generator),
                         torch.randint(0, classes, (n,), generator=generator))


def setup(policy: dict[str, object], epochs: int = 2, model: str = "test_efficientnet") -> tuple[
        TransferModel, Trainer]:
    config = load_config({"backbone": {"name": "timm", "model": model, "pretrained": False},
                          "policy": policy, "num_classes": 3,
                          "trainer": {"epochs": epochs, "batch_size": 8, "lr": 1e-2, "device": "cpu"}})
    return build_model(config), Trainer.from_config(config)


def snapshot(model: TransferModel) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def test_feature_extraction_keeps_backbone_bit_identical_and_trains_the_head() -> None:
    model, trainer = setup({"name": "feature_extraction"})
    before = snapshot(model)
    history = trainer.fit(model, data(), data(8))
    after = model.state_dict()
    for key, value in before.items():
        if key.startswith("backbone."):
            assert torch.equal(value, after[key]), f"frozen {key} changed"
        else:
            assert not torch.equal(value, after[key]), f"trainable {key} did not change"
    assert len(history) == 2 and "val_accuracy" in history[-1]


def test_fine_tuning_top_groups_trains_only_those() -> None:
    model, trainer = setup({"name": "fine_tuning", "train_top_groups": 1})
    before = snapshot(model)
    top = set(model.layer_groups()[-2].params)
    trainer.fit(model, data())
    for name, param in model.named_parameters():
        changed = not torch.equal(before[name], param)
        assert changed == (name in top or name.startswith("head.")), name
    running = [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]
    frozen_bn = [n for n in running if not any(p.startswith(n + ".") for p in top)]
    for name in frozen_bn:
        assert torch.equal(before[f"{name}.running_mean"], model.state_dict()[f"{name}.running_mean"])


def test_optimizer_groups_carry_the_plan_learning_rates() -> None:
    model, trainer = setup({"name": "fine_tuning", "train_top_groups": 2})
    plan = trainer.plan_for(model, 0)
    model.apply_plan(plan)
    optimizer = build_optimizer(model, plan, trainer.config)
    names = [g["group"] for g in optimizer.param_groups]
    assert set(names) == {*model.group_names()[-3:]}
    assert all(g["lr"] == pytest.approx(1e-2) for g in optimizer.param_groups)
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert {id(p) for g in optimizer.param_groups for p in g["params"]} == trainable
    assert all(g["weight_decay"] == 0 for g in optimizer.param_groups if g["params"][0].ndim == 1)


def test_same_seed_gives_identical_weights() -> None:
    results = []
    for _ in range(2):
        model, trainer = setup({"name": "fine_tuning"}, epochs=1)
        trainer.fit(model, data())
        results.append(snapshot(model))
    assert all(torch.equal(results[0][k], results[1][k]) for k in results[0])


def test_nan_loss_stops_with_epoch_and_step() -> None:
    model, trainer = setup({"name": "fine_tuning"}, epochs=1)
    bad = data()
    bad.tensors[0][9] = float("nan")
    from tlcore.batching import epoch_batches
    from tlcore.distributed import DistContext

    step = next(i for i, b in enumerate(epoch_batches(16, 8, 0, 0, DistContext())) if 9 in b)
    with pytest.raises(TrainingDivergedError, match=f"epoch 0, step {step};"):
        trainer.fit(model, bad)


def test_predict_and_evaluate() -> None:
    model, trainer = setup({"name": "feature_extraction"}, epochs=1)
    probabilities = trainer.predict(model, data(5))
    assert probabilities.shape == (5, 3)
    assert torch.allclose(probabilities.sum(1), torch.ones(5))
    report = trainer.evaluate(model, data(5))
    assert set(report.scalars()) == {"loss", "accuracy", "balanced_accuracy", "macro_f1", "roc_auc"}
