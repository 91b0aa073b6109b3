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

    def on_epoch_end(self, trainer: Trainer, model: TransferModel, record: dict[str, Any]) -> None:
        """After an epoch's validation and checkpoint; ``record`` is the epoch's metrics."""

    def on_fit_end(self, trainer: Trainer, model: TransferModel) -> None:
        """After the last epoch."""
