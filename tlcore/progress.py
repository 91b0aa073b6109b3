"""Progress output: tqdm bars in a terminal, one plain line per epoch elsewhere (CI logs)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import Any, Literal, TypeVar

T = TypeVar("T")
ProgressMode = Literal["auto", "bar", "lines", "none"]


def format_record(record: dict[str, Any], epochs: int) -> str:
    """``epoch 3/10 phase 1  train_loss 0.4210  val_accuracy 0.9000 ...  12.3 s``."""
    parts = [f"epoch {int(record['epoch']) + 1}/{epochs}", f"phase {int(record['phase'])}"]
    for key, value in record.items():
        if key in ("epoch", "phase", "seconds", "cached_features") or not isinstance(value, float | int):
            continue
        parts.append(f"{key} {value:.4g}")
    parts.append(f"{record.get('seconds', 0.0):.1f} s")
    return "  ".join(parts)


class Progress:
    """Reports training progress.

    Args:
        mode: ``auto`` (bars when stdout is a terminal, else lines), ``bar``, ``lines`` or ``none``.
        enabled: False on processes other than rank 0.
    """

    def __init__(self, mode: ProgressMode = "auto", enabled: bool = True) -> None:
        if mode == "auto":
            mode = "bar" if sys.stdout.isatty() else "lines"
        self.mode = mode if enabled else "none"

    def batches(self, iterable: Iterable[T], epoch: int, epochs: int, total: int) -> Iterator[T]:
        """Wrap the batch iterator of one epoch (a tqdm bar in ``bar`` mode)."""
        if self.mode != "bar":
            yield from iterable
            return
        from tqdm.auto import tqdm

        with tqdm(iterable, total=total, desc=f"epoch {epoch + 1}/{epochs}", leave=False, dynamic_ncols=True) as bar:
            self._bar = bar
            yield from bar

    def loss(self, value: float) -> None:
        """Show the running loss on the bar."""
        bar = getattr(self, "_bar", None)
        if self.mode == "bar" and bar is not None:
            bar.set_postfix(loss=f"{value:.4f}", refresh=False)

    def epoch_end(self, record: dict[str, Any], epochs: int) -> None:
        """Print the epoch's line (bars and lines alike)."""
        if self.mode in ("bar", "lines"):
            print(format_record(record, epochs), flush=True)
