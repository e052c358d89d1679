"""`make bench`: run every benchmark (or those named) and print their figures.

Usage: ``python -m bench [data] [train] [strategies] [scale] [quality] [gpu]`` (``gpu`` only
when named: the CUDA bench of :mod:`bench.bench_gpu`). Each benchmark prints
ratios against a reference measured in the same run; nothing here asserts a timing.
"""

from __future__ import annotations

import importlib
import json
import sys
import time

SUITES = {
    "data": ("bench.bench_data", "main"),
    "train": ("bench.bench_train", "main"),
    "strategies": ("bench.bench_strategies", "main"),
    "quality": ("bench.bench_strategies", "quality"),
    "scale": ("bench.bench_scale", "main"),
    "gpu": ("bench.bench_gpu", "main"),
}
DEFAULT = ("data", "train", "strategies", "quality", "scale")


def main(argv: list[str]) -> int:
    names = argv or list(DEFAULT)
    unknown = [n for n in names if n not in SUITES]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; choose from {sorted(SUITES)}", file=sys.stderr)
        return 2
    results = {}
    for name in names:
        module, func = SUITES[name]
        print(f"\n=== bench {name} ===", flush=True)
        start = time.perf_counter()
        results[name] = getattr(importlib.import_module(module), func)()
        print(f"=== bench {name}: {time.perf_counter() - start:.0f} s ===", flush=True)
    print("\n" + json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
