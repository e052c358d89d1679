"""Strategy overhead and search quality.

``main()``: sampler overhead in milliseconds per trial (ask + the bridge's ``suggest``, no
training) at trials 1-50 and 150-200 on the ``full`` preset of a generated schema, with a cheap
stand-in objective. In the same run: Optuna's TPE (the ``tpe`` strategy) and SMAC3's own
hyperparameter-optimization facade driven by ask/tell on the same space, as references. Targets:
``smac`` within 1.5x of the facade; ``autoctr`` and ``nbtree`` under 300 ms; ``random`` and
``evolution`` under 5 ms.

``quality()``: every strategy on the ``autofis`` and ``autofeature`` presets of a generated data
set with planted pairwise interactions (60 trials, 5 seeds by default), through
``CTRObjective``; prints the best validation AUC (median and spread over seeds), the median over
seeds of the mean of the 5 best AUCs (``top5``: less saturated than the single best, which many
configurations reach within the training noise) and the share of planted pairs present in the
best configuration. Long: run ``python -m bench quality``.

The machine is shared: compare ratios within one run, not across runs.
"""

from __future__ import annotations

import logging
import tempfile
import time
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import optuna

from recsearch.data.synthetic import synthetic
from recsearch.errors import ForbiddenConfigurationError
from recsearch.spaces import preset
from recsearch.spaces import suggest
from recsearch.strategies import available
from recsearch.strategies import create

OVERHEAD_STRATEGIES = ("optuna-random", "random", "evolution", "tpe", "nbtree", "autoctr", "smac")
"""``optuna-random`` (Optuna's RandomSampler) is the floor: Optuna's ask/tell plus the bridge's
``suggest`` with no search logic; ``net`` columns subtract it."""
TARGET_MS = {"random": 5.0, "evolution": 5.0, "autoctr": 300.0, "nbtree": 300.0}


def _stand_in_loss(vector: np.ndarray) -> float:
    """A cheap deterministic loss of a configuration vector (NaN = inactive)."""
    active = np.isfinite(vector)
    if not active.any():
        return 1.0
    return float(np.mean((vector[active] - 0.37) ** 2) + 0.1 * (1 - active.mean()))


def _slices(times: Sequence[float]) -> dict[str, float]:
    ms = np.asarray(times) * 1000
    return {
        "ms_1_50": float(np.mean(ms[:50])),
        "ms_150_200": float(np.mean(ms[149:200])) if len(ms) >= 200 else float("nan"),
    }


def _optuna_overhead(name: str, space: Any, n_trials: int, seed: int) -> list[float]:
    if name == "optuna-random":
        study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=seed))
    else:
        study = create(name, space, seed=seed).create_study()
    times = []
    for _ in range(n_trials):
        start = time.perf_counter()
        trial = study.ask()
        try:
            config = suggest(trial, space)
        except ForbiddenConfigurationError:
            times.append(time.perf_counter() - start)
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            continue
        times.append(time.perf_counter() - start)
        study.tell(trial, _stand_in_loss(config.get_array()))
    return times


