"""Trainer throughput and quality: recsearch's DeepFM next to bare torch and DeepCTR-Torch.

Same work (the headline ratio, bar >= 0.95): ``train()`` at the spec's batch size (1024) against
the bare torch loop (fused Adam, as ``train()`` uses), both building the model, training one
epoch and scoring the validation split once, on a generated 280,000-row data set (240,000
training rows). Twice: with gradient clipping off on both sides, and with the spec's default
``grad_clip=10`` on both (a norm over every embedding gradient each step, ~14% of a step here, so
the bare loop clips too). After one warm-up build, 3 alternating rounds each; best and median
ratios; it also prints model-build and first-step time.

Throughput (``BENCH_TRAIN=all``): the DeepFM baseline (16-d embeddings, MLP 400-400-400, batch
4096, Adam 1e-3) trains one epoch on a generated 1,000,000-row, 20-field data set
(vocabularies ``100,000 / rank`` over the fields, Zipf-distributed values). In the same run, on
the same arrays:

- a bare hand-written torch DeepFM: one fused embedding gather, FM by the square of the sum,
  batches sliced from pre-shuffled tensors, plain ``torch.optim.Adam``, nothing else;
- DeepCTR-Torch 0.3.0's DeepFM (``fit``, ``verbose=0``). FuxiCTR 2.3.10's wheel lacks DeepFM, so
  the maintained-library reference is DeepCTR-Torch. It is installed for the bench only:
  ``.venv/bin/pip install --no-deps --target .bench-deps deepctr-torch==0.3.0``; without it that
  row is skipped.

Quality: the DeepFM baseline on MovieLens-100K (seeded random 80/10/10), up to 10 epochs with
early stopping, reports its best validation AUC (the bar: >= 0.785).

Samples per second count training steps and the per-epoch shuffle, not data generation, model
construction or evaluation. Run: ``python -m bench train`` (``device`` argument of :func:`main`
for CUDA). The machine is shared: compare ratios within one run, not across runs.
"""

from __future__ import annotations

import gc
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from recsearch.data.schema import Dataset
from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.data.schema import Split
from recsearch.objectives import Budget
from recsearch.objectives import Recipe
from recsearch.objectives import TrainResult
from recsearch.objectives import train
from recsearch.spec import HeadSpec
from recsearch.spec import TrainingSpec
from recsearch.spec import baseline

