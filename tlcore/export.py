"""ONNX export with preprocessing and labels inside, and a parity gate that fails loudly.

The exported file is one self-contained ONNX model (opset 18 or newer, dynamic batch). Its
``metadata_props`` carry everything a server needs; see :data:`METADATA_KEYS`.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn

from tlcore.backbone import DataConfig
from tlcore.errors import TlcoreError

Layout = Literal["NHWC", "NCHW"]
METADATA_KEYS = (
    "tlcore.class_names", "tlcore.input_size", "tlcore.layout", "tlcore.dtype", "tlcore.channels",
    "tlcore.channel_order", "tlcore.mean", "tlcore.std", "tlcore.interpolation", "tlcore.crop_pct",
    "tlcore.preprocessing_inside", "tlcore.outputs", "tlcore.backbone", "tlcore.weights_source", "tlcore.version",
    "tlcore.val_metrics",
)


class ExportParityError(TlcoreError):
    """onnxruntime and torch disagree beyond tolerance; no file was written."""


class PreprocessingWrapper(nn.Module):
    """Wraps a classifier so it takes raw ``uint8`` images and returns logits (and probabilities).

    Inside the graph: cast to float, divide by 255, turn NHWC into NCHW, replicate gray or take
    the luma of colour to match the model's channels, and normalise with the weights' mean/std.

    Args:
        model: Takes normalised float images ``(N, in_chans, H, W)``.
        data_config: The backbone's preprocessing.
        channels: Channels of the raw input (1 or 3).
        layout: ``NHWC`` (as images are decoded) or ``NCHW``.
        preprocessing: When false the model takes normalised float32 NCHW input unchanged.
        probabilities: Also output softmax probabilities.
    """

    def __init__(self, model: nn.Module, data_config: DataConfig, channels: int = 3, layout: Layout = "NHWC",
                 preprocessing: bool = True, probabilities: bool = True) -> None:
        super().__init__()
        self.model, self.channels, self.layout = model, channels, layout
        self.preprocessing, self.probabilities = preprocessing, probabilities
        self.in_chans = data_config.in_chans
        self.mean: torch.Tensor
        self.std: torch.Tensor
        self.luma: torch.Tensor
        self.register_buffer("mean", torch.tensor(data_config.mean, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(data_config.std, dtype=torch.float32).view(1, -1, 1, 1))
        self.register_buffer("luma", torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1))

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Logits, then probabilities if enabled."""
        x = images
        if self.preprocessing:
            x = x.float() / 255.0
            if self.layout == "NHWC":
                x = x.permute(0, 3, 1, 2)
            if self.channels == 1 and self.in_chans == 3:
                x = x.expand(-1, 3, -1, -1)
            elif self.channels == 3 and self.in_chans == 1:
                x = (x * self.luma).sum(dim=1, keepdim=True)
            x = (x - self.mean) / self.std
        logits: torch.Tensor = self.model(x)
        return (logits, torch.softmax(logits, dim=1)) if self.probabilities else (logits,)


@dataclass
class ParityReport:
    """How the exported graph compares with torch on real images."""

    max_abs_logit_diff: float
    top1_agreement: float
    images: int
    batch_sizes_checked: list[int]
    dynamic_batch: bool
    tolerance: float

    def passed(self) -> bool:
        """Within tolerance, full top-1 agreement, and a truly dynamic batch axis."""
        return self.max_abs_logit_diff <= self.tolerance and self.top1_agreement == 1.0 and self.dynamic_batch


@contextlib.contextmanager
def staged_file(path: Path) -> Iterator[Path]:
    """A temporary file beside ``path``; moved onto ``path`` only if the block succeeds."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(suffix=path.suffix, dir=path.parent)
    os.close(handle)
    tmp = Path(name)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def export_graph(module: nn.Module, example: torch.Tensor, path: Path, outputs: list[str], opset: int = 18) -> None:
    """torch's dynamo exporter with one ``images`` input whose batch axis is dynamic, in one file."""
    torch.onnx.export(module, (example,), str(path), dynamo=True, external_data=False, opset_version=opset,
                      input_names=["images"], output_names=outputs,
                      dynamic_shapes={"images": {0: torch.export.Dim("batch", min=1)}}, verbose=False)


