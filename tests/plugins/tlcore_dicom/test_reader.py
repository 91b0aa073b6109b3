"""The DICOM reader: rescale slope and intercept, windows, MONOCHROME1, sniffing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("pydicom")
from tlcore.images import ImageReaders
from tlcore.testing.images import write_dicom

STORED = np.array([[0, 1000], [1040, 2000]], dtype=np.uint16)  # slope 1, intercept -1024: HU -1024, -24, 16, 976


def test_rescale_then_explicit_window(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "ct.dcm", STORED, slope=1.0, intercept=-1024.0)
    image = ImageReaders({"dicom": {"window": [40, 400]}}).read(path, in_chans=1)[0]
    # window [-160, 240] HU
    assert image.numpy() == pytest.approx(np.array([[0.0, (-24 + 160) / 400], [(16 + 160) / 400, 1.0]]))


def test_slope_is_applied(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "scaled.dcm", STORED, slope=0.5, intercept=0.0)
    image = ImageReaders({"dicom": {"window": [500, 1000]}}).read(path, in_chans=1)[0]
    assert image.numpy() == pytest.approx(np.array([[0.0, 0.5], [0.52, 1.0]]))


def test_file_window_is_used_when_none_is_configured(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "windowed.dcm", STORED, intercept=-1024.0, window=(0.0, 100.0))
    image = ImageReaders().read(path, in_chans=1)[0].numpy()
    assert image[0, 0] == 0.0 and image[1, 1] == 1.0 and 0 < image[1, 0] < 1


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    normal = write_dicom(tmp_path / "m2.dcm", STORED)
    inverted = write_dicom(tmp_path / "m1.dcm", STORED, photometric="MONOCHROME1")
    readers = ImageReaders()
    assert np.allclose(readers.read(inverted, 1).numpy(), 1 - readers.read(normal, 1).numpy())
    assert readers.read(normal, 3).shape == (3, 2, 2)


def test_recognised_by_content_without_extension(tmp_path: Path) -> None:
    path = write_dicom(tmp_path / "IM0001", STORED)
    assert ImageReaders().reader_for(path).name == "dicom"
