"""Loading pretrained weights from local files, for machines without internet."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from tlcore.errors import WeightsUnavailableError

_WRAPPER_KEYS = ("state_dict", "model", "model_state_dict", "module")


def load_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a local file without executing pickled code.

    ``.safetensors`` files are read with safetensors; anything else with
    ``torch.load(weights_only=True)``. A dict nested under a common wrapper key
    (``state_dict``, ``model``...) is unwrapped and a DDP ``module.`` prefix removed.

    Args:
        path: The weights file.

    Returns:
        Parameter and buffer tensors by name.

    Raises:
        WeightsUnavailableError: The file is missing or holds no state dict.
    """
    path = Path(path).expanduser()
    if not path.is_file():
        raise WeightsUnavailableError(f"weights file {path} does not exist (backbone.weights).")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            loaded: object = load_file(str(path))
        else:
            loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:
        raise WeightsUnavailableError(f"cannot read weights file {path}: {type(error).__name__}: {error}. "
                                      "Give a .safetensors file, or a .pth state dict saved with "
                                      "torch.save(model.state_dict(), path).") from None
    while isinstance(loaded, Mapping):
        wrapped = next((k for k in _WRAPPER_KEYS if isinstance(loaded.get(k), Mapping)), None)
        if wrapped is None:
            break
        loaded = loaded[wrapped]
    if not isinstance(loaded, Mapping) or not all(isinstance(v, torch.Tensor) for v in loaded.values()):
        raise WeightsUnavailableError(f"weights file {path} does not hold a state dict of tensors.")
    state = {str(k): v for k, v in loaded.items()}
    if state and all(k.startswith("module.") for k in state):
        state = {k.removeprefix("module."): v for k, v in state.items()}
    return state


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor], source: str) -> None:
    """Load ``state`` strictly into ``model``, explaining any mismatch.

    Raises:
        WeightsUnavailableError: Keys or shapes differ; the message lists the first few.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [f"{k}: file {tuple(state[k].shape)} vs model {tuple(v.shape)}"
              for k, v in own.items() if k in state and state[k].shape != v.shape]
    if missing or unexpected or shapes:
        details = "; ".join(part for part in (
            f"missing {missing[:5]}" if missing else "",
            f"unexpected {unexpected[:5]}" if unexpected else "",
            f"shape mismatch {shapes[:3]}" if shapes else "",
        ) if part)
        raise WeightsUnavailableError(f"weights from {source} do not fit {type(model).__name__}: {details}. "
                                      "Check that backbone.model names the architecture the file was saved from.")
    model.load_state_dict(state, strict=True)


def offline_hint(what: str) -> str:
    """Explain how to pass a local weights file when the hub cannot be reached."""
    return (f"could not fetch pretrained weights for {what} (offline, or the hub is unreachable). "
            "Download the weights elsewhere and set `backbone.weights: /path/to/file.safetensors` "
            "(or a .pth state dict), or set `backbone.pretrained: false` to start from random weights. "
            "`tlcore backbones` shows which backbones have weights available offline.")
