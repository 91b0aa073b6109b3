"""Reading image files of any registered format into float arrays in [0, 1]."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from tlcore.config import ImageReaderConfig
from tlcore.errors import TlcoreError


class BadImageError(TlcoreError):
    """An image file is missing, unreadable or corrupt. The message names the file."""


class ImageReader(ABC):
    """Reads one family of file formats.

    Subclasses set ``name``, ``config_class`` and ``extensions`` (lower case, with the dot),
    and may override :meth:`sniff` to recognise files by content.

    Args:
        config: The reader's validated config.
    """

    name: ClassVar[str]
    config_class: ClassVar[type[ImageReaderConfig]]
    extensions: ClassVar[tuple[str, ...]] = ()

    def __init__(self, config: Any) -> None:
        self.config = config

    @classmethod
    def sniff(cls, head: bytes) -> bool:
        """Whether a file starting with ``head`` (its first 256 bytes) is in this format."""
        return False

    @abstractmethod
    def read(self, path: Path) -> np.ndarray:
        """Decode ``path`` to float32 ``(H, W)`` (gray) or ``(H, W, 3)`` (RGB), values in [0, 1].

        Raises:
            Exception: Any decoding error; the caller turns it into a :class:`BadImageError`.
        """


class ImageReaders:
    """The installed readers, configured, choosing one per file.

    Args:
        options: Reader name to its config fields, e.g. ``{"dicom": {"window": [40, 400]}}``.
    """

    def __init__(self, options: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        from tlcore.plugins import registry

        options = dict(options or {})
        entries = list(registry("image_reader"))
        unknown = sorted(set(options) - {e.name for e in entries})
        if unknown:
            registry("image_reader").get(unknown[0])  # raises with the installed names
        self.readers = [e.component(e.config_class.model_validate({"name": e.name, **options.get(e.name, {})}))
                        for e in entries]
        self.by_extension = {ext: r for r in self.readers for ext in r.extensions}

    def reader_for(self, path: Path) -> ImageReader:
        """The reader for ``path``: by extension, else by content."""
        reader: ImageReader | None = self.by_extension.get(path.suffix.lower())
        if reader is not None:
            return reader
        with open(path, "rb") as stream:
            head = stream.read(256)
        candidate: ImageReader
        for candidate in self.readers:
            if candidate.sniff(head):
                return candidate
        raise BadImageError(f"{path}: no installed image reader handles '{path.suffix or 'files without extension'}'"
                            f" (readers: {', '.join(sorted(r.name for r in self.readers))}); convert the file, or "
                            "install a plugin that registers a reader for it")

    def read(self, path: Path, in_chans: int) -> torch.Tensor:
        """Read ``path`` as a float tensor ``(in_chans, H, W)`` in [0, 1].

        Gray images are replicated to 3 channels for RGB backbones; colour images are
        turned to luma (ITU-R 601) for 1-channel backbones.

        Raises:
            BadImageError: The file is missing, has no reader, or cannot be decoded.
        """
        if not path.is_file():
            raise BadImageError(f"{path}: file does not exist")
        reader = self.reader_for(path)
        try:
            array = np.asarray(reader.read(path), dtype=np.float32)
        except Exception as error:
            raise BadImageError(f"{path}: cannot be read as an image by the {reader.name} reader "
                                f"({type(error).__name__}: {error}). Replace or remove the file, or set "
                                "data.on_bad_image: skip") from None
        if array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
            raise BadImageError(f"{path}: the {reader.name} reader returned shape {array.shape}; expected (H, W) "
                                "or (H, W, 3)")
        return to_channels(torch.from_numpy(np.ascontiguousarray(array)), in_chans)


def to_channels(image: torch.Tensor, in_chans: int) -> torch.Tensor:
    """``(H, W)`` or ``(H, W, 3)`` to ``(in_chans, H, W)``: replicate gray, or take RGB's luma."""
    if image.ndim == 2:
        return image.unsqueeze(0).expand(in_chans, -1, -1).contiguous()
    chw = image.permute(2, 0, 1).contiguous()
    if in_chans == 3:
        return chw
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=chw.dtype).view(3, 1, 1)
    return (chw * luma).sum(0, keepdim=True)
