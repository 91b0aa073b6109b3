"""The :class:`Trainer`: fit, evaluate and predict a :class:`~tlcore.model.TransferModel`."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler
from torch.utils.data import DataLoader, Dataset, TensorDataset

from tlcore import distributed
from tlcore.batching import class_weights, dataset_labels, epoch_batches
from tlcore.callbacks import Callback, TensorBoardLogger
from tlcore.checkpoint import latest_checkpoint, load_checkpoint, rng_state, save_checkpoint, set_rng_state
from tlcore.config import ExperimentConfig, TrainerConfig
from tlcore.errors import ConfigError, TlcoreError
from tlcore.feature_cache import FeatureCache, Storage, is_deterministic
from tlcore.freeze import FreezePolicy, GroupPlan, Plan
from tlcore.inference import score
from tlcore.metrics import EvaluationReport, classification_report
from tlcore.model import TransferModel, build_policy
from tlcore.optim import build_optimizer
from tlcore.progress import Progress
from tlcore.reproducibility import seed_everything
from tlcore.run_dir import RunDirectory
from tlcore.schedule import build_scheduler


class TrainingDivergedError(TlcoreError):
    """The loss became NaN or infinite."""


class Trainer:
    """Trains a model under a freeze policy, re-applying the policy's plan every epoch.

    When the plan's phase changes, the optimizer, the LR scheduler and (under ``torchrun``)
    the DDP wrapper are rebuilt for the new plan, so newly trainable groups are optimised at
    their planned rate; optimizer state of groups that were already training carries over.
    While the whole backbone is frozen, the head trains on cached features.

    Args:
        config: Loop options.
        policy: The strategy; defaults to training everything.
        callbacks: Called at fit, phase, batch and epoch boundaries.
        experiment: The full experiment config, written to the run directory.

    Attributes:
        optimizer: The current optimizer (rebuilt at each phase change).
        scheduler: The current LR scheduler.
        plan: The plan of the current epoch.
        history: One record of metrics per finished epoch.
        should_stop: Set by a callback to end training after the current epoch.
    """

    def __init__(self, config: TrainerConfig | None = None, policy: FreezePolicy | None = None,
                 callbacks: Sequence[Callback] = (), experiment: ExperimentConfig | None = None) -> None:
        self.config = config or TrainerConfig()
        self.policy = policy
        self.callbacks = list(callbacks)
        self.experiment = experiment
        self.context = distributed.setup(self.config.device)
        self.device = self.context.device
        if self.config.precision == "fp16" and self.device.type != "cuda":
            raise ConfigError("trainer.precision: fp16 needs a CUDA device; use bf16 on the CPU")
        self.scaler = torch.amp.GradScaler("cuda") if self.config.precision == "fp16" else None
        self.feature_cache = self._make_cache()
        self.progress = Progress(self.config.progress, enabled=self.context.is_main)
        self.history: list[dict[str, float]] = []
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler: LRScheduler | None = None
        self.plan: Plan | None = None
        self.step = 0
        self.phase: int | None = None
        self.steps_per_epoch = 0
        self.should_stop = False
        self.best: dict[str, Any] = {}
        self.class_names: list[str] | None = None
        self._phase_features: dict[int, tuple[torch.Tensor, torch.Tensor]] = {}
        self._wrapped: dict[int, nn.Module] = {}
        self._fitting = False
        self._run: RunDirectory | None = None
        self._loss: nn.Module = nn.CrossEntropyLoss()
        self._sample_weights: torch.Tensor | None = None

    @classmethod
    def from_config(cls, config: ExperimentConfig, callbacks: Sequence[Callback] = ()) -> Trainer:
        """Build the trainer and its policy from an experiment config."""
        return cls(config.trainer, build_policy(config.policy), callbacks, experiment=config)

    def _make_cache(self) -> FeatureCache | None:
        mode = self.config.feature_cache
        if mode == "off":
            return None
        storage: Storage = "disk" if mode == "disk" else "memory"
        return FeatureCache(storage, self.config.feature_cache_dir, self.config.feature_cache_views,
                            batch_size=max(self.config.batch_size, 64))

    def plan_for(self, model: TransferModel, epoch: int) -> Plan:
        """The policy's plan for ``epoch``; everything trains when no policy was given."""
        if self.policy is None:
            return Plan(0, tuple(GroupPlan(name, trainable=True) for name in model.group_names()))
        return self.policy.plan(epoch, model.group_names())

    # ----------------------------------------------------------------- helpers
    def autocast(self) -> contextlib.AbstractContextManager[Any]:
        precision = self.config.precision
        if precision == "32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if precision == "bf16" else torch.float16
        return torch.autocast(self.device.type, dtype=dtype)

    def _channels_last(self, model: TransferModel) -> bool:
        wanted = self.config.memory_format
        if wanted == "auto":
            return any(isinstance(m, nn.Conv2d) for m in model.backbone.modules())
        return wanted == "channels_last"

    def generator(self, epoch: int) -> torch.Generator:
        """A loader's own generator, so creating a loader never draws from the global RNG (exact resume)."""
        return torch.Generator().manual_seed(self.config.seed * 7_919 + epoch + 1)

    def workers(self, data: Dataset[Any]) -> int:
        if isinstance(data, TensorDataset):
            return 0
        if self.config.num_workers == "auto":
            return min(8, max(0, (os.cpu_count() or 1) - 1)) if self.device.type == "cuda" else 0
        return self.config.num_workers

    def cached_features(self, model: TransferModel, data: Dataset[Any] | None
                        ) -> tuple[torch.Tensor, torch.Tensor] | None:
        """Cached features ``(views, N, F)`` and labels of ``data``, when the backbone is constant and caching
        applies (see ``trainer.feature_cache``); else ``None``."""
        if self.feature_cache is None or data is None or not model.backbone_is_constant:
            return None
        if self.config.feature_cache == "auto" and not is_deterministic(data):
            return None
        if not self._fitting:
            return self.feature_cache.features(model.backbone, data, self.device)
        found = self._phase_features.get(id(data))  # within a phase of fit() the backbone cannot change
        if found is None:
            found = self._phase_features[id(data)] = self.feature_cache.features(model.backbone, data, self.device)
        return found

    def _forward_module(self, module: nn.Module) -> nn.Module:
        """``module``, wrapped in DDP under torchrun (one wrapper per phase)."""
        if not self.context.distributed:
            return module
        if id(module) not in self._wrapped:
            from torch.nn.parallel import DistributedDataParallel

            ids = [self.device.index] if self.device.type == "cuda" else None
            self._wrapped[id(module)] = DistributedDataParallel(module, device_ids=ids)
        return self._wrapped[id(module)]

    def _scheduler(self, optimizer: torch.optim.Optimizer) -> LRScheduler:
        config, per_epoch = self.config, self.steps_per_epoch
        return build_scheduler(optimizer, self.step, config.epochs * per_epoch, config.scheduler,
                               warmup_steps=round(config.warmup_epochs * per_epoch), min_factor=config.min_lr_ratio,
                               step_every=config.step_epochs * per_epoch, gamma=config.gamma)

    def _enter_phase(self, model: TransferModel, plan: Plan) -> None:
        """Apply a new plan; rebuild optimizer, scheduler and DDP wrappers at the current step."""
        model.apply_plan(plan)
        self._phase_features.clear()
        self._wrapped.clear()
        old, self.optimizer = self.optimizer, build_optimizer(model, plan, self.config)
        if old is not None:
            for group in self.optimizer.param_groups:
                for param in group["params"]:
                    if param in old.state:
                        self.optimizer.state[param] = old.state[param]
        self.scheduler = self._scheduler(self.optimizer)
        self.phase = plan.phase
        for callback in self.callbacks:
            callback.on_phase_start(self, model, plan)

    def _setup_balance(self, model: TransferModel, train_data: Dataset[Any]) -> None:
        smoothing = self.config.label_smoothing
        self._loss, self._sample_weights = nn.CrossEntropyLoss(label_smoothing=smoothing), None
        if self.config.class_balance == "none":
            return
        labels = dataset_labels(train_data)
        weights = class_weights(labels, model.head.num_classes)
        if self.config.class_balance == "weights":
            self._loss = nn.CrossEntropyLoss(weight=weights.to(self.device), label_smoothing=smoothing)
        else:
            self._sample_weights = weights[torch.from_numpy(labels)].double()

    # --------------------------------------------------------------------- fit
    def fit(self, model: TransferModel, train_data: Dataset[Any], val_data: Dataset[Any] | None = None, *,
            run_dir: str | Path | None = None, resume: bool = False,
            class_names: Sequence[str] | None = None) -> list[dict[str, float]]:
        """Train for ``config.epochs`` epochs, selecting the best epoch on ``val_data``.

        Args:
            model: The model; it is moved to the trainer's device.
            train_data: A dataset of ``(image, label)`` pairs.
            val_data: Validation data, evaluated after every epoch; it drives model selection
                and early stopping. Never pass the test split here.
            run_dir: Where config, metrics, plots and checkpoints go (see :mod:`tlcore.run_dir`).
            resume: Continue exactly from the latest checkpoint in ``run_dir``, if there is one.
            class_names: Names of the classes; defaults to ``train_data.classes`` if present.

        Returns:
            One dict of metrics per epoch (also kept in ``self.history``).

        Raises:
            TrainingDivergedError: The loss became NaN or infinite.
        """
        config = self.config
        seed_everything(config.seed)
        model.to(self.device)
        if self._channels_last(model):
            model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        self.class_names = list(class_names or getattr(train_data, "classes", None) or []) or None
        self._run = RunDirectory(run_dir, self.context.is_main) if run_dir is not None else None
        if self._run is not None and self.experiment is not None:
            self._run.write_config(self.experiment)
        if self._run is not None and config.tensorboard and self.context.is_main:
            self.callbacks.append(TensorBoardLogger(str(self._run.path / "tensorboard")))
        self._setup_balance(model, train_data)
        local = math.ceil(len(train_data) / self.context.world_size)  # type: ignore[arg-type]
        self.steps_per_epoch = math.ceil(math.ceil(local / config.batch_size) / config.accumulate_steps)
        self.step, self.phase, self.optimizer, self.scheduler, self.should_stop = 0, None, None, None, False
        self.history, self.best = [], {}
        found = latest_checkpoint(self._run.checkpoints) if resume and self._run is not None else None
        start_epoch, skip, totals = self._restore(model, found) if found is not None else (0, 0, (0.0, 0))
        best_weights = self._best_weights(model)
        if found is not None and self._run is not None and (self._run.checkpoints / "best").is_dir():
            best_weights = load_checkpoint(self._run.checkpoints / "best").model
        self._fitting = True
        flush = config.flush_denormal and self.device.type == "cpu" and torch.set_flush_denormal(True)
        try:
            for callback in self.callbacks:
                callback.on_fit_start(self, model)
            for epoch in range(start_epoch, config.epochs):
                started = time.perf_counter()
                self.plan = self.plan_for(model, epoch)
                if self.plan.phase != self.phase or self.optimizer is None:
                    self._enter_phase(model, self.plan)
                record = self._train_epoch(model, train_data, epoch, skip, totals)
                skip, totals = 0, (0.0, 0)
                if val_data is not None:
                    record.update({f"val_{k}": v for k, v in self.evaluate(model, val_data).scalars().items()})
                    if self._improved(record):
                        best_weights = self._best_weights(model)
                        self._save(model, "best", {"epoch": epoch, "monitor": config.monitor,
                                                   "value": self.best["value"]}, optimizer=False)
                record["seconds"] = time.perf_counter() - started
                self.history.append(record)
                self._save(model, f"step-{self.step:08d}", {"epoch": epoch, "batch": None, "totals": [0.0, 0]})
                if self._run is not None:
                    self._run.write_metrics(self.history)
                self.progress.epoch_end(record, config.epochs)
                for callback in self.callbacks:
                    callback.on_epoch_end(self, model, record)
                patience = config.early_stopping_patience
                if self.should_stop or (patience and self.best and epoch - self.best["epoch"] >= patience):
                    break
        finally:
            self._fitting = False
            self._phase_features.clear()
            if flush:
                torch.set_flush_denormal(False)
        self._finish(model, val_data, best_weights)
        return self.history

    def _best_weights(self, model: TransferModel) -> dict[str, torch.Tensor]:
        return {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()}

    def _improved(self, record: dict[str, float]) -> bool:
        """Update ``self.best`` from the monitored metric; True when this epoch is the new best."""
        monitor = self.config.monitor
        if monitor not in record:
            raise ConfigError(f"trainer.monitor: {monitor!r} is not a validation metric; available: "
                              f"{sorted(k for k in record if k.startswith('val_'))}")
        value, mode = record[monitor], self.config.monitor_mode
        if mode == "auto":
            mode = "min" if "loss" in monitor else "max"
        best = self.best.get("value")
        better = best is None or (value < best if mode == "min" else value > best) or math.isnan(best)
        if better and not math.isnan(value):
            self.best = {"epoch": int(record["epoch"]), "value": value, "monitor": monitor}
            return True
        return False

    def _finish(self, model: TransferModel, val_data: Dataset[Any] | None,
                best_weights: dict[str, torch.Tensor]) -> None:
        if self.best and self.config.restore_best:
            model.load_state_dict(best_weights)
        if self._run is not None and val_data is not None and self.history:
            self._run.write_json("best.json", self.best)
            self._run.write_report(self.evaluate(model, val_data), "val")
        if self._run is not None:
            self._run.write_learning_curves(self.history)
        for callback in self.callbacks:
            callback.on_fit_end(self, model)

    def _save(self, model: TransferModel, tag: str, extra: dict[str, Any], optimizer: bool = True) -> None:
        if self._run is None or not self.context.is_main:
            return
        state = {"step": self.step, "phase": self.phase, "history": self.history, "best": self.best,
                 "class_names": self.class_names,
                 "rng": rng_state(), "scaler": self.scaler.state_dict() if self.scaler else None, **extra}
        save_checkpoint(self._run.checkpoints, tag, model, self.optimizer if optimizer else None, state,
                        keep=self.config.keep_checkpoints)

    def _restore(self, model: TransferModel, path: Path) -> tuple[int, int, tuple[float, int]]:
        """Load a checkpoint; return (epoch to run, batches of it already done, running loss totals)."""
        checkpoint = load_checkpoint(path)
        model.load_state_dict(checkpoint.model)
        state = checkpoint.state
        plan = self.plan_for(model, state["epoch"])
        self.step = state["step"]
        self._enter_phase(model, plan)
        if checkpoint.optimizer is not None and self.optimizer is not None:
            self.optimizer.load_state_dict(checkpoint.optimizer)
        if self.scaler is not None and state.get("scaler"):
            self.scaler.load_state_dict(state["scaler"])
        self.history, self.best = state["history"], state["best"]
        set_rng_state(state["rng"])
        if state["batch"] is None:
            return int(state["epoch"]) + 1, 0, (0.0, 0)
        return int(state["epoch"]), int(state["batch"]), (float(state["totals"][0]), int(state["totals"][1]))

    def _train_epoch(self, model: TransferModel, train_data: Dataset[Any], epoch: int, skip: int,
                     totals: tuple[float, int]) -> dict[str, float]:
        """One pass over the training data (or its cached features); returns the epoch's record."""
        assert self.optimizer is not None and self.scheduler is not None and self.plan is not None
        config = self.config
        cached = self.cached_features(model, train_data)
        data: Dataset[Any] = train_data
        module: nn.Module = model
        if cached is not None:
            data, module = TensorDataset(cached[0][epoch % cached[0].shape[0]], cached[1]), model.head
        forward = self._forward_module(module)
        batches = epoch_batches(len(data), config.batch_size, config.seed, epoch, self.context,  # type: ignore[arg-type]
                                self._sample_weights, skip)
        loader = DataLoader(data, batch_sampler=batches, num_workers=self.workers(data),
                            pin_memory=self.device.type == "cuda", generator=self.generator(epoch))
        channels_last = cached is None and self._channels_last(model)
        trainable = [p for g in self.optimizer.param_groups for p in g["params"]]
        total_batches, accumulate = skip + len(batches), config.accumulate_steps
        loss_sum, count = totals
        model.train()
        self.optimizer.zero_grad(set_to_none=True)
        for index, (inputs, targets) in enumerate(self.progress.batches(loader, epoch, config.epochs, len(batches)),
                                                  start=skip):
            inputs, targets = inputs.to(self.device, non_blocking=True), targets.to(self.device, non_blocking=True)
            if channels_last and inputs.ndim == 4:
                inputs = inputs.contiguous(memory_format=torch.channels_last)
            boundary = (index + 1) % accumulate == 0 or index + 1 == total_batches
            sync = contextlib.nullcontext() if boundary or not self.context.distributed else forward.no_sync()  # type: ignore[operator]
            with sync:
                with self.autocast():
                    loss: torch.Tensor = self._loss(forward(inputs).float(), targets)
                value = loss.item()  # one device sync per batch
                if not math.isfinite(value):
                    raise TrainingDivergedError(
                        f"loss is {value} at epoch {epoch}, step {index}; lower trainer.lr or check the input "
                        "data. The last good checkpoint is kept.")
                scaled = loss / accumulate
                (self.scaler.scale(scaled) if self.scaler else scaled).backward()  # type: ignore[no-untyped-call]
            loss_sum, count = loss_sum + value * len(targets), count + len(targets)
            if boundary:
                self._optimizer_step(trainable)
                every = config.checkpoint_every_steps
                if every and self.step % every == 0 and index + 1 < total_batches:
                    self._save(model, f"step-{self.step:08d}", {"epoch": epoch, "batch": index + 1,
                                                                 "totals": [loss_sum, count]})
            self.progress.loss(value)
            for callback in self.callbacks:
                callback.on_batch_end(self, model, index, value)
        loss_total, seen = distributed.all_reduce_sum([loss_sum, float(count)], self.context)
        return {"epoch": epoch, "phase": self.plan.phase, "train_loss": loss_total / max(seen, 1.0),
                "lr": self.optimizer.param_groups[-1]["lr"], "cached_features": float(cached is not None)}

    def _optimizer_step(self, trainable: list[torch.Tensor]) -> None:
        assert self.optimizer is not None and self.scheduler is not None
        if self.config.clip_grad_norm is not None:
            if self.scaler is not None:
                self.scaler.unscale_(self.optimizer)
            nn.utils.clip_grad_norm_(trainable, self.config.clip_grad_norm)
        if self.scaler is not None:
            self.scaler.step(self.optimizer)
            self.scaler.update()
        else:
            self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.scheduler.step()
        self.step += 1

    # ------------------------------------------------------- evaluate, predict
    @torch.no_grad()
    def evaluate(self, model: nn.Module, data: Dataset[Any], class_names: Sequence[str] | None = None
                 ) -> EvaluationReport:
        """Loss, accuracy, balanced accuracy, macro-F1, ROC-AUC, per-class figures and the confusion matrix.

        Under torchrun every process scores its shard and the predictions are gathered, so all
        processes return the same report.
        """
        logits, labels = score(self, model, data)
        loss = nn.functional.cross_entropy(logits, labels).item()
        names = class_names or self.class_names or getattr(data, "classes", None)
        return classification_report(labels.numpy(), torch.softmax(logits, 1).numpy(), loss, names)

    @torch.no_grad()
    def predict(self, model: nn.Module, data: Dataset[Any]) -> torch.Tensor:
        """Class probabilities ``(N, num_classes)`` in dataset order."""
        return torch.softmax(score(self, model, data)[0], dim=1)
