"""Pydantic configs: one per component, selected by ``name``, plus the experiment.

A component config subclasses :class:`BackboneConfig`, :class:`HeadConfig` or
:class:`FreezePolicyConfig`, narrows ``name`` to a ``Literal`` and forbids extra
keys. :class:`ExperimentConfig` picks the registered config class from each
component's ``name``, so a typo in any field is reported at its full location,
e.g. ``backbone.in_chans``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

from tlcore.errors import ConfigError, UnknownComponentError, did_you_mean

ComponentKind = Literal["backbone", "head", "policy", "image_reader"]


class StrictModel(BaseModel):
    """Base for every tlcore config: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class ComponentConfig(StrictModel):
    """Base config of a pluggable component, selected by ``name``."""

    kind: ClassVar[ComponentKind]
    name: str = Field(description="Registered name of the component; `tlcore plugins` lists them.")

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        """Describe a narrowed ``name`` field, so generated references never miss it."""
        super().__pydantic_init_subclass__(**kwargs)
        field = cls.model_fields["name"]
        if not field.description:
            field.description = f"Selects this {cls.kind}: `{field.default}`."


class BackboneConfig(ComponentConfig):
    """Fields every backbone accepts. Plugins subclass this and narrow ``name``."""

    kind: ClassVar[ComponentKind] = "backbone"
    in_chans: Literal[1, 3] = Field(
        3,
        description="Input channels. 1 adapts the first conv from the RGB weights and averages the "
        "normalisation, for grayscale (e.g. X-ray) images.",
    )
    pretrained: bool = Field(
        True,
        description="Start from pretrained weights: `weights` if given, else weights bundled in an "
        "installed package, else the hub (needs network).",
    )
    weights: Path | None = Field(
        None,
        description="Local weights file (.safetensors, or .pth/.pt/.bin loaded with weights_only=True); "
        "used whenever set. Use this wherever there is no internet.",
    )


class HeadConfig(ComponentConfig):
    """Fields every head accepts. Plugins subclass this and narrow ``name``."""

    kind: ClassVar[ComponentKind] = "head"


class FreezePolicyConfig(ComponentConfig):
    """Fields every freeze policy accepts. Plugins subclass this and narrow ``name``."""

    kind: ClassVar[ComponentKind] = "policy"


class ImageReaderConfig(ComponentConfig):
    """Fields every image reader accepts. Plugins subclass this and narrow ``name``."""

    kind: ClassVar[ComponentKind] = "image_reader"


class TrainerConfig(StrictModel):
    """Options of the training loop."""

    epochs: int = Field(10, ge=1, description="Number of epochs.")
    batch_size: int = Field(32, ge=1, description="Images per batch.")
    lr: float = Field(1e-3, gt=0, description="Base learning rate; policies scale it per layer group.")
    weight_decay: float = Field(0.01, ge=0, description="Decoupled weight decay.")
    optimizer: Literal["adamw", "sgd"] = Field("adamw", description="Optimizer.")
    momentum: float = Field(0.9, ge=0, lt=1, description="SGD momentum (ignored by AdamW).")
    seed: int = Field(0, description="Seed of every random number generator.")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="Where to train; auto picks CUDA if present.")
    num_workers: int | Literal["auto"] = Field(
        "auto", description="DataLoader worker processes. auto: none on the CPU (workers would compete with the "
        "training threads), up to 8 on a GPU.")
    scheduler: Literal["constant", "cosine", "onecycle", "step"] = Field(
        "cosine", description="Learning-rate schedule over the whole run; it scales every group alike, so "
        "per-group multipliers hold.")
    warmup_epochs: float = Field(0.0, ge=0, description="Linear warm-up length in epochs (fractions allowed).")
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="Final LR of cosine and one-cycle, as a fraction of "
                                "the peak.")
    step_epochs: int = Field(10, ge=1, description="`step` schedule: epochs between decays.")
    gamma: float = Field(0.1, gt=0, le=1, description="`step` schedule: decay factor.")
    feature_cache: Literal["auto", "off", "memory", "disk"] = Field(
        "auto", description="Cache pooled features while the whole backbone is frozen. auto: in memory when the "
        "data is deterministic (no augmentation); off; memory; disk (memory-mapped, in feature_cache_dir).")
    feature_cache_views: int = Field(1, ge=1, description="Augmented views to cache; epoch e trains on view "
                                     "e % views. Each view costs one backbone pass and its memory.")
    feature_cache_dir: Path | None = Field(None, description="Folder of the disk feature cache.")
    accumulate_steps: int = Field(1, ge=1, description="Batches whose gradients are summed per optimizer step.")
    clip_grad_norm: float | None = Field(None, gt=0, description="Clip the gradient norm to this value.")
    label_smoothing: float = Field(0.0, ge=0, lt=1, description="Label smoothing of the cross-entropy loss.")
    precision: Literal["32", "bf16", "fp16"] = Field(
        "32", description="32: float32. bf16: bfloat16 autocast (CPU or GPU). fp16: float16 autocast with a "
        "gradient scaler (GPU only).")
    memory_format: Literal["auto", "channels_last", "contiguous"] = Field(
        "auto", description="auto: channels_last for convolutional backbones, which is faster on CPU and on GPU "
        "with mixed precision.")
    flush_denormal: bool = Field(True, description="Flush denormal floats to zero during CPU training (they slow "
                                 "steps as weights fine-tune).")
    class_balance: Literal["none", "weights", "sampler"] = Field(
        "none", description="Imbalanced classes: weights (inverse-frequency loss weights) or sampler (class-balanced "
        "sampling with replacement).")
    monitor: str = Field("val_loss", description="Metric that selects the best epoch and drives early stopping, "
                         "e.g. val_balanced_accuracy. Only validation metrics are allowed: the test split is never "
                         "used for selection.")
    monitor_mode: Literal["auto", "min", "max"] = Field("auto", description="Whether lower or higher is better; "
                                                        "auto: min for losses, max otherwise.")
    early_stopping_patience: int | None = Field(None, ge=1, description="Stop after this many epochs without "
                                                "improvement of `monitor`.")
    restore_best: bool = Field(True, description="After fit, load the weights of the best epoch into the model.")
    checkpoint_every_steps: int | None = Field(None, ge=1, description="Also checkpoint every N optimizer steps, "
                                               "so a crash mid-epoch loses at most N steps.")
    keep_checkpoints: int = Field(2, ge=1, description="Rolling epoch/step checkpoints kept (best is kept apart).")
    progress: Literal["auto", "bar", "lines", "none"] = Field(
        "auto", description="auto: tqdm bars in a terminal, one line per epoch otherwise.")
    tensorboard: bool = Field(False, description="Also log to RUN_DIR/tensorboard (needs the tensorboard package).")

    @field_validator("monitor")
    @classmethod
    def _validation_metric(cls, value: str) -> str:
        if not value.startswith("val_"):
            raise ValueError(f"monitor must be a validation metric such as val_loss or val_balanced_accuracy, got "
                             f"{value!r}; the test split is never used for selection")
        return value


