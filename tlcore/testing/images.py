"""Small image files of every kind a reader or data test needs: 8/16-bit PNG, truncated files,
DICOM (needs pydicom) and whole class folders of textured images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def write_png(path: Path, array: np.ndarray) -> Path:
    """Save ``array`` (uint8 or uint16, gray or RGB/RGBA) with Pillow; the format follows the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path)
    return path


def pattern(size: int, kind: int, seed: int) -> np.ndarray:
    """A gray 8-bit image whose texture depends on ``kind``: stripes, checks or blobs."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size]
    phase = rng.uniform(0, 6.28)
    base = [np.sin(x / 2.0 + phase), np.sign(np.sin(x / 3.0 + phase) * np.sin(y / 3.0)), np.sin((x + y) / 5.0 + phase)]
    image = base[kind % 3] * 80 + 128 + rng.normal(0, 10, (size, size))
    pixels: np.ndarray = np.clip(image, 0, 255).astype(np.uint8)
    return pixels


def image_folder(root: Path, classes: int = 3, per_class: int = 8, size: int = 40) -> Path:
    """Write ``root/class_<k>/<i>.png``: a small, learnable image-folder data set."""
    for label in range(classes):
        for index in range(per_class):
            write_png(root / f"class_{label}" / f"{index:03d}.png", pattern(size, label, seed=label * 100 + index))
    return root


def truncate(path: Path) -> Path:
    """Cut a file in half, as an interrupted copy would."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def write_dicom(path: Path, pixels: np.ndarray, slope: float = 1.0, intercept: float = 0.0,
                photometric: str = "MONOCHROME2", window: tuple[float, float] | None = None) -> Path:
    """A minimal single-frame 16-bit DICOM file, created with pydicom."""
    import pydicom
    from pydicom.dataset import FileDataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian, SecondaryCaptureImageStorage, generate_uid

    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    dataset = FileDataset(str(path), {}, file_meta=meta, preamble=b"\0" * 128)
    dataset.SOPClassUID, dataset.SOPInstanceUID = meta.MediaStorageSOPClassUID, meta.MediaStorageSOPInstanceUID
    dataset.Modality = "CT"
    dataset.Rows, dataset.Columns = pixels.shape
    dataset.SamplesPerPixel = 1
    dataset.PhotometricInterpretation = photometric
    dataset.BitsAllocated, dataset.BitsStored, dataset.HighBit = 16, 16, 15
    dataset.PixelRepresentation = 0
    dataset.RescaleSlope, dataset.RescaleIntercept = slope, intercept
    if window is not None:
        dataset.WindowCenter, dataset.WindowWidth = window
    dataset.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    pydicom.dcmwrite(path, dataset, enforce_file_format=True)
    return path
