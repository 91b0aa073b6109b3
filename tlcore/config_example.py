"""``tlcore config --example``: a complete config, commented from the models' own field descriptions."""

from __future__ import annotations

import json
import textwrap
from typing import Any

from pydantic import BaseModel

from tlcore.config import ExperimentConfig, load_config

EXAMPLE: dict[str, Any] = {
    "backbone": {"name": "timm", "model": "tf_efficientnet_lite0"},
    "head": {"name": "linear"},
    "policy": {"name": "discriminative_lr", "base": {"name": "gradual_unfreezing", "every": 2}},
    "data": {"root": "/path/to/images"},
}


def example_config() -> ExperimentConfig:
    """The validated example: EfficientNet-Lite0, gradual unfreezing with discriminative rates."""
    return load_config(EXAMPLE)


def _lines(model: BaseModel, indent: int) -> list[str]:
    pad = " " * indent
    values = model.model_dump(mode="json")
    lines: list[str] = []
    for name, field in type(model).model_fields.items():
        if field.description:
            lines += [f"{pad}# {line}" for line in textwrap.wrap(field.description, 100 - indent)]
        value = getattr(model, name)
        if isinstance(value, BaseModel):
            lines.append(f"{pad}{name}:")
            lines += _lines(value, indent + 2)
        else:
            lines.append(f"{pad}{name}: {json.dumps(values[name])}")
    return lines


def example_yaml() -> str:
    """The example as commented YAML that validates as it is."""
    header = ["# tlcore experiment config. Every field is shown with its default; delete what you do not change.",
              "# Validate it without training: tlcore plan CONFIG. Train: tlcore train CONFIG --out runs/NAME.", ""]
    return "\n".join(header + _lines(example_config(), 0)) + "\n"