def _smac_facade_overhead(space: Any, n_trials: int, seed: int) -> list[float]:
    from smac import HyperparameterOptimizationFacade
    from smac import Scenario
    from smac.runhistory.dataclasses import TrialValue

    logging.getLogger("smac").setLevel(logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        scenario = Scenario(
            space, deterministic=True, n_trials=n_trials, seed=seed, output_directory=tmp
        )
        facade = HyperparameterOptimizationFacade(
            scenario, lambda config, seed=0: 0.0, overwrite=True, logging_level=False
        )
        times = []
        for _ in range(n_trials):
            start = time.perf_counter()
            info = facade.ask()
            times.append(time.perf_counter() - start)
            facade.tell(info, TrialValue(cost=_stand_in_loss(info.config.get_array())))
    return times


def main(*, n_trials: int = 200, seed: int = 0) -> dict[str, Any]:
    """Sampler overhead per strategy next to TPE and SMAC3's facade; returns the figures."""
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    dataset = synthetic(2000, seed=seed)
    space = preset("full", dataset.schema)
    print(f"space: full preset, {len(space)} hyperparameters, {n_trials} trials", flush=True)
    results: dict[str, Any] = {"n_hyperparameters": len(space), "n_trials": n_trials}
    rows: dict[str, dict[str, float]] = {}
    _optuna_overhead("optuna-random", space, 20, seed)  # NOTE: warm-up (imports, caches)
    for name in OVERHEAD_STRATEGIES:
        start = time.perf_counter()
        rows[name] = _slices(_optuna_overhead(name, space, n_trials, seed))
        print(f"  {name:10s} done in {time.perf_counter() - start:.0f} s", flush=True)
    start = time.perf_counter()
    rows["smac3-facade"] = _slices(_smac_facade_overhead(space, n_trials, seed))
    print(f"  smac3-facade done in {time.perf_counter() - start:.0f} s", flush=True)
    facade = rows["smac3-facade"]["ms_150_200"]
    tpe = rows["tpe"]["ms_150_200"]
    floor = rows["optuna-random"]
    print(
        f"\n{'strategy':14s} {'ms 1-50':>9s} {'ms 150-200':>11s} {'net 1-50':>9s} "
        f"{'net 150-200':>12s} {'/facade':>8s} {'/tpe':>6s} target (net for own samplers)"
    )
    for name, row in rows.items():
        late = row["ms_150_200"]
        row["net_1_50"] = row["ms_1_50"] - floor["ms_1_50"]
        row["net_150_200"] = late - floor["ms_150_200"]
        target = ""
        if name == "smac":
            target = f"<= 1.5x facade: {'ok' if late <= 1.5 * facade else 'MISSED'}"
        elif name in TARGET_MS:
            worst = max(row["net_1_50"], row["net_150_200"])
            target = f"< {TARGET_MS[name]:.0f} ms: {'ok' if worst < TARGET_MS[name] else 'MISSED'}"
        print(
            f"{name:14s} {row['ms_1_50']:9.1f} {late:11.1f} {row['net_1_50']:9.1f} "
            f"{row['net_150_200']:12.1f} {late / facade:8.2f} {late / tpe:6.2f} {target}"
        )
        row["ratio_to_facade"] = late / facade
        row["ratio_to_tpe"] = late / tpe
    results["overhead"] = rows
    return results


def _planted_share(config: Any, dataset: Any) -> float:
    from recsearch.spaces import decode

    truth = {frozenset(p) for p in dataset.info["ground_truth"]["pairs"]}
    if not truth:
        return float("nan")
    spec = decode(config, dataset.schema)
    pairs = spec.interaction.pairs
    if pairs is None:
        return 1.0
    present = {frozenset(p.fields) for p in pairs}
    return len(truth & present) / len(truth)


def quality(
    *,
    n_trials: int = 60,
    seeds: int = 5,
    strategies: Sequence[str] | None = None,
    presets: Sequence[str] = ("autofis", "autofeature"),
    n_rows: int = 6000,
    epochs: float = 3.0,
    batch_size: int = 256,
    lr: float = 1e-2,
) -> dict[str, Any]:
    """Best validation AUC and planted-pair share per strategy and preset; returns the table.

    The presets fix training; their base spec is given ``batch_size`` and ``lr`` here so that a
    few thousand rows train in a few epochs (the preset default of batch 4096 takes one step).
    """
    import dataclasses

    import torch

    from recsearch.objectives.objective import CTRObjective
    from recsearch.objectives.trainer import Budget
    from recsearch.spaces import configuration_from_trial
    from recsearch.spaces import default_base

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    warnings.simplefilter("ignore")
    names = list(strategies) if strategies is not None else [n for n in available() if n != "gp"]
    dataset = synthetic(n_rows, n_categorical=8, max_vocab=200, seed=0)
    print(f"planted pairs: {dataset.info['ground_truth']['pairs']}", flush=True)
    table: dict[str, Any] = {}
    for preset_name in presets:
        space = preset(preset_name, dataset.schema)
        base = default_base(space)
        base = dataclasses.replace(
            base, training=dataclasses.replace(base.training, batch_size=batch_size, lr=lr)
        )
        print(f"\n{preset_name}: {len(space)} hyperparameters", flush=True)
        print(
            f"{'strategy':12s} {'AUC median':>10s} {'spread':>8s} {'top5':>8s} {'planted':>8s} "
            f"{'s':>6s}"
        )
        for name in names:
            start = time.perf_counter()
            aucs, top5s, shares = [], [], []
            for seed in range(seeds):
                objective = CTRObjective(
                    dataset,
                    space,
                    budget=Budget(epochs=epochs, eval_every=1.0),
                    device="cpu",
                    seed=seed,
                    base=base,
                )
                study = create(name, space, seed=seed).create_study(direction="maximize")
                study.optimize(objective, n_trials=n_trials, catch=(Exception,))
                done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
                if not done:
                    continue
                best = max(done, key=lambda t: t.value)
                aucs.append(float(best.value))
                top5s.append(float(np.mean(sorted(t.value for t in done)[-5:])))
                shares.append(_planted_share(configuration_from_trial(best, space), dataset))
            row = {
                "auc_median": float(np.median(aucs)) if aucs else float("nan"),
                "auc_spread": float(np.max(aucs) - np.min(aucs)) if aucs else float("nan"),
                "top5_median": float(np.median(top5s)) if top5s else float("nan"),
                "planted_share": float(np.mean(shares)) if shares else float("nan"),
                "seconds": time.perf_counter() - start,
            }
            table[f"{preset_name}/{name}"] = row
            print(
                f"{name:12s} {row['auc_median']:10.4f} {row['auc_spread']:8.4f} "
                f"{row['top5_median']:8.4f} {row['planted_share']:8.2f} {row['seconds']:6.0f}",
                flush=True,
            )
    return table


if __name__ == "__main__":  # pragma: no cover
    main()
