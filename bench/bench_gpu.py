"""GPU bench: training samples/s of ``train()`` against the bare torch loop on the same GPU, and
trials/hour of a search, in one prepared run that finishes within 5 minutes.

On the device (``python -m bench gpu``, or ``python bench/bench_gpu.py [cuda|cpu] [--smoke]``):

1. *Same work*: the DeepFM baseline of ``bench_train`` (16-d embeddings, MLP 400-400-400, Adam
   1e-3) on a generated 1,000,000-row, 20-field data set: ``train()`` for one epoch with one
   validation pass against the bare torch DeepFM doing the same, at batch 4096 and 1024, in
   float32 and with ``mixed_precision="bf16"``; best of 2 alternating rounds each.
2. *Trials/hour*: 8 random configurations of the ``aim`` preset on 200,000 generated rows at the
   default search budget (one epoch, four evaluations, the default recipe), one after the other.
3. *Residency*: every training batch is checked to live on the device (no per-batch host copy).

Figures are printed and written as JSON to ``$OUT/bench_gpu.json`` when ``OUT`` is set.
``--smoke`` (tiny sizes) checks the script itself on a machine without CUDA.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import time
from pathlib import Path

import torch

from bench.bench_train import bare_trial
from bench.bench_train import generate
from bench.bench_train import timed_train
from recsearch.objectives import train
from recsearch.spec import baseline

DEADLINE_S = 270.0
"""Stop starting new measurements after this many seconds (the device lends 5 minutes)."""


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _ours(ds, device: torch.device, batch: int, precision: str) -> dict[str, float]:
    rate, result = timed_train(ds, device, batch=batch, precision=precision)
    return {"rows_per_s": rate, "loop_rows_per_s": result.samples_per_second,
            "build_s": result.build_seconds, "first_step_s": result.first_step_seconds,
            "valid_auc": result.valid_auc}


def same_work(ds, device: torch.device, start: float, *, rounds: int = 2) -> list[dict]:
    """``train()`` against the bare loop, one epoch + one validation pass each."""
    rows = []
    for batch in (4096, 1024):
        for precision in ("off", "bf16"):
            if time.perf_counter() - start > DEADLINE_S:
                print(f"deadline: batch {batch} {precision} skipped", flush=True)
                continue
            ours, bare = [], []
            for _ in range(rounds):
                ours.append(_ours(ds, device, batch, precision))
                gc.collect()
                if precision == "off":
                    bare.append(bare_trial(ds, device, batch=batch))
                    gc.collect()
            best = max(ours, key=lambda o: o["rows_per_s"])
            row = {"batch": batch, "precision": precision, **best,
                   "bare_rows_per_s": max(bare) if bare else None}
            if bare:
                row["ratio_vs_bare"] = best["rows_per_s"] / max(bare)
            rows.append(row)
            ratio = f"{row['ratio_vs_bare']:.3f}x bare" if bare else "(bare: float32 only)"
            print(f"batch {batch} {precision}: train() {best['rows_per_s']:,.0f} rows/s "
                  f"(loop {best['loop_rows_per_s']:,.0f}), {ratio}; build {best['build_s']:.2f} s,"
                  f" first step {best['first_step_s'] * 1e3:.1f} ms, valid AUC "
                  f"{best['valid_auc']:.4f}", flush=True)
    return rows


def trials_per_hour(device: torch.device, start: float, *, n_rows: int, n_trials: int) -> dict:
    """Wall time of ``n_trials`` random ``aim`` configurations at the default search budget."""
    import optuna

    from recsearch.data.synthetic import synthetic
    from recsearch.objectives import CTRObjective
    from recsearch.spaces import preset

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    ds = synthetic(n_rows, seed=0)
    space = preset("aim", ds.schema)
    objective = CTRObjective(ds, space, device=str(device), seed=0)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    t0 = time.perf_counter()
    done = 0
    for _ in range(n_trials):
        if time.perf_counter() - start > DEADLINE_S:
            break
        study.optimize(objective, n_trials=1, catch=(Exception,))
        done += 1
    _sync(device)
    wall = time.perf_counter() - t0
    ok = [t for t in study.trials if t.value is not None]
    out = {"trials": done, "complete": len(ok), "seconds": wall,
           "trials_per_hour": 3600.0 * done / wall if wall > 0 else None,
           "best_valid_auc": max((t.value for t in ok), default=None),
           "first_step_s": [t.user_attrs.get("time.first_step_s") for t in ok],
           "build_s": [t.user_attrs.get("time.build_s") for t in ok]}
    print(f"trials/hour ({n_rows:,} rows, aim, default budget): "
          f"{out['trials_per_hour'] or 0:,.0f} ({done} trials in {wall:.1f} s)", flush=True)
    return out


def residency(device: torch.device) -> bool:
    """Every training batch lives on ``device``."""
    from recsearch.data.synthetic import synthetic
    from recsearch.objectives import batching

    seen: list[bool] = []
    real = batching.stream

    def checked(*args, **kwargs):
        for step in real(*args, **kwargs):
            if step.batch is not None:
                label = step.batch["label"]
                seen.append(label.device.type == device.type)
            yield step

    from recsearch.objectives import trainer

    trainer.stream = checked  # type: ignore[assignment]
    try:
        ds = synthetic(5000, seed=1)
        train(baseline("deepfm", ds.schema), ds, 1.0, device=str(device), measure=False)
    finally:
        trainer.stream = real  # type: ignore[assignment]
    ok = bool(seen) and all(seen)
    print(f"residency: {len(seen)} batches, all on {device.type}: {ok}", flush=True)
    return ok


def main(device: str = "auto", *, smoke: bool = False) -> dict:
    """Run the GPU bench; print and return the figures."""
    start = time.perf_counter()
    dev = torch.device("cuda" if device == "auto" and torch.cuda.is_available() else
                       ("cpu" if device == "auto" else device))
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "4")))
    out: dict = {"device": str(dev), "smoke": smoke}
    if dev.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name(dev)
    print(f"bench gpu on {out.get('gpu', dev)}", flush=True)
    out["residency"] = residency(dev)
    ds = generate(60_000 if smoke else 1_000_000)
    out["same_work"] = same_work(ds, dev, start, rounds=1 if smoke else 2)
    del ds
    gc.collect()
    out["search"] = trials_per_hour(dev, start, n_rows=3_000 if smoke else 200_000,
                                    n_trials=2 if smoke else 8)
    out["seconds"] = time.perf_counter() - start
    if os.environ.get("OUT"):
        path = Path(os.environ["OUT"]) / "bench_gpu.json"
        path.write_text(json.dumps(out, indent=2, default=str))
        print(f"wrote {path}")
    print(f"bench gpu: {out['seconds']:.0f} s")
    return out


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    print(json.dumps(main(args[0] if args else "auto", smoke="--smoke" in sys.argv),
                     indent=2, default=str))