def onnx_metadata(wrapper: PreprocessingWrapper, data_config: DataConfig, size: int, class_names: Sequence[str],
              extra: dict[str, Any]) -> dict[str, str]:
    """The ``metadata_props`` of an exported model (see :data:`METADATA_KEYS`)."""
    from tlcore import __version__

    layout = wrapper.layout if wrapper.preprocessing else "NCHW"
    channels = wrapper.channels if wrapper.preprocessing else wrapper.in_chans
    return {
        "tlcore.class_names": json.dumps(list(class_names)),
        "tlcore.input_size": json.dumps([size, size]),
        "tlcore.layout": layout,
        "tlcore.dtype": "uint8" if wrapper.preprocessing else "float32",
        "tlcore.channels": str(channels),
        "tlcore.channel_order": "RGB" if channels == 3 else "GRAY",
        "tlcore.mean": json.dumps(list(data_config.mean)),
        "tlcore.std": json.dumps(list(data_config.std)),
        "tlcore.interpolation": data_config.interpolation,
        "tlcore.crop_pct": str(data_config.crop_pct),
        "tlcore.preprocessing_inside": json.dumps(wrapper.preprocessing),
        "tlcore.outputs": json.dumps(["logits", "probabilities"] if wrapper.probabilities else ["logits"]),
        "tlcore.version": __version__,
        **{f"tlcore.{k}": v if isinstance(v, str) else json.dumps(v) for k, v in extra.items()},
    }


def check_parity(path: Path, wrapper: PreprocessingWrapper, images: torch.Tensor, tolerance: float) -> ParityReport:
    """Compare onnxruntime with torch on ``images`` at batch 1 and batch N, and probe the batch axis."""
    import onnx
    import onnxruntime as ort

    graph_input = onnx.load(str(path), load_external_data=False).graph.input[0]
    dynamic = bool(graph_input.type.tensor_type.shape.dim[0].dim_param)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    with torch.no_grad():
        expected = wrapper(images)[0].float().numpy()
    single = np.concatenate([session.run(None, {name: images[i:i + 1].numpy()})[0] for i in range(len(images))])
    batched = session.run(None, {name: images.numpy()})[0]
    sizes = sorted({1, len(images)})
    for odd in (3, 7):  # shapes not seen at export time
        repeated = images.numpy()[np.arange(odd) % len(images)]
        dynamic = dynamic and session.run(None, {name: repeated})[0].shape[0] == odd
        sizes = sorted({*sizes, odd})
    diff = float(max(np.abs(single - expected).max(), np.abs(batched - expected).max()))
    agreement = float(np.mean((single.argmax(1) == expected.argmax(1)) & (batched.argmax(1) == expected.argmax(1))))
    return ParityReport(diff, agreement, len(images), sizes, dynamic, tolerance)


def export_onnx(model: nn.Module, path: str | Path, data_config: DataConfig, class_names: Sequence[str],
                images: torch.Tensor, *, image_size: int | None = None, preprocessing: bool = True,
                channels: int | None = None, layout: Layout = "NHWC", probabilities: bool = True, opset: int = 18,
                tolerance: float = 1e-3, metadata: dict[str, Any] | None = None) -> ParityReport:
    """Export ``model`` to one ONNX file, gated on parity with torch.

    Args:
        model: Classifier taking normalised ``(N, in_chans, H, W)`` float images.
        path: Destination ``.onnx`` file; written only if the parity gate passes.
        data_config: Preprocessing of the backbone's weights.
        class_names: Class names in label order.
        images: Real validation images for the gate, as the exported model takes them: ``uint8``
            in ``layout`` with ``channels`` channels when ``preprocessing``, else normalised floats.
        image_size: Square input size; default ``data_config.input_size``.
        preprocessing: Put cast, channel handling and normalisation inside the graph.
        channels: Channels of the raw input; default the model's.
        layout: Layout of the raw input.
        probabilities: Output softmax probabilities beside the logits.
        opset: ONNX opset (18 or newer).
        tolerance: Largest allowed absolute logit difference.
        metadata: More ``metadata_props`` (without the ``tlcore.`` prefix), e.g. validation metrics.

    Raises:
        ExportParityError: The gate failed; the message gives the figures.
    """
    import onnx

    if opset < 18:
        raise TlcoreError(f"opset {opset} is too old; use 18 or newer")
    size = image_size or data_config.input_size[1]
    wrapper = PreprocessingWrapper(model, data_config, channels or data_config.in_chans, layout, preprocessing,
                                   probabilities).eval()
    example = images[: min(2, len(images))]
    path = Path(path)
    with staged_file(path) as tmp:
        export_graph(wrapper, example, tmp, ["logits", "probabilities"] if probabilities else ["logits"], opset)
        proto = onnx.load(str(tmp))
        meta = onnx_metadata(wrapper, data_config, size, class_names, metadata or {})
        del proto.metadata_props[:]
        for key, value in meta.items():
            proto.metadata_props.add(key=key, value=value)
        onnx.save(proto, str(tmp))
        onnx.checker.check_model(str(tmp))
        report = check_parity(tmp, wrapper, images, tolerance)
        if not report.passed():
            raise ExportParityError(
                f"ONNX parity gate failed: max |logit difference| {report.max_abs_logit_diff:.3g} (tolerance "
                f"{tolerance:g}), top-1 agreement {report.top1_agreement:.3f} on {report.images} images, dynamic batch "
                f"{report.dynamic_batch}. Nothing was written to {path}.")
    return report


