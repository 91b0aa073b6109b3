"""tlcore plugin: PNG, JPEG, TIFF, BMP and WebP images through Pillow, 8- and 16-bit."""

from __future__ import annotations

from collections.abc import Callable

from tlcore.hookspecs import hookimpl
from tlcore_pillow.reader import PillowReader, PillowReaderConfig

__all__ = ["PillowReader", "PillowReaderConfig", "tlcore_register_image_readers"]


@hookimpl
def tlcore_register_image_readers(register: Callable[[type], None]) -> None:
    """Register :class:`PillowReader`."""
    register(PillowReader)
