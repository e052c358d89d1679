"""`make bench`: run every benchmark (or those named) and print their figures.

Usage: ``python -m bench [data] [train] [strategies] [scale] [quality] [quality-heldout]
[gpu] [--trials N]``; ``--trials`` sets the trial count of the quality benches (``quality-heldout``
runs 30 and 60 without it); ``gpu`` runs only when named (the CUDA bench of
:mod:`bench.bench_gpu`). Each benchmark prints ratios against a reference measured in the same
run; nothing here asserts a timing.
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
    "quality-heldout": ("bench.bench_strategies", "heldout"),
    "scale": ("bench.bench_scale", "main"),
    "gpu": ("bench.bench_gpu", "main"),
}
DEFAULT = ("data", "train", "strategies", "quality", "scale")


TRIAL_OPTION = {"quality": "n_trials", "quality-heldout": "trials"}


def main(argv: list[str]) -> int:
    argv = list(argv)
    trials: int | None = None
    if "--trials" in argv:
        at = argv.index("--trials")
        if at + 1 >= len(argv) or not argv[at + 1].isdigit():
            print("--trials needs a positive integer", file=sys.stderr)
            return 2
        trials = int(argv[at + 1])
        del argv[at : at + 2]
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
        kwargs: dict[str, object] = {}
        if trials is not None and name in TRIAL_OPTION:
            kwargs[TRIAL_OPTION[name]] = trials if name == "quality" else (trials,)
        results[name] = getattr(importlib.import_module(module), func)(**kwargs)
        print(f"=== bench {name}: {time.perf_counter() - start:.0f} s ===", flush=True)
    print("\n" + json.dumps(results, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
