"""DICOM reader: modality LUT (slope, intercept), then a window, then MONOCHROME1 inversion."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field

from tlcore.config import ImageReaderConfig
from tlcore.images import ImageReader


class DicomReaderConfig(ImageReaderConfig):
    """Options of the DICOM reader (``data.readers.dicom``)."""

    name: Literal["dicom"] = "dicom"
    window: tuple[float, float] | None = Field(
        None, description="[center, width] of the intensity window, in modality units (e.g. Hounsfield: [40, 400] "
        "for soft tissue). Unset: the file's own VOI LUT or window, else its full range.")


class DicomReader(ImageReader):
    """Single-frame grayscale or RGB DICOM files, by extension or by the ``DICM`` preamble."""

    name = "dicom"
    config_class = DicomReaderConfig
    extensions = (".dcm", ".dicom")
    config: DicomReaderConfig

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """DICOM Part 10 files carry ``DICM`` after a 128-byte preamble."""
        return head[128:132] == b"DICM"

    def read(self, path: Path) -> np.ndarray:
        """Decode, rescale to modality units, window to [0, 1] and undo MONOCHROME1 inversion."""
        import pydicom
        from pydicom.pixels import apply_modality_lut, apply_voi_lut  # type: ignore[attr-defined]

        dataset = pydicom.dcmread(path)
        pixels = dataset.pixel_array
        if int(getattr(dataset, "NumberOfFrames", 1) or 1) > 1:
            raise ValueError("multi-frame DICOM is not supported; export single frames")
        photometric = str(getattr(dataset, "PhotometricInterpretation", "MONOCHROME2"))
        if photometric not in ("MONOCHROME1", "MONOCHROME2"):
            rgb = np.asarray(pixels, dtype=np.float32)
            return rgb / float(2 ** int(dataset.BitsStored) - 1)
        values = np.asarray(apply_modality_lut(pixels, dataset), dtype=np.float32)
        if self.config.window is not None:
            center, width = self.config.window
            low, high = center - width / 2, center + width / 2
        elif "VOILUTSequence" in dataset or "WindowCenter" in dataset:
            values = np.asarray(apply_voi_lut(values, dataset, prefer_lut=True), dtype=np.float32)
            low, high = float(values.min()), float(values.max())
        else:
            low, high = float(values.min()), float(values.max())
        scaled = np.clip((values - low) / (high - low), 0.0, 1.0) if high > low else np.zeros_like(values)
        return 1.0 - scaled if photometric == "MONOCHROME1" else scaled
