"""Shared fixtures. No test touches the network: the hub is forced offline here."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("OMP_NUM_THREADS", "2")

import pytest
import torch

from tlcore.plugins import reset_plugins

EXAMPLE_PLUGIN_SOURCE = Path(__file__).parent / "third_party" / "example_plugin"


@pytest.fixture(autouse=True)
def _fresh_plugins() -> Iterator[None]:
    reset_plugins()
    yield
    reset_plugins()


@pytest.fixture(scope="session")
def example_plugin_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The third-party example plugin distribution, pip-installed into a private folder."""
    target = tmp_path_factory.mktemp("site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
         "--target", str(target), str(EXAMPLE_PLUGIN_SOURCE)],
        check=True,
    )
    return target


@pytest.fixture
def example_plugin(example_plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Make the installed example plugin visible to entry-point discovery (in and out of process)."""
    monkeypatch.syspath_prepend(str(example_plugin_dir))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(example_plugin_dir),
                                                                      os.environ.get("PYTHONPATH")])))
    reset_plugins()
    return example_plugin_dir


@pytest.fixture
def make_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """Create an installed-looking distribution (dist-info + module) on sys.path."""

    def make(dist: str, module: str, source: str, entry_point: str | None = None) -> None:
        info = tmp_path / f"{dist.replace('-', '_')}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[tlcore]\n{entry_point or module} = {module}\n")
        (tmp_path / f"{module}.py").write_text(source)
        monkeypatch.syspath_prepend(str(tmp_path))
        reset_plugins()

    return make


@pytest.fixture
def images() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(4, 3, 32, 32)
