"""The :class:`Trainer`: fit, evaluate and predict a :class:`~tlcore.model.TransferModel`."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from tlcore.config import ExperimentConfig, TrainerConfig
from tlcore.errors import TlcoreError
from tlcore.freeze import FreezePolicy, Plan
from tlcore.model import TransferModel, build_policy
from tlcore.optim import build_optimizer
from tlcore.reproducibility import seed_everything

DataSource = Dataset[Any] | DataLoader[Any]


class TrainingDivergedError(TlcoreError):
    """The loss became NaN or infinite."""


class Trainer:
    """Trains a model under a freeze policy, re-applying the policy's plan every epoch.

    When the plan's phase changes, the optimizer is rebuilt from the new plan, so newly
    trainable groups are optimised at their planned learning rate.

    Args:
        config: Loop options.
        policy: The strategy; defaults to training everything.
    """

    def __init__(self, config: TrainerConfig | None = None, policy: FreezePolicy | None = None) -> None:
        self.config = config or TrainerConfig()
        self.policy = policy
        self.history: list[dict[str, float]] = []
        self.device = self._pick_device()

    @classmethod
    def from_config(cls, config: ExperimentConfig) -> Trainer:
        """Build the trainer and its policy from an experiment config."""
        return cls(config.trainer, build_policy(config.policy))

    def _pick_device(self) -> torch.device:
        wanted = self.config.device
        if wanted == "auto":
            wanted = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(wanted)

    def _loader(self, data: DataSource, shuffle: bool) -> DataLoader[Any]:
        if isinstance(data, DataLoader):
            return data
        generator = torch.Generator().manual_seed(self.config.seed)
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=shuffle,
                          num_workers=self.config.num_workers, generator=generator)

    def plan_for(self, model: TransferModel, epoch: int) -> Plan:
        """The policy's plan for ``epoch``; everything trains when no policy was given."""
        if self.policy is None:
            from tlcore.freeze import GroupPlan

            return Plan(0, tuple(GroupPlan(name, trainable=True) for name in model.group_names()))
        return self.policy.plan(epoch, model.group_names())

    def fit(self, model: TransferModel, train_data: DataSource, val_data: DataSource | None = None) -> list[
            dict[str, float]]:
        """Train for ``config.epochs`` epochs.

        Args:
            model: The model; it is moved to the trainer's device.
            train_data: A dataset of ``(image, label)`` pairs, or a DataLoader.
            val_data: Optional validation data, evaluated after every epoch.

        Returns:
            One dict of metrics per epoch (also kept in ``self.history``).

        Raises:
            TrainingDivergedError: The loss became NaN or infinite.
        """
        seed_everything(self.config.seed)
        model.to(self.device)
        loader = self._loader(train_data, shuffle=True)
        loss_fn = nn.CrossEntropyLoss()
        phase: int | None = None
        optimizer: torch.optim.Optimizer | None = None
        for epoch in range(self.config.epochs):
            plan = self.plan_for(model, epoch)
            if plan.phase != phase or optimizer is None:
                model.apply_plan(plan)
                optimizer = build_optimizer(model, plan, self.config)
                phase = plan.phase
            model.train()
            total, count = 0.0, 0
            for step, (images, labels) in enumerate(loader):
                images, labels = images.to(self.device), labels.to(self.device)
                loss = loss_fn(model(images), labels)
                if not math.isfinite(loss.item()):
                    raise TrainingDivergedError(f"loss is {loss.item()} at epoch {epoch}, step {step}; lower "
                                                "trainer.lr or check the input data.")
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
                total += loss.item() * len(labels)
                count += len(labels)
            record = {"epoch": float(epoch), "train_loss": total / max(count, 1)}
            if val_data is not None:
                record.update({f"val_{k}": v for k, v in self.evaluate(model, val_data).items()})
            self.history.append(record)
        return self.history

    @torch.no_grad()
    def predict(self, model: nn.Module, data: DataSource | Iterable[torch.Tensor]) -> torch.Tensor:
        """Class probabilities ``(N, num_classes)`` for a dataset, a loader or image batches."""
        model.to(self.device).eval()
        loader = self._loader(data, shuffle=False) if isinstance(data, Dataset | DataLoader) else data
        outputs = []
        for batch in loader:
            images = batch[0] if isinstance(batch, Sequence) else batch
            outputs.append(torch.softmax(model(images.to(self.device)).float(), dim=1).cpu())
        return torch.cat(outputs)

    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: DataSource) -> dict[str, float]:
        """Mean cross-entropy loss and accuracy on labelled data."""
        model.to(self.device).eval()
        loss_sum, correct, count = 0.0, 0, 0
        for images, labels in self._loader(data, shuffle=False):
            logits = model(images.to(self.device)).float()
            labels = labels.to(self.device)
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += int((logits.argmax(1) == labels).sum())
            count += len(labels)
        return {"loss": loss_sum / max(count, 1), "accuracy": correct / max(count, 1)}
