"""The :class:`Trainer`: fit, evaluate and predict a :class:`~tlcore.model.TransferModel`."""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Dataset, TensorDataset

from tlcore.callbacks import Callback
from tlcore.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from tlcore.config import ExperimentConfig, TrainerConfig
from tlcore.errors import TlcoreError
from tlcore.feature_cache import FeatureCache, Storage, is_deterministic
from tlcore.freeze import FreezePolicy, GroupPlan, Plan
from tlcore.model import TransferModel, build_policy
from tlcore.optim import build_optimizer
from tlcore.reproducibility import seed_everything
from tlcore.schedule import build_scheduler

DataSource = Dataset[Any] | DataLoader[Any]


class TrainingDivergedError(TlcoreError):
    """The loss became NaN or infinite."""


class Trainer:
    """Trains a model under a freeze policy, re-applying the policy's plan every epoch.

    When the plan's phase changes, the optimizer and the LR scheduler are rebuilt from the
    new plan, so newly trainable groups are optimised at their planned rate; optimizer state
    of groups that were already training carries over. While the whole backbone is frozen,
    the head trains on cached features (see :mod:`tlcore.feature_cache`).

    Args:
        config: Loop options.
        policy: The strategy; defaults to training everything.
        callbacks: Called at fit, phase and epoch boundaries.

    Attributes:
        optimizer: The current optimizer (rebuilt at each phase change).
        scheduler: The current LR scheduler.
        plan: The plan of the current epoch.
    """

    def __init__(self, config: TrainerConfig | None = None, policy: FreezePolicy | None = None,
                 callbacks: Sequence[Callback] = ()) -> None:
        self.config = config or TrainerConfig()
        self.policy = policy
        self.callbacks = list(callbacks)
        self.history: list[dict[str, float]] = []
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: LRScheduler | None = None
        self.plan: Plan | None = None
        self.step = 0
        self.phase: int | None = None
        self.steps_per_epoch = 0
        self._phase_features: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._fitting = False
        self.device = self._pick_device()
        self.feature_cache = self._make_cache()

    @classmethod
    def from_config(cls, config: ExperimentConfig, callbacks: Sequence[Callback] = ()) -> Trainer:
        """Build the trainer and its policy from an experiment config."""
        return cls(config.trainer, build_policy(config.policy), callbacks)

    def _pick_device(self) -> torch.device:
        wanted = self.config.device
        if wanted == "auto":
            wanted = "cuda" if torch.cuda.is_available() else "cpu"
        return torch.device(wanted)

    def _make_cache(self) -> FeatureCache | None:
        mode = self.config.feature_cache
        if mode == "off":
            return None
        storage: Storage = "disk" if mode == "disk" else "memory"
        return FeatureCache(storage, self.config.feature_cache_dir, self.config.feature_cache_views,
                            batch_size=max(self.config.batch_size, 64))

    def _loader(self, data: DataSource, shuffle: bool, epoch: int = 0) -> DataLoader[Any]:
        if isinstance(data, DataLoader):
            return data
        generator = torch.Generator().manual_seed(self.config.seed * 100_003 + epoch)
        workers = 0 if isinstance(data, TensorDataset) else self.config.num_workers
        return DataLoader(data, batch_size=self.config.batch_size, shuffle=shuffle, num_workers=workers,
                          generator=generator)

    def plan_for(self, model: TransferModel, epoch: int) -> Plan:
        """The policy's plan for ``epoch``; everything trains when no policy was given."""
        if self.policy is None:
            return Plan(0, tuple(GroupPlan(name, trainable=True) for name in model.group_names()))
        return self.policy.plan(epoch, model.group_names())

    def _cached(self, model: TransferModel, data: DataSource | None) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Cached features for ``data`` when the backbone is constant and caching applies."""
        if self.feature_cache is None or data is None or isinstance(data, DataLoader):
            return None
        if not model.backbone_is_constant:
            return None
        if self.config.feature_cache == "auto" and not is_deterministic(data):
            return None
        if not self._fitting:
            return self.feature_cache.features(model.backbone, data, self.device)
        found = self._phase_features.get(id(data))  # within a phase of fit() the backbone cannot change
        if found is None:
            found = self._phase_features[id(data)] = self.feature_cache.features(model.backbone, data, self.device)
        return found

    def _scheduler(self, optimizer: torch.optim.Optimizer, step: int, steps_per_epoch: int) -> LRScheduler:
        config = self.config
        return build_scheduler(optimizer, step, config.epochs * steps_per_epoch, config.scheduler,
                               warmup_steps=round(config.warmup_epochs * steps_per_epoch),
                               min_factor=config.min_lr_ratio, step_every=config.step_epochs * steps_per_epoch,
                               gamma=config.gamma)

    def _rebuild_optimizer(self, model: TransferModel, plan: Plan,
                           old: torch.optim.Optimizer | None) -> torch.optim.Optimizer:
        optimizer = build_optimizer(model, plan, self.config)
        if old is not None:
            for group in optimizer.param_groups:
                for param in group["params"]:
                    if param in old.state:
                        optimizer.state[param] = old.state[param]
        return optimizer

    def fit(self, model: TransferModel, train_data: DataSource, val_data: DataSource | None = None, *,
            checkpoint_dir: str | Path | None = None, resume: bool = False) -> list[dict[str, float]]:
        """Train for ``config.epochs`` epochs.

        Args:
            model: The model; it is moved to the trainer's device.
            train_data: A dataset of ``(image, label)`` pairs, or a DataLoader.
            val_data: Optional validation data, evaluated after every epoch.
            checkpoint_dir: Where to save a checkpoint after every epoch.
            resume: Continue from the latest checkpoint in ``checkpoint_dir``, if there is one.

        Returns:
            One dict of metrics per epoch (also kept in ``self.history``).

        Raises:
            TrainingDivergedError: The loss became NaN or infinite.
        """
        seed_everything(self.config.seed)
        model.to(self.device)
        self.steps_per_epoch = len(self._loader(train_data, shuffle=False))
        self.step, self.phase, self.optimizer, self.scheduler = 0, None, None, None
        directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
        found = latest_checkpoint(directory) if resume and directory is not None else None
        start_epoch = self._restore(model, found) if found is not None else 0
        self._phase_features.clear()
        self._fitting = True
        try:
            for callback in self.callbacks:
                callback.on_fit_start(self, model)
            for epoch in range(start_epoch, self.config.epochs):
                started = time.perf_counter()
                self.plan = self.plan_for(model, epoch)
                if self.plan.phase != self.phase or self.optimizer is None:
                    self._enter_phase(model, self.plan)
                record = self._train_epoch(model, train_data, epoch)
                if val_data is not None:
                    record.update({f"val_{k}": v for k, v in self.evaluate(model, val_data).items()})
                record["seconds"] = time.perf_counter() - started
                self.history.append(record)
                if directory is not None:
                    save_checkpoint(directory, f"epoch-{epoch:04d}", model, self.optimizer, {
                        "epoch": epoch, "step": self.step, "phase": self.plan.phase, "history": self.history,
                        "rng": rng_state()})
                for callback in self.callbacks:
                    callback.on_epoch_end(self, model, record)
        finally:
            self._fitting = False
            self._phase_features.clear()
        for callback in self.callbacks:
            callback.on_fit_end(self, model)
        return self.history

    def _restore(self, model: TransferModel, path: Path) -> int:
        """Load a checkpoint into model, optimizer, scheduler and RNGs; return the next epoch."""
        checkpoint = load_checkpoint(path)
        model.load_state_dict(checkpoint.model)
        state = checkpoint.state
        plan = self.plan_for(model, state["epoch"])
        model.apply_plan(plan)
        self.optimizer = build_optimizer(model, plan, self.config)
        if checkpoint.optimizer is not None:
            self.optimizer.load_state_dict(checkpoint.optimizer)
        self.step, self.phase = state["step"], plan.phase
        self.scheduler = self._scheduler(self.optimizer, self.step, self.steps_per_epoch)
        self.history = state["history"]
        set_rng_state(state["rng"])
        return int(state["epoch"]) + 1

    def _enter_phase(self, model: TransferModel, plan: Plan) -> None:
        """Apply a new plan; rebuild optimizer and scheduler for its groups at the current step."""
        model.apply_plan(plan)
        self._phase_features.clear()
        self.optimizer = self._rebuild_optimizer(model, plan, self.optimizer)
        self.scheduler = self._scheduler(self.optimizer, self.step, self.steps_per_epoch)
        self.phase = plan.phase
        for callback in self.callbacks:
            callback.on_phase_start(self, model, plan)

    def _train_epoch(self, model: TransferModel, train_data: DataSource, epoch: int) -> dict[str, float]:
        """One pass over the training data (or its cached features); returns the epoch's record."""
        assert self.optimizer is not None and self.scheduler is not None and self.plan is not None
        cached = self._cached(model, train_data)
        if cached is not None:
            features, labels = cached
            source: DataSource = TensorDataset(features[epoch % features.shape[0]], labels)
            forward: nn.Module = model.head
        else:
            source, forward = train_data, model
        model.train()
        total, count = 0.0, 0
        for batch_index, (inputs, targets) in enumerate(self._loader(source, shuffle=True, epoch=epoch)):
            inputs, targets = inputs.to(self.device), targets.to(self.device)
            loss: torch.Tensor = nn.functional.cross_entropy(forward(inputs), targets)
            if not math.isfinite(loss.item()):
                raise TrainingDivergedError(f"loss is {loss.item()} at epoch {epoch}, step {batch_index}; lower "
                                            "trainer.lr or check the input data. The last good checkpoint is kept.")
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]
            self.optimizer.step()
            self.scheduler.step()
            self.step += 1
            total += loss.item() * len(targets)
            count += len(targets)
        return {"epoch": epoch, "phase": self.plan.phase, "train_loss": total / max(count, 1),
                "lr": self.optimizer.param_groups[-1]["lr"], "cached_features": float(cached is not None)}

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
        was_training = model.training
        model.to(self.device).eval()
        cached = self._cached(model, data) if isinstance(model, TransferModel) else None
        if cached is not None and isinstance(model, TransferModel):
            source: DataSource = TensorDataset(cached[0][0], cached[1])
            forward: nn.Module = model.head
        else:
            source, forward = data, model
        loss_sum, correct, count = 0.0, 0, 0
        for inputs, labels in self._loader(source, shuffle=False):
            logits = forward(inputs.to(self.device)).float()
            labels = labels.to(self.device)
            loss_sum += nn.functional.cross_entropy(logits, labels, reduction="sum").item()
            correct += int((logits.argmax(1) == labels).sum())
            count += len(labels)
        model.train(was_training)
        return {"loss": loss_sum / max(count, 1), "accuracy": correct / max(count, 1)}
