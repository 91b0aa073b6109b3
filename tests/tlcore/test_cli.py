"""The command line: plugin listing, error paragraphs and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tlcore.cli import main


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run([sys.executable, "-m", "tlcore", *args], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})


def test_plugins_lists_builtins_with_what_they_register() -> None:
    result = run("plugins")
    assert result.returncode == 0
    assert "heads  (tlcore 0.1.0)\n    head: linear, mlp" in result.stdout
    assert "torchvision  (tlcore 0.1.0)\n    backbone: torchvision" in result.stdout


def test_plugins_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert {"timm", "torchvision", "heads", "strategies"} <= {p["name"] for p in report["plugins"]}


def test_broken_plugin_goes_to_stderr_and_the_rest_list(make_dist, tmp_path) -> None:  # type: ignore[no-untyped-def]
    make_dist("broken-tlcore-plugin", "tlcore_broken", "import does_not_exist\n")
    result = run("plugins", env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 0
    assert "timm  (tlcore" in result.stdout
    assert "FAILED plugin 'tlcore_broken' from broken-tlcore-plugin 1.0 failed: import failed: " \
           "ModuleNotFoundError" in result.stderr


def test_usage_errors_exit_non_zero() -> None:
    result = run("no-such-command")
    assert result.returncode == 2 and "invalid choice" in result.stderr
