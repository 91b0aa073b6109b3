"""A small callback protocol for the :class:`~tlcore.trainer.Trainer`.

Subclass :class:`Callback` and override what you need; every method is a no-op by default.
Raising from a callback stops training (a checkpoint already written stays valid).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tlcore.freeze import Plan
    from tlcore.model import TransferModel
    from tlcore.trainer import Trainer


class Callback:
    """Hooks called by :meth:`Trainer.fit <tlcore.trainer.Trainer.fit>`."""

    def on_fit_start(self, trainer: Trainer, model: TransferModel) -> None:
        """Before the first epoch (also when resuming)."""

    def on_phase_start(self, trainer: Trainer, model: TransferModel, plan: Plan) -> None:
        """After a new plan phase was applied and the optimizer rebuilt for it."""

    def on_batch_end(self, trainer: Trainer, model: TransferModel, batch: int, loss: float) -> None:
        """After each training batch (and its optimizer step, if the batch completed one)."""

    def on_epoch_end(self, trainer: Trainer, model: TransferModel, record: dict[str, Any]) -> None:
        """After an epoch's validation and checkpoint; ``record`` is the epoch's metrics.

        Set ``trainer.should_stop = True`` to end training after this epoch.
        """

    def on_fit_end(self, trainer: Trainer, model: TransferModel) -> None:
        """After the last epoch."""


class TensorBoardLogger(Callback):
    """Log every numeric value of each epoch's record to TensorBoard.

    Args:
        log_dir: The event-file folder, usually ``RUN_DIR/tensorboard``.
    """

    def __init__(self, log_dir: str) -> None:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            from tlcore.errors import ConfigError

            raise ConfigError("trainer.tensorboard: the tensorboard package is not installed; "
                              "pip install tensorboard, or set trainer.tensorboard: false") from None
        self.writer = SummaryWriter(log_dir)

    def on_epoch_end(self, trainer: Trainer, model: TransferModel, record: dict[str, Any]) -> None:
        """Write the record's scalars at the epoch's index."""
        for key, value in record.items():
            if isinstance(value, int | float) and key != "epoch":
                self.writer.add_scalar(key, value, int(record["epoch"]))
        self.writer.flush()

    def on_fit_end(self, trainer: Trainer, model: TransferModel) -> None:
        """Close the event file."""
        self.writer.close()