def run_images(run_dir: Path, count: int, preprocessing: bool, layout: Layout, channels: int | None) -> tuple[
        nn.Module, DataConfig, list[str], torch.Tensor, int, dict[str, Any]]:
    """A run's best model with real validation images (test images if there is no validation split)
    in the form the exported model takes."""
    from tlcore.config import load_config
    from tlcore.data import prepare_data
    from tlcore.evaluation import load_run_model
    from tlcore.transforms import build_transform

    model, classes = load_run_model(run_dir)
    config = load_config(run_dir / "config.yaml")
    if config.data is None:
        raise TlcoreError(f"{run_dir}/config.yaml has no data section")
    data_config = model.backbone.data_config
    channels = channels or data_config.in_chans
    size = config.data.image_size or data_config.input_size[1]
    resize_only = build_transform(data_config.model_copy(update={"mean": (0.0,) * data_config.in_chans,
                                                                 "std": (1.0,) * data_config.in_chans}),
                                  False, "none", image_size=size)
    bundle = prepare_data(config.data.model_copy(update={"verify": False}), data_config, run_dir, write=False)
    source = bundle.val or bundle.test or bundle.train
    samples = source.samples[:count]
    pixels = torch.stack([resize_only(bundle.train.readers.read(s.path, channels)) for s in samples])
    if preprocessing:
        images = (pixels * 255).round().clamp(0, 255).to(torch.uint8)
        images = images.permute(0, 2, 3, 1).contiguous() if layout == "NHWC" else images
    else:
        mean = torch.tensor(data_config.mean).view(1, -1, 1, 1)
        std = torch.tensor(data_config.std).view(1, -1, 1, 1)
        images = (pixels - mean) / std
    extra: dict[str, Any] = {"backbone": config.backbone.model_dump(mode="json"),
                             "weights_source": model.backbone.weights_source}
    report = run_dir / "val_report.json"
    if report.is_file():
        scalars = json.loads(report.read_text(encoding="utf-8"))
        extra["val_metrics"] = {k: scalars.get(k) for k in ("loss", "accuracy", "balanced_accuracy", "macro_f1",
                                                             "roc_auc")}
    sized = data_config.model_copy(update={"input_size": (data_config.in_chans, size, size)})
    return model, sized, classes, images, channels, extra


def export_run(run_dir: Path, out: Path | None = None, *, preprocessing: bool = True, layout: Layout = "NHWC",
               channels: int | None = None, probabilities: bool = True, tolerance: float = 1e-3,
               parity_images: int = 16) -> tuple[Path, ParityReport]:
    """Export the best model of a run directory to ``out`` (default ``RUN_DIR/model.onnx``)."""
    model, data_config, classes, images, channels, extra = run_images(run_dir, parity_images, preprocessing, layout,
                                                                      channels)
    out = out or run_dir / "model.onnx"
    if hasattr(model.head, "to_onnx"):  # a classical head: compose its own graph with the backbone's
        from tlcore.export_composed import export_composed

        if not preprocessing:
            raise TlcoreError("a classical head is exported with preprocessing inside only")
        report = export_composed(model, out, data_config, classes, images, channels=channels, layout=layout,  # type: ignore[arg-type]
                                 metadata=extra)
        return out, report
    report = export_onnx(model, out, data_config, classes, images, preprocessing=preprocessing, channels=channels,
                         layout=layout, probabilities=probabilities, tolerance=tolerance, metadata=extra)
    return out, report
