"""torch eager against onnxruntime, and OnnxPredictor against a raw InferenceSession.

EfficientNet-Lite0 with its bundled ImageNet weights and a head fine-tuned for a few epochs
(feature extraction on crops of scikit-image's texture photographs), exported with
preprocessing inside (uint8 NHWC in, logits and probabilities out). Latencies are medians
over repeated runs on the same inputs, all in one process. Pass --provider cuda on a GPU
machine to time onnxruntime's CUDA provider (strict: it fails rather than fall back).
The last line is JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch


def median_ms(call: Callable[[], Any], repeats: int, warmup: int = 3) -> float:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        call()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def fine_tuned_model(size: int) -> Any:
    from tlcore import Trainer, build_model, load_config
    from tlcore.sample_data import normalised, texture_crops

    config = load_config({"backbone": {"name": "timm", "model": "tf_efficientnet_lite0"},
                          "policy": "feature_extraction", "num_classes": 3,
                          "trainer": {"epochs": 5, "lr": 0.01, "device": "cpu", "progress": "none"}})
    model = build_model(config)
    train, _ = texture_crops(size, 20, 0)
    Trainer.from_config(config).fit(model, normalised(train, model.backbone.data_config))
    return model.eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--provider", choices=["cpu", "cuda"], default="cpu")
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import onnxruntime as ort

    from tlcore.export import PreprocessingWrapper, export_onnx
    from tlcore.predictor import OnnxPredictor

    model = fine_tuned_model(args.size)
    data_config = model.backbone.data_config.model_copy(update={"input_size": (3, args.size, args.size)})
    generator = torch.Generator().manual_seed(0)
    images = {b: torch.randint(0, 256, (b, args.size, args.size, 3), dtype=torch.uint8, generator=generator)
              for b in (1, 32)}
    path = Path(tempfile.mkdtemp()) / "lite0.onnx"
    report = export_onnx(model, path, data_config, ["brick", "grass", "gravel"], images[32][:8])
    providers = ["CUDAExecutionProvider"] if args.provider == "cuda" else ["CPUExecutionProvider"]
    predictor = OnnxPredictor(path, providers=providers, strict=True)
    session = ort.InferenceSession(str(path), providers=providers)
    wrapper = PreprocessingWrapper(model, data_config).eval()
    device = torch.device("cuda" if args.provider == "cuda" else "cpu")
    wrapper.to(device)
    results: dict[str, Any] = {"benchmark": "onnx_latency", "provider": predictor.providers[0], "size": args.size,
                               "threads": torch.get_num_threads(),
                               "parity_max_abs_logit_diff": report.max_abs_logit_diff}
    for batch, tensor in images.items():
        array = tensor.numpy()
        on_device = tensor.to(device)

        def eager(x: torch.Tensor = on_device) -> None:
            with torch.inference_mode():
                wrapper(x)
            if device.type == "cuda":
                torch.cuda.synchronize()

        repeats = args.repeats if batch == 1 else max(5, args.repeats // 4)
        torch_ms = median_ms(eager, repeats)
        raw_ms = median_ms(lambda a=array: session.run(None, {"images": a}), repeats)
        predictor_ms = median_ms(lambda a=array: predictor.run(a), repeats)
        results[f"torch_ms_b{batch}"] = round(torch_ms, 2)
        results[f"onnxruntime_ms_b{batch}"] = round(raw_ms, 2)
        results[f"predictor_ms_b{batch}"] = round(predictor_ms, 2)
        results[f"torch_over_onnxruntime_b{batch}"] = round(torch_ms / raw_ms, 2)
        results[f"predictor_overhead_b{batch}"] = round(predictor_ms / raw_ms, 3)
        print(f"batch {batch:>2}: torch eager {torch_ms:8.2f} ms   onnxruntime {raw_ms:8.2f} ms   "
              f"OnnxPredictor.run {predictor_ms:8.2f} ms   torch/ort {torch_ms / raw_ms:.2f}x   "
              f"predictor/raw {predictor_ms / raw_ms:.3f}")
    print(json.dumps(results))


if __name__ == "__main__":
    main()