class DataSourceConfig(StrictModel):
    """Where the images are and how they are split, read and augmented."""

    root: Path | None = Field(None, description="An image folder laid out as root/<class>/<image>.")
    manifest: Path | None = Field(None, description="A CSV or JSONL file with columns path, label and optional "
                                  "split (train, val or test); relative paths are resolved against its folder.")
    classes: list[str] | None = Field(None, description="Class names in label order. Default: the sorted folder "
                                      "names or manifest labels. A label outside this list is an error.")
    val_fraction: float = Field(0.15, ge=0, lt=1, description="Fraction of images held out for validation "
                                "(model selection), when the manifest has no split column.")
    test_fraction: float = Field(0.15, ge=0, lt=1, description="Fraction held out for the final test, never used "
                                 "for selection.")
    stratify: bool = Field(True, description="Keep class proportions equal across splits.")
    split_seed: int = Field(0, description="Seed of the random split.")
    augment: Literal["none", "light", "medium"] = Field(
        "light", description="Training augmentation safe for medical images. light: flips, rotations up to 10 "
        "degrees, shifts and scaling up to 5%. medium: light plus brightness and contrast up to 10%.")
    flip: bool = Field(True, description="Allow horizontal flips in augmentation; set false when left and right "
                       "differ (laterality, e.g. chest X-rays).")
    image_size: int | None = Field(None, ge=16, description="Square input size; default: the backbone weights' own.")
    on_bad_image: Literal["error", "skip"] = Field(
        "error", description="A corrupt or unreadable image: error stops before training and names every bad file; "
        "skip leaves them out and lists them in RUN_DIR/bad_images.json.")
    verify: bool = Field(True, description="Decode every image once before training, so a bad file is found "
                         "up front rather than hours in.")
    cache_decoded: Literal["auto", "on", "off"] = Field(
        "auto", description="Keep decoded images in memory. auto: when they fit in 2 GiB.")
    readers: dict[str, dict[str, Any]] = Field(default_factory=dict, description="Options per image reader, e.g. "
                                               "{dicom: {window: [40, 400]}, pillow: {scale: minmax}}.")

    @model_validator(mode="after")
    def _one_source(self) -> DataSourceConfig:
        if (self.root is None) == (self.manifest is None):
            raise ValueError("give exactly one of data.root (an image folder) or data.manifest (a CSV/JSONL file)")
        if self.val_fraction + self.test_fraction >= 1:
            raise ValueError("val_fraction + test_fraction must leave images for training")
        return self


def _component_field(kind: ComponentKind, default: str | None = None) -> Any:
    description = f"The {kind}: a mapping with `name` and that component's fields."
    if default is None:
        return Field(description=description)
    return Field(default_factory=lambda: {"name": default}, validate_default=True, description=description)


