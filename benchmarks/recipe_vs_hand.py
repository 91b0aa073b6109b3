"""tlcore's default recipe against a hand-written timm fine-tune, on real images, in one run.

Data: the quickstart's Animal-MNIST silhouettes (see tlcore.sample_data), one stratified split
shared by both sides. Backbone: EfficientNet-Lite0 with the bundled ImageNet weights, at the
weights' own input size. Both sides read the same datasets (light augmentation for training).

* hand: timm's default head initialisation, AdamW (backbone 3e-4, head 3e-3), per-step cosine,
  NCHW, no denormal flush, a fixed number of epochs.
* tlcore: a config that names only the backbone and the data (the default recipe), stopped once
  it has used the hand script's total wall time.

Reports test accuracy, balanced accuracy and macro-F1 of both, and the wall time tlcore needed
to first reach the hand script's final validation accuracy as a fraction of the hand script's
total time. Training time only: model building and data preparation are excluded on both sides.
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch


def hand_script(data: Any, epochs: int, batch_size: int, seed: int) -> tuple[torch.nn.Module, list[tuple[float, float]],
                                                                            float]:
    """The script a user would write with timm and PyTorch."""
    import timm
    from tlcore_timm.bundled import BUNDLED

    torch.manual_seed(seed)
    model = timm.create_model("tf_efficientnet_lite0", num_classes=len(data.classes))
    state = {k: v for k, v in BUNDLED["tf_efficientnet_lite0"].load().items() if not k.startswith("classifier.")}
    model.load_state_dict(state, strict=False)
    head = list(model.get_classifier().parameters())
    head_ids = {id(p) for p in head}
    body = [p for p in model.parameters() if id(p) not in head_ids]
    optimizer = torch.optim.AdamW([{"params": body, "lr": 3e-4}, {"params": head, "lr": 3e-3}], weight_decay=0.01)
    loader = torch.utils.data.DataLoader(data.train, batch_size=batch_size, shuffle=True,
                                         generator=torch.Generator().manual_seed(seed))
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs * len(loader))
    timeline = []
    started = time.perf_counter()
    for _ in range(epochs):
        model.train()
        for images, labels in loader:
            loss = torch.nn.functional.cross_entropy(model(images), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        timeline.append((time.perf_counter() - started, accuracy(model, data.val)))
    return model, timeline, time.perf_counter() - started


@torch.no_grad()
def accuracy(model: torch.nn.Module, dataset: Any) -> float:
    model.eval()
    correct = total = 0
    for images, labels in torch.utils.data.DataLoader(dataset, batch_size=64):
        correct += int((model(images).argmax(1) == labels).sum())
        total += len(labels)
    return correct / total


def test_metrics(model: torch.nn.Module, dataset: Any) -> dict[str, float]:
    from tlcore.trainer import Trainer

    report = Trainer().evaluate(model, dataset)
    return {"accuracy": report.accuracy, "balanced_accuracy": report.balanced_accuracy, "macro_f1": report.macro_f1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--per-class", type=int, default=80)
    parser.add_argument("--val-per-class", type=int, default=10)
    parser.add_argument("--test-per-class", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=8, help="the hand script's fixed epochs")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from tlcore import Callback, Trainer, build_model, load_config
    from tlcore.data import prepare_data
    from tlcore.sample_data import write_animal_folder

    root = write_animal_folder(Path(tempfile.mkdtemp()) / "animals", args.per_class)
    config = load_config({"backbone": {"name": "timm", "model": "tf_efficientnet_lite0"},
                          "data": {"root": str(root), "val_fraction": args.val_per_class / args.per_class,
                                   "test_fraction": args.test_per_class / args.per_class}})
    model = build_model(config, num_classes=10)
    data = prepare_data(config.data, model.backbone.data_config)  # type: ignore[arg-type]
    size = model.backbone.data_config.input_size
    print(f"{len(data.train)} train / {len(data.val or [])} val / {len(data.test or [])} test images at "
          f"{size[1]} px, {torch.get_num_threads()} threads")

    hand_model, hand_timeline, hand_seconds = hand_script(data, args.epochs, args.batch_size, seed=0)
    hand_val = hand_timeline[-1][1]
    hand_test = test_metrics(hand_model, data.test)
    print(f"hand:   {args.epochs} epochs in {hand_seconds:.1f} s, final val accuracy {hand_val:.3f}, test {hand_test}")
    torch.set_flush_denormal(False)

    class Timeline(Callback):
        def __init__(self) -> None:
            self.points: list[tuple[float, float]] = []

        def on_fit_start(self, trainer: Any, model: Any) -> None:
            self.started = time.perf_counter()

        def on_epoch_end(self, trainer: Any, model: Any, record: dict[str, Any]) -> None:
            self.points.append((time.perf_counter() - self.started, record["val_accuracy"]))
            if self.points[-1][0] >= hand_seconds:
                trainer.should_stop = True  # the same wall-clock budget as the hand script

    timeline = Timeline()
    trainer = Trainer.from_config(config, [timeline])
    trainer.fit(model, data.train, data.val)
    tlcore_test = test_metrics(model, data.test)
    reached = next((t for t, acc in timeline.points if acc >= hand_val), math.inf)
    ratio = reached / hand_seconds
    print(f"tlcore: {len(timeline.points)} epochs in {timeline.points[-1][0]:.1f} s, best val accuracy "
          f"{max(a for _, a in timeline.points):.3f}, test {tlcore_test}")
    print(f"tlcore reached the hand script's final val accuracy ({hand_val:.3f}) after {reached:.1f} s: "
          f"{ratio:.2f} of the hand script's {hand_seconds:.1f} s")
    print(json.dumps({"benchmark": "recipe_vs_hand", "time_to_hand_accuracy_ratio": round(ratio, 3),
                      "acc_hand": hand_test["accuracy"], "acc_tlcore": tlcore_test["accuracy"],
                      "balanced_acc_hand": hand_test["balanced_accuracy"],
                      "balanced_acc_tlcore": tlcore_test["balanced_accuracy"],
                      "macro_f1_hand": hand_test["macro_f1"], "macro_f1_tlcore": tlcore_test["macro_f1"],
                      "hand_seconds": round(hand_seconds, 1), "hand_final_val_accuracy": hand_val,
                      "tlcore_timeline": [(round(t, 1), a) for t, a in timeline.points],
                      "hand_timeline": [(round(t, 1), a) for t, a in hand_timeline],
                      "image_size": size[1], "train_images": len(data.train)}))


if __name__ == "__main__":
    main()
