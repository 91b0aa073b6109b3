"""tlcore plugin: DICOM images through pydicom (rescale, VOI LUT or windowing, MONOCHROME1)."""

from __future__ import annotations

from collections.abc import Callable

from tlcore.hookspecs import hookimpl
from tlcore_dicom.reader import DicomReader, DicomReaderConfig

__all__ = ["DicomReader", "DicomReaderConfig", "tlcore_register_image_readers"]


@hookimpl
def tlcore_register_image_readers(register: Callable[[type], None]) -> None:
    """Register :class:`DicomReader`."""
    register(DicomReader)