class ExperimentConfig(StrictModel):
    """A complete experiment: model, strategy and training options.

    Example:
        >>> cfg = ExperimentConfig.model_validate(
        ...     {"backbone": {"name": "timm", "model": "resnet18", "pretrained": False}, "num_classes": 3}
        ... )  # doctest: +SKIP
    """

    backbone: SerializeAsAny[BackboneConfig] = _component_field("backbone")
    head: SerializeAsAny[HeadConfig] = _component_field("head", "linear")
    policy: SerializeAsAny[FreezePolicyConfig] = _component_field("policy", "recipe")
    data: DataSourceConfig | None = Field(None, description="The images; required by `tlcore train`.")
    run_dir: Path | None = Field(None, description="Run directory; default runs/<config name>-<time>.")
    num_classes: int | None = Field(None, ge=2, description="Number of classes; taken from the data if omitted.")
    trainer: TrainerConfig = Field(default_factory=lambda: TrainerConfig(), description="Training loop options.")

    @field_validator("backbone", "head", "policy", mode="before")
    @classmethod
    def _resolve_component(cls, value: Any, info: Any) -> Any:
        kind: ComponentKind = info.field_name
        if isinstance(value, ComponentConfig):
            return value
        if isinstance(value, str):
            value = {"name": value}
        if not isinstance(value, Mapping) or "name" not in value:
            raise PydanticCustomError(
                "component_name_missing", f"{kind} needs a mapping with a `name` key, e.g. {{name: ...}}"
            )
        config_class = component_config_class(kind, str(value["name"]))
        return config_class.model_validate(dict(value))


def component_config_class(kind: ComponentKind, name: str) -> type[ComponentConfig]:
    """Return the config class registered for ``name``, or raise a located validation error."""
    from tlcore.plugins import registry

    try:
        config_class: type[ComponentConfig] = registry(kind).get(name).config_class
        return config_class
    except UnknownComponentError as error:
        details = InitErrorDetails(
            type=PydanticCustomError("unknown_component", str(error).replace("{", "{{").replace("}", "}}")),
            loc=("name",),
            input=name,
        )
        raise ValidationError.from_exception_data(f"{kind} config", [details]) from None


def load_config(source: str | Path | Mapping[str, Any], overrides: Mapping[str, Any] | None = None) -> ExperimentConfig:
    """Load and validate an experiment config.

    Args:
        source: A YAML file path, or an already parsed mapping.
        overrides: Dotted keys to set before validation, e.g. ``{"trainer.epochs": 2}``.

    Returns:
        The validated config.

    Raises:
        ConfigError: The file is missing or is not YAML, or a field is invalid. The
            message names each field by its dotted location.
    """
    if isinstance(source, Mapping):
        data: dict[str, Any] = dict(source)
    else:
        data = _read_yaml(Path(source))
    for dotted, value in (overrides or {}).items():
        _set_dotted(data, dotted, value)
    try:
        return ExperimentConfig.model_validate(data)
    except ValidationError as error:
        origin = "" if isinstance(source, Mapping) else f" in {source}"
        raise ConfigError(format_validation_error(error, data, origin)) from None


def _read_yaml(path: Path) -> dict[str, Any]:
    import yaml

    if not path.is_file():
        raise ConfigError(f"config file {path} does not exist; `tlcore config --example` prints one.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise ConfigError(f"config file {path} is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping at the top level, got {type(data).__name__}.")
    return data


def _set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    node = data
    *parents, leaf = dotted.split(".")
    for part in parents:
        child = node.setdefault(part, {})
        if isinstance(child, str):
            child = node[part] = {"name": child}
        node = child
    node[leaf] = value


def format_validation_error(error: ValidationError, data: Mapping[str, Any], origin: str = "") -> str:
    """Turn a pydantic error into one readable paragraph with dotted field locations.

    Unknown keys get a "did you mean" hint from the fields allowed at that place.
    """
    lines = [f"invalid config{origin}:"]
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"])
        message = item["msg"]
        if item["type"] == "extra_forbidden":
            allowed = _allowed_keys(item["loc"][:-1], data)
            message = f"unknown key.{did_you_mean(str(item['loc'][-1]), allowed)}"
            if allowed:
                message += f" Allowed here: {', '.join(sorted(allowed))}."
        elif item["type"] not in ("unknown_component", "missing") and "input" in item:
            message += f" (got {item['input']!r})"
        lines.append(f"  {location}: {message}")
    return "\n".join(lines)


def _allowed_keys(loc: tuple[Any, ...], data: Mapping[str, Any]) -> list[str]:
    """Field names valid at ``loc``, following component ``name``s to their registered configs."""
    model: type[BaseModel] | None = ExperimentConfig
    node: Any = data
    for part in loc:
        field = model.model_fields.get(str(part)) if model is not None else None
        if field is None:
            return []
        node = node.get(part) if isinstance(node, Mapping) else node
        annotation = field.annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
        if issubclass(annotation, ComponentConfig):
            name = node.get("name") if isinstance(node, Mapping) else node
            try:
                model = component_config_class(annotation.kind, str(name))
            except ValidationError:
                return []
    return list(model.model_fields) if model is not None else []
