"""How long `import tlcore` takes, against `import torch`, each in a fresh interpreter.

Prints one line per measurement, then a JSON line with the medians.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys


def seconds(statement: str) -> float:
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    return float(subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout)


def main(repeats: int = 5) -> None:
    tlcore = statistics.median(seconds("import tlcore") for _ in range(repeats))
    torch = statistics.median(seconds("import torch") for _ in range(repeats))
    print(f"import tlcore: {tlcore * 1000:.1f} ms (median of {repeats})")
    print(f"import torch:  {torch * 1000:.1f} ms (median of {repeats})")
    print(json.dumps({"benchmark": "import_time", "tlcore_ms": round(tlcore * 1000, 1),
                      "torch_ms": round(torch * 1000, 1), "ratio": round(tlcore / torch, 4)}))


if __name__ == "__main__":
    main()
