"""A backbone over any timm model, with hub, local-file or bundled pretrained weights."""

from __future__ import annotations

from typing import Any, Literal

import torch
from pydantic import Field, field_validator

from tlcore.backbone import Backbone, DataConfig, LayerGroup, name_groups, split_by_modules
from tlcore.config import BackboneConfig
from tlcore.errors import WeightsUnavailableError, did_you_mean
from tlcore.weights import load_into, load_weights_file, offline_hint
from tlcore_timm.bundled import BUNDLED


class TimmBackboneConfig(BackboneConfig):
    """Config of a timm backbone."""

    name: Literal["timm"] = "timm"
    model: str = Field(description="timm model name, optionally with a pretrained tag, e.g. `resnet50.a1_in1k`.")
    drop_rate: float = Field(0.0, ge=0, lt=1, description="Dropout before the (removed) classifier.")
    drop_path_rate: float | None = Field(None, ge=0, lt=1, description="Stochastic depth rate, if the model has it.")
    kwargs: dict[str, Any] = Field(default_factory=dict, description="More keyword arguments for "
                                   "timm.create_model, e.g. {img_size: 384} for a ViT.")

    @field_validator("model")
    @classmethod
    def _known_model(cls, value: str) -> str:
        import timm
        from timm.models import split_model_name_tag

        if value.startswith("hf-hub:") or timm.is_model(split_model_name_tag(value)[0]):
            return value
        hint = did_you_mean(value, timm.list_models())
        raise ValueError(f"unknown timm model '{value}'.{hint} `tlcore backbones PATTERN` lists models.")


class TimmBackbone(Backbone):
    """Any timm model without its classifier; ``forward_features`` returns pooled pre-logits.

    Weights come, in order of preference, from ``config.weights`` (a local file), from a
    package that bundles them (see :data:`tlcore_timm.bundled.BUNDLED`), or from the hub.

    Args:
        model: A timm model created with ``num_classes=0``.
        architecture: The timm model name.
        in_chans: Input channels.
        weights_source: Where the weights came from, for metadata.
    """

    name = "timm"
    config_class = TimmBackboneConfig

    def __init__(self, model: Any, architecture: str, in_chans: int, weights_source: str) -> None:
        super().__init__()
        self.model = model
        self.architecture = architecture
        self.num_features = int(getattr(model, "head_hidden_size", None) or model.num_features)
        self.weights_source = weights_source
        cfg = model.pretrained_cfg
        mean, std = tuple(cfg.get("mean", (0.485, 0.456, 0.406))), tuple(cfg.get("std", (0.229, 0.224, 0.225)))
        height, width = cfg.get("input_size", (3, 224, 224))[1:]
        self.data_config = DataConfig(
            input_size=(3, height, width),
            mean=mean * 3 if len(mean) == 1 else mean,
            std=std * 3 if len(std) == 1 else std,
            interpolation=cfg.get("interpolation", "bilinear") or "bilinear",
            crop_pct=cfg.get("crop_pct", 0.875) or 0.875,
            crop_mode=cfg.get("crop_mode", "center") or "center",
        ).with_channels(in_chans)

    @classmethod
    def from_config(cls, config: TimmBackboneConfig) -> TimmBackbone:
        """Create the timm model and load its pretrained weights."""
        import timm

        kwargs: dict[str, Any] = {**config.kwargs, "num_classes": 0, "in_chans": config.in_chans,
                                  "drop_rate": config.drop_rate}
        if config.drop_path_rate is not None:
            kwargs["drop_path_rate"] = config.drop_path_rate
        state, source = _local_state(config)
        model: Any
        if state is None and config.pretrained:
            try:
                model = timm.create_model(config.model, pretrained=True, **kwargs)
            except Exception as error:
                raise WeightsUnavailableError(
                    f"{offline_hint(f'timm model {config.model!r}')} ({type(error).__name__}: {error})"
                ) from None
            cfg = model.pretrained_cfg
            source = f"hub:{cfg.get('hf_hub_id') or cfg.get('url') or config.model}"
        else:
            model = timm.create_model(config.model, pretrained=False, **kwargs)
            if state is not None:
                load_into(model, _fit_state(model, state, config.in_chans), source)
        return cls(model, config.model, config.in_chans, source)

    @classmethod
    def list_models(cls, pattern: str = "*") -> list[tuple[str, str]]:
        """timm models matching ``pattern``: bundled weights, hub weights (with their tags), or none."""
        import timm
        from timm.models import split_model_name_tag

        tags: dict[str, list[str]] = {}
        for name in timm.list_pretrained(pattern if "." in pattern else f"{pattern}.*"):
            base, tag = split_model_name_tag(name)
            tags.setdefault(base, []).append(tag)
        listing = []
        for model in timm.list_models(pattern.split(".")[0]):
            sources = []
            bundled = BUNDLED.get(model)
            if bundled is not None and bundled.available():
                sources.append(f"bundled ({bundled.distribution})")
            if model in tags:
                sources.append(f"hub ({', '.join(tags[model][:3])}{', ...' if len(tags[model]) > 3 else ''})")
            listing.append((model, "; ".join(sources) or "none"))
        return listing

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """Pooled pre-logits features ``(B, num_features)``."""
        out: torch.Tensor = self.model(x)
        return out

    def layer_groups(self) -> list[LayerGroup]:
        """timm's own coarse ``group_matcher`` stages, or a generic split when it has none."""
        from timm.models import group_parameters

        try:
            grouped = group_parameters(self.model, self.model.group_matcher(coarse=True))
            lists = [grouped[key] for key in sorted(grouped)]
        except (AttributeError, NotImplementedError):
            lists = split_by_modules(self.model)
        return [LayerGroup(g.name, tuple(f"model.{p}" for p in g.params)) for g in name_groups(lists)]


def _local_state(config: TimmBackboneConfig) -> tuple[dict[str, torch.Tensor] | None, str]:
    """Weights from ``config.weights`` or a bundled package, if either applies."""
    if config.weights is not None:
        return load_weights_file(config.weights), f"file:{config.weights}"
    if not config.pretrained:
        return None, "random init"
    from timm.models import split_model_name_tag

    bundled = BUNDLED.get(split_model_name_tag(config.model)[0])
    if bundled is not None and bundled.available():
        return bundled.load(), f"bundled:{bundled.distribution}"
    return None, ""


def _fit_state(model: Any, state: dict[str, torch.Tensor], in_chans: int) -> dict[str, torch.Tensor]:
    """Drop the classifier from a full checkpoint and adapt the first conv to ``in_chans``."""
    from timm.models import adapt_input_conv

    cfg = model.pretrained_cfg
    classifiers = cfg.get("classifier") or ()
    classifiers = (classifiers,) if isinstance(classifiers, str) else tuple(classifiers)
    state = {k: v for k, v in state.items() if not any(k.startswith(f"{c}.") for c in classifiers)}
    first_convs = cfg.get("first_conv") or ()
    first_convs = (first_convs,) if isinstance(first_convs, str) else tuple(first_convs)
    for conv in first_convs:
        key = f"{conv}.weight"
        if key in state and state[key].shape[1] != in_chans:
            state[key] = adapt_input_conv(in_chans, state[key])
    return state
