"""The Pillow reader: 8- and 16-bit gray, RGB, RGBA, truncated files."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from tlcore.images import BadImageError, ImageReaders
from tlcore.testing.images import truncate, write_png


def test_sixteen_bit_values_above_255_survive(tmp_path: Path) -> None:
    values = np.array([[0, 255, 256, 4095], [30000, 40000, 65535, 1000]], dtype=np.uint16)
    path = write_png(tmp_path / "xray16.png", values)
    image = ImageReaders().read(path, in_chans=1)
    assert image.shape == (1, 2, 4)
    assert torch.allclose(image[0], torch.from_numpy(values / 65535.0).float(), atol=1e-6)
    assert len(torch.unique(image)) == 8  # 255 and 256 stay distinct: nothing clipped to 8 bits
    tif = tmp_path / "xray16.tif"
    from PIL import Image

    Image.fromarray(values).save(tif)
    assert torch.allclose(ImageReaders().read(tif, 1), image)


def test_minmax_scaling_for_twelve_bit_data(tmp_path: Path) -> None:
    path = write_png(tmp_path / "ct12.png", np.array([[100, 4095]], dtype=np.uint16))
    image = ImageReaders({"pillow": {"scale": "minmax"}}).read(path, in_chans=1)
    assert image.flatten().tolist() == [0.0, 1.0]


def test_eight_bit_gray_rgb_and_rgba(tmp_path: Path) -> None:
    gray = write_png(tmp_path / "g.png", np.full((4, 4), 51, dtype=np.uint8))
    assert torch.allclose(ImageReaders().read(gray, 3), torch.full((3, 4, 4), 0.2))
    rgb = np.zeros((4, 4, 3), dtype=np.uint8)
    rgb[..., 0] = 255
    assert ImageReaders().read(write_png(tmp_path / "c.png", rgb), 3)[:, 0, 0].tolist() == [1.0, 0.0, 0.0]
    assert ImageReaders().read(write_png(tmp_path / "c.jpg", rgb), 1).shape == (1, 4, 4)
    rgba = np.dstack([rgb, np.zeros((4, 4), dtype=np.uint8)])  # fully transparent: alpha is dropped, not applied
    assert ImageReaders().read(write_png(tmp_path / "a.png", rgba), 3)[:, 1, 1].tolist() == [1.0, 0.0, 0.0]
    luma = ImageReaders().read(tmp_path / "c.png", 1)
    assert luma[0, 0, 0].item() == pytest.approx(0.299)


def test_truncated_and_missing_files_are_named(tmp_path: Path) -> None:
    path = truncate(write_png(tmp_path / "broken.png", np.random.default_rng(0).integers(0, 255, (64, 64),
                                                                                         dtype=np.uint8)))
    with pytest.raises(BadImageError, match=r"broken\.png: cannot be read .*data\.on_bad_image: skip"):
        ImageReaders().read(path, 3)
    with pytest.raises(BadImageError, match=r"nothing\.png: file does not exist"):
        ImageReaders().read(tmp_path / "nothing.png", 3)
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(BadImageError, match="no installed image reader"):
        ImageReaders().read(tmp_path / "notes.txt", 3)