ROOT = Path(__file__).resolve().parents[1]
BENCH_DEPS = ROOT / ".bench-deps"
N_ROWS = 1_000_000
N_FIELDS = 20
MAX_VOCAB = 100_000
DIM = 16
HIDDEN = (400, 400, 400)
BATCH = 4096
LR = 1e-3
MOVIELENS_EPOCHS = 10
AS_NAMED = Recipe(min_steps=0)
"""Same work means the spec's batch size: the recipe's minimum steps never shrink it here."""


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def generate(n_rows: int = N_ROWS, *, seed: int = 0) -> Dataset:
    """The throughput data set: Zipf vocabularies and values, a planted logistic label."""
    rng = np.random.default_rng(seed)
    vocab = [max(10, MAX_VOCAB // (f + 1)) for f in range(N_FIELDS)]
    cat = np.empty((n_rows, N_FIELDS), dtype=np.int64)
    logit = np.full(n_rows, -1.0)
    for f, v in enumerate(vocab):
        p = np.arange(1, v, dtype=np.float64) ** -1.1
        cdf = np.cumsum(p / p.sum())
        col = np.searchsorted(cdf, rng.random(n_rows), side="right") + 1
        cat[:, f] = np.minimum(col, v - 1)
        if f < 5:
            logit += rng.standard_normal(v)[cat[:, f]] * 0.5
    label = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
    n_valid = 20_000
    n_train = n_rows - 2 * n_valid
    parts = [slice(0, n_train), slice(n_train, n_train + n_valid), slice(n_train + n_valid, None)]
    splits = [Split(cat[s], np.zeros((len(label[s]), 0), np.float32), (), label[s]) for s in parts]
    fields = tuple(
        Field(f"f{f}", "categorical", v, np.bincount(cat[:n_train, f], minlength=v))
        for f, v in enumerate(vocab)
    )
    return Dataset("bench-1m", Schema("label", fields), *splits)


class BareDeepFM(nn.Module):
    """The floor: one fused gather, FM by the square of the sum, an MLP, nothing else."""

    def __init__(self, vocab: list[int], dim: int, hidden: tuple[int, ...]) -> None:
        super().__init__()
        self.register_buffer("offsets", torch.tensor(np.cumsum([0] + vocab[:-1])))
        self.emb = nn.Embedding(sum(vocab), dim)
        nn.init.normal_(self.emb.weight, std=1e-2)
        self.lin = nn.Embedding(sum(vocab), 1)
        nn.init.zeros_(self.lin.weight)
        self.bias = nn.Parameter(torch.zeros(1))
        layers: list[nn.Module] = []
        width = len(vocab) * dim
        for h in hidden:
            layers += [nn.Linear(width, h), nn.ReLU()]
            width = h
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        idx = x + self.offsets
        e = self.emb(idx)
        s = e.sum(1)
        fm = 0.5 * (s * s - (e * e).sum(1)).sum(1)
        return self.bias + self.lin(idx).sum((1, 2)) + fm + self.mlp(e.flatten(1)).squeeze(1)


def bare_epoch(ds: Dataset, device: torch.device, *, seed: int = 0) -> float:
    """Samples per second of one epoch of the bare DeepFM."""
    torch.manual_seed(seed)
    vocab = [f.vocab_size for f in ds.schema.fields]
    model = BareDeepFM(vocab, DIM, HIDDEN).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    x_all = torch.from_numpy(ds.train.categorical).to(device)
    y_all = torch.from_numpy(ds.train.label).to(device)
    n = x_all.shape[0]
    _sync(device)
    start = time.perf_counter()
    _bare_loop(model, opt, x_all, y_all, batch=BATCH)
    _sync(device)
    return n / (time.perf_counter() - start)


def _bare_loop(
    model: nn.Module, opt: torch.optim.Optimizer, x_all: torch.Tensor, y_all: torch.Tensor, *,
    batch: int, grad_clip: float = 0.0,
) -> None:
    """One shuffled epoch of plain steps (``grad_clip > 0``: ``clip_grad_norm_`` each step)."""
    loss_fn = nn.BCEWithLogitsLoss()
    perm = torch.randperm(x_all.shape[0], device=x_all.device)
    x, y = x_all[perm], y_all[perm]
    for i in range(0, x.shape[0], batch):
        loss = loss_fn(model(x[i : i + batch]), y[i : i + batch])
        opt.zero_grad()
        loss.backward()
        if grad_clip > 0:
            nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()


def bare_trial(
    ds: Dataset, device: torch.device, *, batch: int, seed: int = 0, grad_clip: float = 0.0
) -> float:
    """Rows per second of the bare loop doing a trial's work: build, one epoch, one validation;
    ``grad_clip > 0`` clips the gradient norm each step, as ``train()`` does."""
    _sync(device)
    start = time.perf_counter()
    torch.manual_seed(seed)
    vocab = [f.vocab_size for f in ds.schema.fields]
    model = BareDeepFM(vocab, DIM, HIDDEN).to(device)
    # NOTE: fused Adam, as train() uses: the ratio measures the trainer, not the optimizer.
    opt = torch.optim.Adam(model.parameters(), lr=LR, fused=True)
    x_all = torch.from_numpy(ds.train.categorical).to(device)
    y_all = torch.from_numpy(ds.train.label).to(device)
    n = x_all.shape[0]
    _bare_loop(model, opt, x_all, y_all, batch=batch, grad_clip=grad_clip)
    xv = torch.from_numpy(ds.valid.categorical).to(device)
    with torch.inference_mode():
        model.eval()
        p = torch.sigmoid(model(xv))
    float(p.mean())
    _sync(device)
    return n / (time.perf_counter() - start)


def timed_train(
    ds: Dataset, device: torch.device, *, batch: int, precision: str = "off",
    grad_clip: float = 0.0,
) -> tuple[float, TrainResult]:
    """Rows per second of the whole ``train()`` call at ``batch`` (one epoch, one evaluation),
    and its result. ``grad_clip=0`` by default: the bare loop does not clip either."""
    spec = baseline("deepfm", ds.schema, embedding_dim=DIM, head=HeadSpec(widths=HIDDEN),
                    training=TrainingSpec(optimizer="adam", lr=LR, batch_size=batch,
                                          grad_clip=grad_clip,
                                          mixed_precision=precision))  # type: ignore[arg-type]
    _sync(device)
    start = time.perf_counter()
    result = train(spec, ds, Budget(epochs=1.0, recipe=AS_NAMED), device=str(device),
                   measure=False)
    _sync(device)
    return len(ds.train) / (time.perf_counter() - start), result


def recsearch_trial(
    ds: Dataset, device: torch.device, *, batch: int, grad_clip: float = 0.0
) -> tuple[float, float, float]:
    """Rows per second of ``train()`` doing a trial's work; its build and first-step seconds."""
    rate, result = timed_train(ds, device, batch=batch, grad_clip=grad_clip)
    return rate, result.build_seconds, result.first_step_seconds


def same_work(
    ds: Dataset, device: torch.device, *, batch: int = 1024, rounds: int = 3,
    clips: tuple[float, ...] = (0.0, TrainingSpec().grad_clip),
) -> dict:
    """``train()`` against the bare loop, both doing one epoch plus one validation pass at the
    spec's batch size, once with clipping off on both sides and once with the spec's default
    ``grad_clip`` on both (the bare loop then calls ``clip_grad_norm_`` each step, as
    ``train()`` does). A warm-up build comes first (the first model built in a process pays
    one-off allocator and import costs); then ``rounds`` alternating runs each, best and median."""
    timed_train(ds, device, batch=batch)
    gc.collect()
    out: dict = {"batch": batch}
    for clip in clips:
        ours: list[tuple[float, float, float]] = []
        bare: list[float] = []
        for r in range(rounds):
            ours.append(recsearch_trial(ds, device, batch=batch, grad_clip=clip))
            gc.collect()
            bare.append(bare_trial(ds, device, batch=batch, grad_clip=clip))
            gc.collect()
            print(f"same work (grad_clip {clip:g}), round {r + 1}: train() {ours[-1][0]:,.0f} "
                  f"rows/s (build {ours[-1][1]:.3f} s, first step {ours[-1][2] * 1e3:.1f} ms); "
                  f"bare {bare[-1]:,.0f} rows/s", flush=True)
        best, ref = max(o[0] for o in ours), max(bare)
        # NOTE: a round's two runs are neighbours in time: the ratio of each round, then the
        # median, so a burst of load from other processes falls on both sides of one ratio.
        med = float(np.median([o[0] / b for o, b in zip(ours, bare, strict=True)]))
        print(f"train() / bare loop, one epoch + one validation at batch {batch}, grad_clip "
              f"{clip:g} on both: {best / ref:.3f}x best of {rounds}, {med:.3f}x median round "
              f"(bar >= 0.95)")
        key = "clip_off" if clip == 0 else "clip_default"
        out[key] = {"grad_clip": clip, "train_rows_per_s": best, "bare_rows_per_s": ref,
                    "ratio": best / ref, "median_ratio": med,
                    "build_s": min(o[1] for o in ours),
                    "first_step_s": min(o[2] for o in ours)}
    return out


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def recsearch_epoch(ds: Dataset, device: torch.device) -> tuple[float, float, float]:
    """Samples per second of one epoch of the recsearch DeepFM baseline; also its valid AUC."""
    spec = baseline(
        "deepfm",
        ds.schema,
        embedding_dim=DIM,
        head=HeadSpec(widths=HIDDEN),
        training=TrainingSpec(optimizer="adam", lr=LR, batch_size=BATCH),
    )
    start = time.perf_counter()
    result = train(spec, ds, Budget(epochs=1.0), device=str(device), measure=False)
    wall = time.perf_counter() - start
    return result.samples_per_second, len(ds.train) / wall, result.valid_auc


def deepctr_epoch(ds: Dataset, device: torch.device) -> float | None:
    """Samples per second of DeepCTR-Torch's DeepFM ``fit`` (``None`` when not installed)."""
    if BENCH_DEPS.is_dir() and str(BENCH_DEPS) not in sys.path:
        sys.path.insert(0, str(BENCH_DEPS))
    try:
        from deepctr_torch.inputs import SparseFeat
        from deepctr_torch.models import DeepFM
    except ImportError as exc:
        print(f"DeepCTR-Torch not importable ({exc}); install it into {BENCH_DEPS}")
        return None
    columns = [SparseFeat(f.name, f.vocab_size, embedding_dim=DIM) for f in ds.schema.fields]
    model = DeepFM(
        columns, columns, dnn_hidden_units=HIDDEN, task="binary", device=str(device), seed=0
    )
    model.compile(torch.optim.Adam(model.parameters(), lr=LR), "binary_crossentropy")
    x = {f.name: ds.train.categorical[:, j] for j, f in enumerate(ds.schema.fields)}
    start = time.perf_counter()
    model.fit(x, ds.train.label, batch_size=BATCH, epochs=1, verbose=0)
    _sync(device)
    return len(ds.train) / (time.perf_counter() - start)


MOVIELENS_TRAINING = TrainingSpec(epochs=MOVIELENS_EPOCHS)
"""The DeepFM baseline's own training (batch 1024, the recipe's learning rate, patience 2) for up
to 10 epochs. Batch 4096 would give only 20 steps an epoch on the 80,000 training rows."""


def movielens(device: torch.device) -> dict[str, float | str] | None:
    """The DeepFM baseline on MovieLens-100K: best validation AUC within 10 epochs."""
    from recsearch.data import load

    try:
        ds = load("movielens-100k")
    except Exception as exc:  # noqa: BLE001 - the bench goes on without the download
        print(f"MovieLens-100K unavailable ({type(exc).__name__}: {exc}); skipped")
        return None
    spec = baseline("deepfm", ds.schema, training=MOVIELENS_TRAINING)
    start = time.perf_counter()
    result = train(spec, ds, device=str(device), seed=0, measure=False, evaluate_test=True)
    return {
        "valid_auc": result.valid_auc,
        "max_valid_auc": max(h.valid_auc for h in result.history),
        "test_auc": result.test_auc,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_step,
        "seconds": time.perf_counter() - start,
        "training": str(spec.training),
    }


SAME_WORK_ROWS = 280_000
"""240,000 training rows: the trial size of the issue's measurement."""


def main(
    device: str = "cpu", *, n_rows: int = N_ROWS, rounds: int = 2, with_movielens: bool = True,
    with_throughput: bool | None = None,
) -> dict:
    """Run the same-work ratio, the throughput comparison (``BENCH_TRAIN=all``) and the
    MovieLens quality check; print and return figures."""
    dev = torch.device(device)
    torch.set_num_threads(int(os.environ.get("BENCH_THREADS", "2")))
    small = generate(SAME_WORK_ROWS)
    out: dict = {"same_work": same_work(small, dev, batch=TrainingSpec().batch_size)}
    del small
    if with_throughput is None:
        with_throughput = os.environ.get("BENCH_TRAIN", "") == "all"
    if not with_throughput:
        if with_movielens:
            out["movielens"] = movielens(dev)
        return out
    t0 = time.perf_counter()
    ds = generate(n_rows)
    print(f"generated {len(ds):,} rows x {N_FIELDS} fields in {time.perf_counter() - t0:.1f} s "
          f"(vocab {sum(f.vocab_size for f in ds.schema.fields):,}); device {dev}")
    out.update(device=str(dev), threads=torch.get_num_threads(), rows=len(ds.train))
    # NOTE: the contenders alternate for `rounds` rounds and each keeps its best epoch, so a
    # burst of load from other processes does not decide the ratios.
    rs_runs: list[tuple[float, float, float]] = []
    bare_runs: list[float] = []
    lib_runs: list[float] = []
    for r in range(rounds):
        rs_runs.append(recsearch_epoch(ds, dev))
        gc.collect()
        bare_runs.append(bare_epoch(ds, dev))
        gc.collect()
        lib = deepctr_epoch(ds, dev)
        gc.collect()
        if lib is not None:
            lib_runs.append(lib)
        print(f"round {r + 1}: recsearch {rs_runs[-1][0]:,.0f} samples/s (whole train() call "
              f"{rs_runs[-1][1]:,.0f}/s, valid AUC {rs_runs[-1][2]:.4f}); bare torch "
              f"{bare_runs[-1]:,.0f}; DeepCTR-Torch "
              f"{'-' if lib is None else f'{lib:,.0f}'}", flush=True)
    rs = max(r[0] for r in rs_runs)
    rs_wall = max(r[1] for r in rs_runs)
    bare = max(bare_runs)
    lib = max(lib_runs) if lib_runs else None
    out.update(
        recsearch_samples_per_s=rs,
        recsearch_wall_samples_per_s=rs_wall,
        bare_samples_per_s=bare,
        deepctr_samples_per_s=lib,
        ratio_vs_bare=rs / bare,
        ratio_vs_deepctr=rs / lib if lib else None,
        peak_rss_mib=_peak_rss_mib(),
        rounds=rounds,
    )
    print(f"best of {rounds}: recsearch {rs:,.0f}, bare torch {bare:,.0f}, DeepCTR-Torch "
          f"{'-' if lib is None else f'{lib:,.0f}'} samples/s")
    print(f"recsearch / bare torch = {rs / bare:.2f}x (target >= 0.85)")
    if lib:
        print(f"recsearch / DeepCTR-Torch = {rs / lib:.2f}x (target >= 1.25)")
    print(f"peak RSS {out['peak_rss_mib']:,.0f} MiB")
    del ds
    gc.collect()
    if with_movielens:
        ml = movielens(dev)
        out["movielens"] = ml
        if ml is not None:
            print(f"MovieLens-100K DeepFM: best valid AUC {ml['valid_auc']:.4f} at epoch "
                  f"{ml['best_epoch']:.0f} of {ml['epochs_run']:.0f} (max over epochs "
                  f"{ml['max_valid_auc']:.4f}, test AUC "
                  f"{ml['test_auc']:.4f}, {ml['seconds']:.0f} s; bar >= 0.785)")
    return out


if __name__ == "__main__":
    import json

    print(json.dumps(main(*sys.argv[1:2]), indent=2, default=str))
