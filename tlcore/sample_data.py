"""Small real image sets that are available offline, for the quickstart, benchmarks and docs.

* **Animal-MNIST** (PyPI package ``animal-mnist``, MIT licence, by Sina Mohammadi): 10,000
  grayscale 28 px silhouettes of 10 animals (bear, bird, cat, cow, dog, elephant, giraffe,
  horse, sheep, zebra), 1,000 each. Its own loader imports TensorFlow, so install it with
  ``pip install --no-deps animal-mnist``; only its data files are read here.
* **Textures**: scikit-image's brick, grass and gravel photographs, cut into crops.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path
from typing import Any

import numpy as np

from tlcore.errors import TlcoreError

ANIMALS = ("bear", "bird", "cat", "cow", "dog", "elephant", "giraffe", "horse", "sheep", "zebra")
TEXTURES = ("brick", "grass", "gravel")


class _ArraysOnly(pickle.Unpickler):
    """Unpickles NumPy arrays and nothing else, so a data file cannot run code."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def animal_mnist() -> tuple[np.ndarray, np.ndarray]:
    """All 10,000 Animal-MNIST images ``(N, 28, 28)`` uint8 and labels ``(N,)`` (indices into :data:`ANIMALS`).

    Raises:
        TlcoreError: The package is not installed; the message says how to install it.
    """
    from importlib.resources import files
    from importlib.util import find_spec

    if find_spec("animal_mnist") is None:
        raise TlcoreError("the quickstart data set is not installed: pip install --no-deps animal-mnist==0.4 "
                          "(MIT licence; --no-deps skips its TensorFlow dependency, which tlcore does not use)")
    base = files("animal_mnist") / "data" / "Animal_MNIST"
    arrays = []
    for name in ("animal_data_version_3.gz", "animal_label_version_3.gz"):
        with base.joinpath(name).open("rb") as raw, gzip.open(raw) as stream:
            arrays.append(np.asarray(_ArraysOnly(stream).load()))
    return arrays[0].astype(np.uint8), arrays[1].astype(np.int64)


def write_animal_folder(root: Path, per_class: int, seed: int = 0) -> Path:
    """Write ``per_class`` random Animal-MNIST images per class as ``root/<animal>/<index>.png``."""
    from PIL import Image

    images, labels = animal_mnist()
    rng = np.random.default_rng(seed)
    for label, animal in enumerate(ANIMALS):
        folder = root / animal
        folder.mkdir(parents=True, exist_ok=True)
        chosen = rng.choice(np.flatnonzero(labels == label), size=per_class, replace=False)
        for index in chosen:
            Image.fromarray(images[index]).save(folder / f"{index:05d}.png")
    return root


def texture_crops(size: int, train_per_class: int, val_per_class: int, seed: int = 0) -> tuple[Any, Any]:
    """Random ``size`` px crops of scikit-image's texture photographs, as ``TensorDataset``\\ s in [0, 1].

    Train crops come from the left half of each photograph, validation crops from the right.
    """
    import torch
    from torch.utils.data import TensorDataset

    try:
        import skimage.data
    except ImportError:
        raise TlcoreError("texture crops need scikit-image: pip install scikit-image") from None
    rng = np.random.default_rng(seed)
    splits: dict[str, tuple[list[np.ndarray], list[int]]] = {"train": ([], []), "val": ([], [])}
    for label, name in enumerate(TEXTURES):
        image = getattr(skimage.data, name)()
        half = image.shape[1] // 2
        for split, count, x0 in (("train", train_per_class, 0), ("val", val_per_class, half)):
            for _ in range(count):
                y = int(rng.integers(0, image.shape[0] - size))
                x = int(rng.integers(x0, x0 + half - size))
                splits[split][0].append(image[y:y + size, x:x + size])
                splits[split][1].append(label)

    def dataset(split: str) -> TensorDataset:
        crops, targets = splits[split]
        if not crops:
            return TensorDataset(torch.empty(0, 1, size, size), torch.empty(0, dtype=torch.long))
        pixels = torch.from_numpy(np.stack(crops)).float().div(255).unsqueeze(1)
        return TensorDataset(pixels, torch.tensor(targets))

    return dataset("train"), dataset("val")


def normalised(data: Any, config: Any) -> Any:
    """Replicate gray ``TensorDataset`` images to the backbone's channels and normalise them."""
    import torch
    from torch.utils.data import TensorDataset

    pixels, labels = data.tensors
    pixels = pixels.expand(-1, config.in_chans, -1, -1)
    mean = torch.tensor(config.mean).view(1, -1, 1, 1)
    std = torch.tensor(config.std).view(1, -1, 1, 1)
    return TensorDataset((pixels - mean) / std, labels)
