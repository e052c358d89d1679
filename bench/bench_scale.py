"""Load test of the study runner: many `recsearch worker` processes on one storage.

For each storage (PostgreSQL from ``scripts/postgres.sh``, and the local default, a journal file)
and each strategy (``tpe``, ``smac``), ``WORKERS`` worker processes (8) run ``TRIALS`` trials (400)
of a cheap stand-in objective on the ``autofis`` space of a generated schema (8 categorical
fields, 28 pair bits). The stand-in sleeps ``TRIAL_S`` seconds and scores a configuration by the
planted interaction pairs it switches on (plus seeded noise), so the figures are about the
storage and the samplers, not training.

Reported per run: trials per second (counted trials over the wall time from the first trial's
start to the last one's end, and over the whole run including process start), storage errors
(worker processes that died, failed trials that are not ``surplus``, and error lines in the
workers' stderr; target 0), duplicate configurations among the counted trials, and the trials
beyond the target (surplus trials, expected 0 or a few).

Run: ``python -m bench scale`` (environment ``RECSEARCH_BENCH_SCALE_TRIALS`` /
``RECSEARCH_BENCH_SCALE_WORKERS`` shrink it). The machine is shared: compare rows of one run.
"""

from __future__ import annotations

import math
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from recsearch.testing import StandInObjective

ROOT = Path(__file__).resolve().parents[1]
TRIALS = int(os.environ.get("RECSEARCH_BENCH_SCALE_TRIALS", "400"))
WORKERS = int(os.environ.get("RECSEARCH_BENCH_SCALE_WORKERS", "8"))
TRIAL_S = 0.02
STRATEGIES = ("tpe", "smac")
ERROR_WORDS = ("Error", "error:", "Traceback", "locked", "deadlock")


def bench_dataset(n_rows: int = 2000, seed: int = 0) -> Any:
    """The generated data set whose schema the space is built on."""
    from recsearch.data import synthetic

    return synthetic(n_rows, n_categorical=8, n_numeric=1, max_vocab=50, seed=seed)


class CheapObjective(StandInObjective):
    """Stand-in with CTRObjective's signature: no training, a score from the planted pairs."""

    def __call__(self, trial: optuna.Trial) -> float:
        from recsearch.spaces import suggest

        config = dict(suggest(trial, self.space))
        truth = self.dataset.info.get("ground_truth", {})
        planted = {tuple(sorted(p)) for p in truth.get("pairs", [])}
        hits = 0.0
        for key, value in config.items():
            if key.startswith("inter.") and value in (True, "True", 1, "on"):
                pair = tuple(sorted(key[len("inter.") :].split("-")))
                hits += 1.0 if pair in planted else -0.2
        time.sleep(TRIAL_S)
        rng = random.Random(trial.number * 7919 + self.seed)
        value = 0.6 + 0.02 * hits + rng.gauss(0.0, 0.005)
        trial.set_user_attr("epochs", self.budget)
        return 1.0 / (1.0 + math.exp(-value))


def _run_one(storage_url: str, strategy: str, study_name: str, workdir: Path) -> dict[str, Any]:
    from recsearch import runner

    start = time.perf_counter()
    study, settings = runner.create_study(
        study_name=study_name,
        storage=storage_url,
        dataset="bench.bench_scale:bench_dataset",
        space="autofis",
        strategy=strategy,
        objective="bench.bench_scale:CheapObjective",
        n_trials=TRIALS,
        tracking_uri=None,
    )
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "OMP_NUM_THREADS": "1",
        "OMP_WAIT_POLICY": "PASSIVE",
    }
    logs = [workdir / f"{study_name}-{i}.err" for i in range(WORKERS)]
    procs = []
    for i in range(WORKERS):
        cmd = runner.worker_command(
            study_name=study.study_name,
            storage_url=storage_url,
            worker_index=i,
            threads=1,
            heartbeat_interval=10,
        )
        with open(logs[i], "w") as err:
            procs.append(
                subprocess.Popen(cmd, env=env, cwd=workdir, stdout=subprocess.DEVNULL,
                                 stderr=err)  # fmt: skip
            )
    codes = [p.wait() for p in procs]
    wall = time.perf_counter() - start
    study, _ = runner.load_study(study_name=study.study_name, storage=storage_url)
    trials = study.get_trials(deepcopy=False)
    counted = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    surplus = [
        t for t in trials
        if t.state == TrialState.FAIL
        and str(t.user_attrs.get("failure", "")).startswith(runner.FAILURE_SURPLUS)
    ]  # fmt: skip
    failed = [t for t in trials if t.state == TrialState.FAIL and t not in surplus]
    error_lines = []
    for log in logs:
        lines = log.read_text().splitlines()
        error_lines += [ln for ln in lines if any(w in ln for w in ERROR_WORDS)]
    starts = [t.datetime_start for t in counted if t.datetime_start]
    ends = [t.datetime_complete for t in counted if t.datetime_complete]
    active = (max(ends) - min(starts)).total_seconds() if starts and ends else float("nan")
    keys = [tuple(sorted(t.params.items())) for t in counted]
    return {
        "counted_trials": len(counted),
        "trials_per_s": round(len(counted) / active, 2) if active == active and active else None,
        "trials_per_s_incl_startup": round(len(counted) / wall, 2),
        "wall_s": round(wall, 1),
        "storage_errors": sum(c != 0 for c in codes) + len(failed) + len(error_lines),
        "dead_workers": sum(c != 0 for c in codes),
        "failed_trials": len(failed),
        "error_lines": error_lines[:5],
        "duplicate_configs": len(keys) - len(set(keys)),
        "surplus_trials": len(surplus),
    }


def _start_postgres() -> tuple[str, str] | None:
    proc = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), "start"],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip
    if proc.returncode != 0:
        print(f"bench scale: no PostgreSQL ({proc.stderr.strip()[-200:]})", flush=True)
        return None
    lines = proc.stdout.strip().splitlines()
    return lines[0].split("=", 1)[1], lines[-1]


def main() -> dict[str, Any]:
    """Run every storage x strategy combination and print one line per run."""
    results: dict[str, Any] = {"workers": WORKERS, "trials": TRIALS, "trial_s": TRIAL_S}
    pg = _start_postgres()
    with tempfile.TemporaryDirectory(prefix="recsearch-bench-scale-") as tmp:
        workdir = Path(tmp)
        storages = []
        if pg is not None:
            storages.append(("postgresql", pg[1]))
        storages.append(("journal (local default)", f"journal:{workdir / 'journal.log'}"))
        try:
            for label, url in storages:
                for strategy in STRATEGIES:
                    name = f"scale-{strategy}"
                    row = _run_one(url, strategy, name, workdir)
                    results[f"{label} / {strategy}"] = row
                    print(
                        f"{label:>24} {strategy:>5}: {row['counted_trials']} trials, "
                        f"{row['trials_per_s']} trials/s ({row['trials_per_s_incl_startup']} "
                        f"incl. startup), storage errors {row['storage_errors']}, duplicates "
                        f"{row['duplicate_configs']}, surplus {row['surplus_trials']}",
                        flush=True,
                    )
        finally:
            if pg is not None:
                subprocess.run(["bash", str(ROOT / "scripts" / "postgres.sh"), "stop", pg[0]],
                               capture_output=True, timeout=120)  # fmt: skip
    return results


if __name__ == "__main__":
    import json

    print(json.dumps(main(), indent=2, default=str), file=sys.stdout)
