"""Pillow reader: scales by the pixel type's range, so 16-bit values above 255 survive."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from tlcore.config import ImageReaderConfig
from tlcore.images import ImageReader

_SIGNATURES = (b"\x89PNG", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*", b"BM", b"RIFF")


class PillowReaderConfig(ImageReaderConfig):
    """Options of the Pillow reader (``data.readers.pillow``)."""

    name: Literal["pillow"] = "pillow"
    scale: Literal["dtype", "minmax"] = Field(
        "dtype", description="dtype: divide by the pixel type's maximum (255 or 65535). minmax: stretch each image's "
        "own range to [0, 1] (for 12-bit data stored in 16-bit files).")


class PillowReader(ImageReader):
    """8-bit and 16-bit gray, RGB, RGBA (alpha dropped), palette and CMYK images."""

    name = "pillow"
    config_class = PillowReaderConfig
    extensions = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp", ".webp")
    config: PillowReaderConfig

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """PNG, JPEG, TIFF, BMP or WebP signatures."""
        return head.startswith(_SIGNATURES)

    def read(self, path: Path) -> np.ndarray:
        """Decode fully (a truncated file raises) and scale to [0, 1]."""
        from PIL import Image

        with Image.open(path) as image:
            image.load()
            if image.mode in ("I;16", "I;16L", "I;16B", "I;16N"):
                array, maximum = np.asarray(image, dtype=np.float32), 65535.0
            elif image.mode == "I":
                array = np.asarray(image, dtype=np.float32)
                maximum = 65535.0 if array.max(initial=0) > 255 or image.format in ("PNG", "TIFF") else 255.0
            elif image.mode == "F":
                array, maximum = np.asarray(image, dtype=np.float32), 1.0
            elif image.mode in ("1", "L", "LA"):
                array = np.asarray(image.convert("L"), dtype=np.float32)
                maximum = 255.0
            else:
                array, maximum = np.asarray(image.convert("RGB"), dtype=np.float32), 255.0
        if self.config.scale == "minmax":
            low, high = float(array.min()), float(array.max())
            return (array - low) / (high - low) if high > low else np.zeros_like(array)
        scaled: np.ndarray = np.clip(array / maximum, 0.0, 1.0)
        return scaled
