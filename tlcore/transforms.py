"""Preprocessing from the backbone's ``data_config`` plus augmentation presets safe for medical images."""

from __future__ import annotations

from typing import Any, Literal

from tlcore.backbone import DataConfig

Augment = Literal["none", "light", "medium"]


def build_transform(data_config: DataConfig, train: bool, augment: Augment = "light", flip: bool = True,
                    image_size: int | None = None) -> Any:
    """A torchvision v2 pipeline for float tensors ``(C, H, W)`` in [0, 1].

    Evaluation: resize the short side to ``size / crop_pct`` with the weights' interpolation,
    centre-crop to ``size``, normalise with the weights' mean and std. Training adds, before
    normalising: ``light``, horizontal flips (unless ``flip`` is false), rotations up to 10
    degrees, shifts and scaling up to 5%; ``medium``, brightness and contrast up to 10% too.

    Args:
        data_config: The backbone's preprocessing.
        train: Whether to add augmentation.
        augment: The preset.
        flip: Allow horizontal flips.
        image_size: Square input size; default ``data_config.input_size``.
    """
    from torchvision.transforms import InterpolationMode, v2

    size = image_size or data_config.input_size[1]
    interpolation = InterpolationMode(data_config.interpolation)
    steps: list[Any] = [v2.Resize(round(size / data_config.crop_pct), interpolation=interpolation, antialias=True),
                        v2.CenterCrop(size)]
    if train and augment != "none":
        if flip:
            steps.append(v2.RandomHorizontalFlip())
        steps.append(v2.RandomAffine(degrees=10, translate=(0.05, 0.05), scale=(0.95, 1.05),
                                     interpolation=InterpolationMode.BILINEAR))
        if augment == "medium":
            steps.append(v2.ColorJitter(brightness=0.1, contrast=0.1))
    steps.append(v2.Normalize(mean=list(data_config.mean), std=list(data_config.std)))
    return v2.Compose(steps)


def is_random(transform: Any) -> bool:
    """Whether a v2 pipeline contains random steps (so its output cannot be cached)."""
    from torchvision.transforms import v2

    steps = transform.transforms if isinstance(transform, v2.Compose) else [transform]
    names = ("Random", "ColorJitter", "AutoAugment", "RandAugment", "TrivialAugment", "AugMix", "GaussianBlur")
    return any(type(step).__name__.startswith(names) for step in steps)
