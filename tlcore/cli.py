"""The ``tlcore`` command line. Errors print one readable paragraph; ``--debug`` shows tracebacks."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tlcore.errors import ConfigError, TlcoreError


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


    overrides: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects KEY=VALUE, e.g. --set trainer.epochs=3; got {pair!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _cmd_plan(args: argparse.Namespace) -> int:
    from tlcore.planning import format_summary, summarise

    config = _config(args)
    print(format_summary(config, summarise(config)))
    return 0


def _print_report(name: str, report: object) -> None:
    scalars = report.scalars()  # type: ignore[attr-defined]
    print(f"{name}: " + "  ".join(f"{k} {v:.4f}" for k, v in scalars.items()))


def _cmd_train(args: argparse.Namespace) -> int:
    from tlcore.runner import train

    source = args.config
    if args.resume:
        if args.out is None:
            raise ConfigError("--resume needs --out RUN_DIR, the run to continue")
        source = Path(args.out) / "config.yaml" if args.config is None else args.config
    elif args.config is None:
        raise ConfigError("give a CONFIG file (tlcore config --example prints one)")
    config = _config(args, source)
    result = train(config, args.out, resume=args.resume)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return 0
    if result.test is not None:
        _print_report("test", result.test)
    print(f"run directory: {result.run_dir}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from tlcore.evaluation import evaluate_run

    report = evaluate_run(Path(args.run_dir), args.split)
    _print_report(args.split, report)
    for name, figures in report.per_class.items():
        print(f"  {name:<20} sensitivity {figures['sensitivity']:.3f}  specificity {figures['specificity']:.3f}  "
              f"precision {figures['precision']:.3f}  n={figures['support']}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from tlcore.export import export_run

    out, report = export_run(Path(args.run_dir), Path(args.out) if args.out else None,
                             preprocessing=not args.no_preprocessing, layout=args.layout, channels=args.channels,
                             probabilities=not args.no_probabilities, tolerance=args.tolerance)
    print(f"wrote {out}")
    print(f"parity on {report.images} validation images: max |logit diff| {report.max_abs_logit_diff:.2e} "
          f"(tolerance {report.tolerance:g}), top-1 agreement {report.top1_agreement:.3f}, dynamic batch checked "
          f"at {report.batch_sizes_checked}")
    return 0


def _cmd_predict(args: argparse.Namespace) -> int:
    import csv

    from tlcore.predictor import OnnxPredictor, PredictorError

    providers = {"cpu": ["CPUExecutionProvider"], "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"]}
    try:
        predictor = OnnxPredictor(args.model, providers[args.provider], strict=args.strict)
        results = predictor.predict(args.images, top_k=args.top_k, batch_size=args.batch_size)
    except PredictorError as error:
        print(f"tlcore predict: error: {error}", file=sys.stderr)
        return 2
    rows = [[image, rank + 1, name, f"{probability:.6f}"] for image, ranked in zip(args.images, results, strict=True)
            for rank, (name, probability) in enumerate(ranked)]
    if args.out:
        with open(args.out, "w", newline="", encoding="utf-8") as stream:
            writer = csv.writer(stream)
            writer.writerow(["image", "rank", "class", "probability"])
            writer.writerows(rows)
        print(f"wrote {len(results)} predictions to {args.out} (providers: {', '.join(predictor.providers)})")
    else:
        for image, ranked in zip(args.images, results, strict=True):
            print(f"{image}: " + ", ".join(f"{name} {p:.3f}" for name, p in ranked))
    return 0


def _cmd_config(args: argparse.Namespace) -> int:
    from tlcore.config_example import example_yaml

    if not args.example:
        raise ConfigError("config: pass --example to print a complete, commented config")
    print(example_yaml(), end="")
    return 0


def _cmd_backbones(args: argparse.Namespace) -> int:
    from tlcore.plugins import registry

    found = 0
    for entry in registry("backbone"):
        for model, weights in entry.component.list_models(args.pattern):
            print(f"{entry.name:<12} {model:<44} {weights}")
            found += 1
    if not found:
        print(f"no backbone model matches {args.pattern!r}", file=sys.stderr)
        return 1
    print(f"\n{found} model(s). Any of them also loads a local file: backbone.weights: /path/to/weights.safetensors",
          file=sys.stderr)
    return 0


def _cmd_lr_find(args: argparse.Namespace) -> int:
    from tlcore.data import discover, prepare_data
    from tlcore.lr_finder import find_lr
    from tlcore.model import build_model
    from tlcore.trainer import Trainer

    config = _config(args)
    if config.data is None:
        raise ConfigError("data: required by lr-find; set data.root or data.manifest")
    _, classes = discover(config.data)
    model = build_model(config, num_classes=len(classes))
    data = prepare_data(config.data, model.backbone.data_config, write=False)
    result = find_lr(Trainer.from_config(config), model, data.train, steps=args.steps)
    result.plot(Path(args.out))
    print(f"suggested learning rate: {result.suggestion:.3g} (steepest descent of the smoothed loss over "
          f"{len(result.lrs)} steps; plot: {args.out}). Set it as trainer.lr.")
    return 0


def _cmd_features(args: argparse.Namespace) -> int:
    from tlcore.features import extract_features

    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else []
    features = extract_features(_config(args), groups=groups)
    written = features.save(Path(args.out))
    sizes = ", ".join(f"{split} {values[0].shape}" for split, values in features.splits.items())
    print(f"features ({sizes}) written to {', '.join(map(str, written))}")
    return 0


def _cmd_quickstart(args: argparse.Namespace) -> int:
    from tlcore.quickstart import SMOKE, run

    run(Path(args.out), SMOKE if args.smoke else None)
    return 0


def _add_set(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="override a config value, e.g. --set trainer.epochs=3 (repeatable)")


def _config(args: argparse.Namespace, source: str | Path | None = None) -> Any:
    """The validated config of ``args.config`` (or ``source``) with the ``--set`` overrides."""
    from tlcore.config import load_config

    return load_config(source or args.config, _overrides(args.set))


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
    _add_set(plan)
    plan.set_defaults(func=_cmd_plan)

    train = commands.add_parser("train", help="train from a YAML config (works under torchrun)",
                                description="Build data, model and trainer from CONFIG, train with model selection "
                                "on the validation split, and evaluate on the test split. Under `torchrun "
                                "--nproc_per_node=N -m tlcore train CONFIG` it trains with DDP.")
    train.add_argument("config", nargs="?", help="experiment YAML file (optional with --resume)")
    train.add_argument("--out", help="run directory (default: config run_dir, else runs/run-<time>)")
    train.add_argument("--resume", action="store_true", help="continue the run in --out from its latest checkpoint")
    _add_set(train)
    train.set_defaults(func=_cmd_train)

    evaluate = commands.add_parser("evaluate", help="evaluate a run's best model on one of its splits",
                                   description="Load RUN_DIR's config, split and best checkpoint, and report "
                                   "accuracy, balanced accuracy, macro-F1, ROC-AUC and per-class sensitivity, "
                                   "specificity and precision; writes <split>_report.json and plots.")
    evaluate.add_argument("run_dir", help="a run directory written by tlcore train")
    evaluate.add_argument("--split", choices=["train", "val", "test"], default="test", help="default: test")
    evaluate.set_defaults(func=_cmd_evaluate)

    export = commands.add_parser("export", help="export a run's best model to ONNX, gated on parity",
                                 description="Write one ONNX file (opset 18, dynamic batch) with preprocessing, class "
                                 "names and validation metrics inside. Export fails (exit code 2) when onnxruntime "
                                 "and torch disagree beyond --tolerance on the run's validation images.")
    export.add_argument("run_dir", help="a run directory written by tlcore train")
    export.add_argument("--out", help="output file (default RUN_DIR/model.onnx)")
    export.add_argument("--no-preprocessing", action="store_true",
                        help="take normalised float32 NCHW input instead of raw uint8 images")
    export.add_argument("--layout", choices=["NHWC", "NCHW"], default="NHWC", help="layout of raw input images")
    export.add_argument("--channels", type=int, choices=[1, 3], help="channels of raw input (default: the model's)")
    export.add_argument("--no-probabilities", action="store_true", help="output logits only")
    export.add_argument("--tolerance", type=float, default=1e-3, help="largest allowed |logit difference|")
    export.set_defaults(func=_cmd_export)

    predict = commands.add_parser("predict", help="classify images with an exported ONNX model (no torch needed)",
                                  description="Run a tlcore ONNX model with onnxruntime on image files.")
    predict.add_argument("model", help="an ONNX file written by tlcore export")
    predict.add_argument("images", nargs="+", help="image files")
    predict.add_argument("--out", help="write a CSV of predictions here")
    predict.add_argument("--top-k", type=int, default=1, help="classes per image (default 1)")
    predict.add_argument("--batch-size", type=int, default=32, help="images per run (default 32)")
    predict.add_argument("--provider", choices=["cpu", "cuda"], default="cpu", help="execution provider")
    predict.add_argument("--strict", action="store_true", help="fail if the provider is not active")
    predict.set_defaults(func=_cmd_predict)

    config = commands.add_parser("config", help="print a complete, commented example config",
                                 description="Print a complete YAML config with every field, its default and its "
                                 "description; it validates as printed (after setting data.root).")
    config.add_argument("--example", action="store_true", help="print the example config")
    config.set_defaults(func=_cmd_config)

    backbones = commands.add_parser("backbones", help="list backbone models and where their weights come from",
                                    description="List the models every installed backbone plugin accepts, with "
                                    "pretrained weights available: bundled in a package (offline), on the hub "
                                    "(needs network), or none. Every model also accepts a local weights file.")
    backbones.add_argument("pattern", nargs="?", default="*", help="shell-style pattern, e.g. 'resnet*'")
    backbones.set_defaults(func=_cmd_backbones)

    lr_find = commands.add_parser("lr-find", help="LR range test: plot loss against LR and suggest a rate",
                                  description="Train briefly while the learning rate grows exponentially, plot the "
                                  "smoothed loss against it, and suggest the rate where the loss falls fastest. The "
                                  "policy's first phase decides what trains; weights are not kept.")
    lr_find.add_argument("config", help="experiment YAML file")
    lr_find.add_argument("--out", default="lr_find.png", help="plot file (default lr_find.png)")
    lr_find.add_argument("--steps", type=int, default=80, help="batches to try (default 80)")
    _add_set(lr_find)
    lr_find.set_defaults(func=_cmd_lr_find)

    features = commands.add_parser("features", help="export pooled backbone features of every split",
                                   description="Write pooled features, labels, paths and class names of every split "
                                   "to .npz (and Parquet if pyarrow is installed), for your own scikit-learn code.")
    features.add_argument("config", help="experiment YAML file")
    features.add_argument("--out", default="features.npz", help="output .npz file (default features.npz)")
    features.add_argument("--groups", help="also pooled outputs of these layer groups, comma-separated "
                          "(see tlcore plan for the names)")
    _add_set(features)
    features.set_defaults(func=_cmd_features)

    quickstart = commands.add_parser("quickstart", help="offline demo: scratch vs feature extraction vs gradual "
                                     "unfreezing on real images, then ONNX", description="Train EfficientNet-Lite0 "
                                     "(bundled ImageNet weights) three ways on Animal-MNIST silhouettes, fully "
                                     "offline, print a results table, export the best arm to ONNX and classify "
                                     "held-out images with it.")
    quickstart.add_argument("--out", default="quickstart_run", help="output folder (default quickstart_run)")
    quickstart.add_argument("--smoke", action="store_true", help="a tiny, seconds-long run (for tests)")
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
