"""Serving an exported model with onnxruntime, NumPy and Pillow only: no torch, no training code.

::

    from tlcore.predictor import OnnxPredictor

    predictor = OnnxPredictor("model.onnx")                 # CPU
    predictor = OnnxPredictor("model.onnx", providers=["CUDAExecutionProvider"], strict=True)
    predictor.predict(["a.png", "b.png"], top_k=3)          # [[("pneumonia", 0.91), ...], ...]
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np


class PredictorError(Exception):
    """Bad input for the exported model, or a runtime that cannot serve it as asked."""


class ProviderUnavailableError(PredictorError):
    """A requested execution provider is not active (raised when ``strict=True``)."""


_RESAMPLE = {"nearest": 0, "bilinear": 2, "bicubic": 3}


class OnnxPredictor:
    """Predicts with a tlcore ONNX file, doing the preprocessing its metadata describes.

    Args:
        path: The ``.onnx`` file.
        providers: onnxruntime execution providers, in order of preference; default CPU.
        strict: Fail if a requested provider is not active, instead of running on the CPU in silence.
    """

    def __init__(self, path: str | Path, providers: Sequence[str] | None = None, strict: bool = False) -> None:
        import onnxruntime as ort

        requested = list(providers or ["CPUExecutionProvider"])
        self.session = ort.InferenceSession(str(path), providers=requested)
        active = self.session.get_providers()
        missing = [p for p in requested if p not in active]
        if strict and missing:
            raise ProviderUnavailableError(
                f"requested {missing} but onnxruntime runs on {active} (available in this install: "
                f"{ort.get_available_providers()}); install onnxruntime-gpu with a matching CUDA, or drop strict=True")
        self.providers = active
        meta = self.session.get_modelmeta().custom_metadata_map
        if "tlcore.class_names" not in meta:
            raise PredictorError(f"{path} has no tlcore metadata; export it with `tlcore export`")
        self.metadata = meta
        self.class_names: list[str] = json.loads(meta["tlcore.class_names"])
        self.height, self.width = json.loads(meta["tlcore.input_size"])
        self.layout = meta["tlcore.layout"]
        self.dtype = np.dtype(meta["tlcore.dtype"])
        self.channels = int(meta["tlcore.channels"])
        self.preprocessing_inside = json.loads(meta["tlcore.preprocessing_inside"])
        self.mean = np.array(json.loads(meta["tlcore.mean"]), dtype=np.float32)
        self.std = np.array(json.loads(meta["tlcore.std"]), dtype=np.float32)
        self.crop_pct = float(meta["tlcore.crop_pct"])
        self.resample = _RESAMPLE.get(meta["tlcore.interpolation"], 2)
        self.input_name = self.session.get_inputs()[0].name
        self.outputs = [o.name for o in self.session.get_outputs()]

    # ------------------------------------------------------------ preprocessing
    def _image(self, item: Any) -> Any:
        from PIL import Image

        if isinstance(item, Image.Image):
            return item
        if isinstance(item, str | Path):
            try:
                with Image.open(item) as image:
                    image.load()
                    return image.copy()
            except Exception as error:
                raise PredictorError(f"{item}: cannot be read as an image ({type(error).__name__}: {error})") from None
        array = np.asarray(item)
        if array.dtype == np.uint16:
            array = (array / 257.0).round().astype(np.uint8)
        elif array.dtype.kind == "f":
            array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
        if array.ndim == 3 and array.shape[2] == 1:
            array = array[..., 0]
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] not in (3, 4)):
            raise PredictorError(f"an array image must be (H, W) or (H, W, 3), got shape {array.shape}")
        return Image.fromarray(array.astype(np.uint8))

    def preprocess(self, item: Any) -> np.ndarray:
        """Decode, convert channels, resize the short side to ``size / crop_pct``, centre-crop.

        Returns the array the model takes for one image: ``uint8`` in the model's layout when the
        preprocessing is inside the graph, else normalised ``float32`` NCHW.
        """
        image = self._image(item)
        image = image.convert("L" if self.channels == 1 else "RGB")
        scale = max(self.height, self.width) / self.crop_pct / min(image.size)
        resized = (max(self.width, round(image.size[0] * scale)), max(self.height, round(image.size[1] * scale)))
        image = image.resize(resized, resample=self.resample)
        left, top = (resized[0] - self.width) // 2, (resized[1] - self.height) // 2
        array = np.asarray(image.crop((left, top, left + self.width, top + self.height)), dtype=np.uint8)
        array = array[..., None] if array.ndim == 2 else array
        if self.preprocessing_inside:
            return array if self.layout == "NHWC" else array.transpose(2, 0, 1)
        normalised = (array.astype(np.float32) / 255.0 - self.mean) / self.std
        return normalised.transpose(2, 0, 1).astype(np.float32)

    # ---------------------------------------------------------------- running
    def expected_input(self) -> str:
        """What :meth:`run` takes, in words."""
        shape = ("N", self.height, self.width, self.channels) if self.layout == "NHWC" else (
            "N", self.channels, self.height, self.width)
        return f"{self.dtype} array of shape {shape} ({self.layout})"

    def run(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        """Run already preprocessed images; check dtype and shape first.

        Raises:
            PredictorError: The batch does not match what the model takes.
        """
        expected = (self.height, self.width, self.channels) if self.layout == "NHWC" else (
            self.channels, self.height, self.width)
        if batch.dtype != self.dtype or batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
            raise PredictorError(f"the model takes a {self.expected_input()}; got {batch.dtype} of shape "
                                 f"{tuple(batch.shape)}")
        return dict(zip(self.outputs, self.session.run(None, {self.input_name: batch}), strict=True))

    def probabilities(self, images: Iterable[Any], batch_size: int = 32) -> np.ndarray:
        """Class probabilities ``(N, num_classes)`` for paths, PIL images or arrays."""
        items = list(images)
        results = []
        for start in range(0, len(items), batch_size):
            batch = np.stack([self.preprocess(item) for item in items[start:start + batch_size]])
            outputs = self.run(batch)
            if "probabilities" in outputs:
                results.append(outputs["probabilities"])
            else:
                logits = outputs[self.outputs[0]]
                exp = np.exp(logits - logits.max(axis=1, keepdims=True))
                results.append(exp / exp.sum(axis=1, keepdims=True))
        return np.concatenate(results) if results else np.zeros((0, len(self.class_names)), dtype=np.float32)

    def predict(self, images: Iterable[Any], top_k: int = 1, batch_size: int = 32) -> list[list[tuple[str, float]]]:
        """Top-``k`` (class name, probability) pairs per image, best first."""
        probabilities = self.probabilities(images, batch_size)
        top = np.argsort(-probabilities, axis=1)[:, :top_k]
        return [[(self.class_names[j], float(row[j])) for j in indices] for row, indices in zip(probabilities, top,
                                                                                                strict=True)]
