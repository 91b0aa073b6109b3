"""The docs stay true: hooks documented, fields described, Getting-started code runs."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from tlcore import hookspecs
from tlcore.config import load_config

DOCS = Path(__file__).resolve().parent.parent / "docs"


def blocks(page: str, language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", (DOCS / page).read_text(), flags=re.S)


def test_every_hookspec_is_in_the_plugin_guide() -> None:
    guide = (DOCS / "plugins.md").read_text()
    specs = [name for name in dir(hookspecs) if name.startswith("tlcore_register_")]
    assert len(specs) == 4
    for name in specs:
        assert f"`{name}(register)`" in guide, name


def test_getting_started_yaml_configs_validate() -> None:
    configs = [b for b in blocks("index.md", "yaml") if b.startswith("backbone:")]
    assert configs
    for text in configs:
        import yaml

        load_config(yaml.safe_load(text))


def test_getting_started_python_runs(tmp_path: Path) -> None:
    runnable = [b for b in blocks("index.md", "python") if "image_folder(" in b]  # self-contained examples
    assert len(runnable) == 1
    code = runnable[0]
    result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "test balanced accuracy" in result.stdout


@pytest.mark.parametrize("page", ["index.md", "plugins.md", "training.md", "serving.md", "data.md", "strategies.md"])
def test_pages_name_only_existing_commands(page: str) -> None:
    from tlcore.cli import build_parser

    parser = build_parser()
    commands = set(next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices)
    text = (DOCS / page).read_text()
    used = set(re.findall(r"(?:^|`|\$ )tlcore ([a-z-]+)", text, flags=re.M))
    assert used <= commands, used - commands
