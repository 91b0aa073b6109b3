"""Atomic, pickle-free checkpoints: safetensors for tensors, JSON for everything else.

A checkpoint is a folder ``checkpoints/<tag>/`` holding

* ``model.safetensors``: the model's state dict;
* ``optimizer.safetensors``: the optimizer's per-parameter state tensors (absent in ``best``);
* ``state.json``: epoch, step, policy phase, optimizer hyperparameters, scheduler and RNG states.

Each file is written to a temporary name, fsynced and renamed; the folder is complete
before ``latest.json`` is atomically switched to it. A crash at any moment leaves the
previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

LATEST = "latest.json"


def atomic_write(path: Path, write: Callable[[Path], object]) -> None:
    """Write ``path`` through ``write(tmp_path)``, fsync it, and rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    os.close(handle)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as stream:
            os.fsync(stream.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def atomic_write_text(path: Path, text: str) -> None:
    """Atomically write a text file."""
    atomic_write(path, lambda tmp: tmp.write_text(text, encoding="utf-8"))


def rng_state() -> dict[str, Any]:
    """Python, NumPy and torch RNG states as JSON-friendly data."""
    version, python_state, gauss = random.getstate()
    numpy_state = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": [version, list(python_state), gauss],
        "numpy": [numpy_state[0], numpy_state[1].tolist(), *numpy_state[2:]],  # type: ignore[index,union-attr]
        "torch": torch.get_rng_state().tolist(),
    }
    if torch.cuda.is_available():
        state["cuda"] = [s.tolist() for s in torch.cuda.get_rng_state_all()]
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` returned."""
    version, python_state, gauss = state["python"]
    random.setstate((version, tuple(python_state), gauss))
    name, keys, *rest = state["numpy"]
    np.random.set_state((name, np.array(keys, dtype=np.uint32), *rest))
    torch.set_rng_state(torch.tensor(state["torch"], dtype=torch.uint8))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all([torch.tensor(s, dtype=torch.uint8) for s in state["cuda"]])


def _optimizer_split(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    full = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, dict[str, Any]] = {}
    for index, values in full["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars.setdefault(str(index), {})[key] = value
    return tensors, {"param_groups": full["param_groups"], "scalars": scalars}


def _optimizer_join(tensors: dict[str, torch.Tensor], meta: dict[str, Any]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value
    for index, values in meta["scalars"].items():
        state.setdefault(int(index), {}).update(values)
    return {"state": state, "param_groups": meta["param_groups"]}


@dataclass
class Checkpoint:
    """A loaded checkpoint."""

    path: Path
    model: dict[str, torch.Tensor]
    optimizer: dict[str, Any] | None
    state: dict[str, Any]


def save_checkpoint(directory: Path, tag: str, model: torch.nn.Module, optimizer: torch.optim.Optimizer | None,
                    state: dict[str, Any], keep: int = 2) -> Path:
    """Save a checkpoint as ``directory/tag``; a ``step-`` checkpoint also becomes ``latest.json``.

    Args:
        directory: The ``checkpoints/`` folder.
        tag: Folder name of this checkpoint, e.g. ``step-00000120`` or ``best``.
        model: Its state dict goes to ``model.safetensors``.
        optimizer: Its state goes to ``optimizer.safetensors`` and ``state.json``.
        state: JSON-serialisable training state (epoch, step, phase, scheduler...).
        keep: How many of the newest ``step-`` checkpoints to keep; older ones are removed (``best`` stays).

    Returns:
        The checkpoint folder.
    """
    from safetensors.torch import save_file

    target = directory / tag
    staging = directory / f".{tag}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    weights = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    atomic_write(staging / "model.safetensors", lambda tmp: save_file(weights, str(tmp)))
    full_state = dict(state)
    if optimizer is not None:
        tensors, meta = _optimizer_split(optimizer)
        atomic_write(staging / "optimizer.safetensors", lambda tmp: save_file(tensors, str(tmp)))
        full_state["optimizer"] = meta
    atomic_write_text(staging / "state.json", json.dumps(full_state))
    shutil.rmtree(target, ignore_errors=True)
    os.replace(staging, target)
    if tag.startswith("step-"):
        atomic_write_text(directory / LATEST, json.dumps({"checkpoint": tag}))
    rolling = sorted(p for p in directory.iterdir() if p.is_dir() and p.name.startswith("step-"))
    for old in rolling[:-keep] if keep else []:
        if old != target:
            shutil.rmtree(old, ignore_errors=True)
    return target


def latest_checkpoint(directory: Path) -> Path | None:
    """The folder ``latest.json`` points at, or ``None``."""
    pointer = directory / LATEST
    if not pointer.is_file():
        return None
    path = directory / json.loads(pointer.read_text(encoding="utf-8"))["checkpoint"]
    return path if path.is_dir() else None


def load_checkpoint(path: Path) -> Checkpoint:
    """Read a checkpoint folder written by :func:`save_checkpoint`."""
    from safetensors.torch import load_file

    state = json.loads((path / "state.json").read_text(encoding="utf-8"))
    optimizer = None
    if "optimizer" in state:
        optimizer = _optimizer_join(load_file(str(path / "optimizer.safetensors")), state.pop("optimizer"))
    return Checkpoint(path, load_file(str(path / "model.safetensors")), optimizer, state)
