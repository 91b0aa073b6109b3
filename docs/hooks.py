"""MkDocs hook: generate the CLI and configuration references from the code, so they cannot drift."""

from __future__ import annotations

from typing import Any

from mkdocs.structure.files import File, Files


def _cli_reference() -> str:
    from tlcore.cli import build_parser

    parser = build_parser()
    lines = ["# CLI reference", "", "Generated from the argument parser.", "", "```text", parser.format_help(), "```"]
    subparsers = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    for name, sub in subparsers.choices.items():  # type: ignore[attr-defined]
        lines += ["", f"## tlcore {name}", "", "```text", sub.format_help(), "```"]
    return "\n".join(lines) + "\n"


def _type_name(annotation: Any) -> str:
    text = str(annotation).replace("typing.", "").replace("pathlib.", "").replace("NoneType", "None")
    return text.replace("<class '", "").replace("'>", "").replace("|", "\\|")


def _table(model: Any) -> list[str]:
    rows = ["| field | type | default | description |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else repr(field.get_default(call_default_factory=True))
        default = default.replace("|", "\\|")
        rows.append(f"| `{name}` | `{_type_name(field.annotation)}` | `{default}` | {field.description or ''} |")
    return rows


def _config_reference() -> str:
    from tlcore.config import DataSourceConfig, ExperimentConfig, TrainerConfig
    from tlcore.plugins import registry

    lines = ["# Configuration reference", "", "Generated from the pydantic models of the core and of every installed "
             "plugin. Unknown keys are errors.", ""]
    for title, model in (("Experiment (top level)", ExperimentConfig), ("data", DataSourceConfig),
                         ("trainer", TrainerConfig)):
        lines += [f"## {title}", "", *_table(model), ""]
    for kind in ("backbone", "head", "policy", "image_reader"):
        for entry in registry(kind):
            section = "data.readers" if kind == "image_reader" else kind
            lines += [f"## {section}: `{entry.name}`", "", f"From {entry.origin}.", "", *_table(entry.config_class), ""]
    return "\n".join(lines) + "\n"


def on_files(files: Files, config: Any) -> Files:
    """Add the generated pages."""
    for path, content in (("cli.md", _cli_reference()), ("configuration.md", _config_reference())):
        files.append(File.generated(config, path, content=content))
    return files



