"""A backbone over any torchvision classification model."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator
from torch import nn

from tlcore.backbone import Backbone, DataConfig, LayerGroup, name_groups, split_by_modules
from tlcore.config import BackboneConfig
from tlcore.errors import WeightsUnavailableError, did_you_mean
from tlcore.weights import load_into, load_weights_file, offline_hint

_AUX_PREFIXES = ("aux1.", "aux2.", "AuxLogits.")


def _classification_models() -> list[str]:
    import torchvision

    return list(torchvision.models.list_models(module=torchvision.models))


class TorchvisionBackboneConfig(BackboneConfig):
    """Config of a torchvision backbone."""

    name: Literal["torchvision"] = "torchvision"
    model: str = Field(description="torchvision classification model, e.g. `resnet18` or `efficientnet_b0`.")

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        models = _classification_models()
        if value in models:
            return value
        raise ValueError(f"unknown torchvision classification model '{value}'.{did_you_mean(value, models)}")


class TorchvisionBackbone(Backbone):
    """A torchvision classifier whose last classification layer is replaced by identity.

    ``forward_features`` therefore returns the pre-logits features, after pooling and
    any MLP the model has before its last layer (as timm's ``pre_logits``).

    Args:
        model: The torchvision model, already without its last layer.
        architecture: The torchvision model name.
        num_features: Width of the pre-logits features.
        data_config: Preprocessing of the model's default weights.
        weights_source: Where the weights came from, for metadata.
    """

    name = "torchvision"
    config_class = TorchvisionBackboneConfig

    def __init__(self, model: nn.Module, architecture: str, num_features: int, data_config: DataConfig,
                 weights_source: str) -> None:
        super().__init__()
        self.model = model
        self.architecture = architecture
        self.num_features = num_features
        self.data_config = data_config
        self.weights_source = weights_source

    @classmethod
    def from_config(cls, config: TorchvisionBackboneConfig) -> TorchvisionBackbone:
        """Create the model, load weights, adapt the input channels and remove the classifier."""
        from torchvision.models import get_model, get_model_weights

        default_weights = get_model_weights(config.model).DEFAULT
        kwargs: dict[str, Any] = {}
        if config.model in ("googlenet", "inception_v3"):
            kwargs.update(aux_logits=False, init_weights=False)
        source = "random init"
        if config.weights is not None:
            model = get_model(config.model, weights=None, **kwargs)
            state = {k: v for k, v in load_weights_file(config.weights).items() if not k.startswith(_AUX_PREFIXES)}
            source = f"file:{config.weights}"
            load_into(model, state, source)
        elif config.pretrained:
            try:
                model = get_model(config.model, weights=default_weights, **kwargs)
            except Exception as error:
                hint = offline_hint(f"torchvision model {config.model!r}")
                raise WeightsUnavailableError(f"{hint} ({type(error).__name__}: {error})") from None
            source = f"hub:torchvision/{default_weights}"
        else:
            model = get_model(config.model, weights=None, **kwargs)
        num_features = _remove_classifier(model, config.model)
        if config.in_chans == 1:
            _adapt_first_conv_to_gray(model)
        return cls(model, config.model, num_features, _data_config(default_weights, config.in_chans), source)

    @classmethod
    def list_models(cls, pattern: str = "*") -> list[tuple[str, str]]:
        """torchvision classification models matching ``pattern``; all have hub weights."""
        import fnmatch

        from torchvision.models import get_model_weights

        return [(m, f"hub ({', '.join(w.name for w in get_model_weights(m))})") for m in _classification_models()
                if fnmatch.fnmatch(m, pattern)]

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled pre-logits features ``(B, num_features)``."""
        out: torch.Tensor = self.model(x)
        return out.flatten(1)

    def layer_groups(self) -> list[LayerGroup]:
        """Groups found by :func:`tlcore.backbone.split_by_modules` on the model's module tree."""
        return [LayerGroup(g.name, tuple(f"model.{p}" for p in g.params))
                for g in name_groups(split_by_modules(self.model))]


def _data_config(weights: Any, in_chans: int) -> DataConfig:
    transform = weights.transforms()
    crop, resize = int(transform.crop_size[0]), int(transform.resize_size[0])
    return DataConfig(
        input_size=(3, crop, crop),
        mean=tuple(transform.mean),
        std=tuple(transform.std),
        interpolation=transform.interpolation.value,
        crop_pct=min(1.0, crop / resize),
    ).with_channels(in_chans)


def _set_submodule(model: nn.Module, path: str, module: nn.Module) -> None:
    parent_path, _, attr = path.rpartition(".")
    setattr(model.get_submodule(parent_path) if parent_path else model, attr, module)


def _remove_classifier(model: nn.Module, architecture: str) -> int:
    """Replace the last classification layer by identity; return its input width."""
    layers = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Linear)]
    if layers:
        path, linear = layers[-1]
        _set_submodule(model, path, nn.Identity())
        return int(linear.in_features)
    convs = [(n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d)]
    if convs:  # squeezenet classifies with a 1x1 conv
        path, conv = convs[-1]
        _set_submodule(model, path, nn.Identity())
        return int(conv.in_channels)
    raise WeightsUnavailableError(f"cannot find the classifier of torchvision model {architecture!r}")


def _adapt_first_conv_to_gray(model: nn.Module) -> None:
    """Sum the RGB kernels of the first conv into one channel (as timm's ``adapt_input_conv``)."""
    path, conv = next((n, m) for n, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.in_channels == 3)
    gray: nn.Conv2d = nn.Conv2d(1, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,  # type: ignore[arg-type]
                                conv.dilation, conv.groups, conv.bias is not None, conv.padding_mode)  # type: ignore[arg-type]
    with torch.no_grad():
        gray.weight.copy_(conv.weight.sum(dim=1, keepdim=True))
        if conv.bias is not None and gray.bias is not None:
            gray.bias.copy_(conv.bias)
    _set_submodule(model, path, gray)
