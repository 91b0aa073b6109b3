"""`import tlcore` stays fast: no heavy library and no plugin is imported."""

import json
import subprocess
import sys

HEAVY = ("torch", "timm", "torchvision", "onnxruntime", "onnx", "tlcore_timm", "tlcore_torchvision",
         "tlcore_heads", "tlcore_strategies")


def test_import_tlcore_loads_no_heavy_library_or_plugin() -> None:
    code = "import json, sys, time; t = time.perf_counter(); import tlcore; " \
           "print(json.dumps([time.perf_counter() - t, sorted(sys.modules)]))"
    seconds, modules = json.loads(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                                                 text=True).stdout)
    loaded = [m for m in modules if m.split(".")[0] in HEAVY]
    assert not loaded, f"import tlcore imported {loaded}"
    assert seconds < 1.0


def test_public_names_resolve_lazily() -> None:
    import tlcore

    assert tlcore.Trainer.__name__ == "Trainer"
    assert set(tlcore.__all__) <= set(dir(tlcore))
