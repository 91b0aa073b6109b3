"""The ``tlcore`` command line. Errors print one readable paragraph; ``--debug`` shows tracebacks."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from tlcore.errors import TlcoreError


def _cmd_plugins(args: argparse.Namespace) -> int:
    from tlcore.plugins import plugin_report

    infos, failures = plugin_report()
    if args.json:
        print(json.dumps({"plugins": [vars(i) for i in infos], "failures": [vars(f) for f in failures]}, indent=2))
        return 0
    for info in infos:
        origin = f"{info.distribution} {info.version}" if info.distribution else "registered in-process"
        print(f"{info.name}  ({origin})")
        for kind, names in sorted(info.registers.items()):
            print(f"    {kind}: {', '.join(names)}")
    for failure in failures:
        print(f"FAILED {failure.describe()}", file=sys.stderr)
    return 0


def _overrides(pairs: Sequence[str]) -> dict[str, object]:
    import yaml

    from tlcore.errors import ConfigError

    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, e.g. --set trainer.epochs=3; got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _cmd_plan(args: argparse.Namespace) -> int:
    from tlcore.config import load_config
    from tlcore.planning import format_summary, summarise

    config = load_config(args.config, _overrides(args.set))
    print(format_summary(config, summarise(config)))
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from tlcore.quickstart import run

    run(size=args.size, epochs=args.epochs)
    print("\nOn your own images: see README.md (the data, CLI and export commands arrive with later releases).")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``tlcore`` command."""
    parser = argparse.ArgumentParser(prog="tlcore", description="Transfer learning on images.")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    plugins = commands.add_parser("plugins", help="list installed plugins and what each registers",
                                  description="List installed plugins with distribution, version and the "
                                  "components each registers; plugins that failed to load go to stderr.")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(func=_cmd_plugins)

    plan = commands.add_parser("plan", help="print what each phase trains, without training",
                               description="Print, per phase of the freeze policy, every layer group with its "
                               "parameter count, whether it trains, its peak learning rate and its BatchNorm mode. "
                               "Nothing is trained and no pretrained weights are loaded.")
    plan.add_argument("config", help="experiment YAML file")
    plan.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                      help="override a config value, e.g. --set trainer.epochs=3 (repeatable)")
    plan.set_defaults(func=_cmd_plan)

    quickstart = commands.add_parser("quickstart", help="short offline end-to-end run on real photographs",
                                     description="Train EfficientNet-Lite0 on crops of real photographs, "
                                     "pretrained against from scratch, fully offline.")
    quickstart.add_argument("--size", type=int, default=128, help="crop size in pixels (default 128)")
    quickstart.add_argument("--epochs", type=int, default=8, help="epochs per arm (default 8)")
    quickstart.set_defaults(func=_cmd_quickstart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = args.func(args)
        return code
    except TlcoreError as error:
        if args.debug:
            raise
        print(f"tlcore {args.command}: error: {error}", file=sys.stderr)
        return 2
