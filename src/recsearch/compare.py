"""Strategy comparison at equal budget: strategies x seeds, anytime curves, tables, tests.

Every strategy gets the same budget counted in epoch-equivalents (the ``epochs`` user attribute the
objective writes), so a multi-fidelity strategy that stops many trials early runs more trials than
one that trains every configuration fully. :func:`run_comparison` runs one Optuna study per
strategy and seed (in parallel processes when ``workers > 1``), then writes a report folder:

- ``anytime.png``: best validation metric so far against cumulative budget, median and
  inter-quartile band per strategy;
- ``results.csv`` / ``results.md``: final best (median, quartiles, mean, std), normalised area
  under the anytime curve, mean rank over seeds, trials run, Wilcoxon p-value against ``random``;
- ``wilcoxon.csv``: the paired Wilcoxon signed-rank test of every strategy against ``random``;
- ``front.png``: the accuracy-cost front of all completed trials when a cost measure is searched;
- ``trials.csv``: every trial of every run with its cumulative budget and best-so-far value;
- ``report.json``: the settings and the table.

The folder is logged as the artifacts of one MLflow "comparison" run.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import json
import logging
import math
import multiprocessing
import os
import time
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

import numpy as np

from recsearch.errors import InvalidParameterError
from recsearch.hooks import COST_PREFIX
from recsearch.hooks import USER_ATTR_EPOCHS

if TYPE_CHECKING:
    import optuna
    import pandas as pd
    from ConfigSpace import ConfigurationSpace

    from recsearch.data.schema import Dataset

_logger = logging.getLogger(__name__)

MetricName = Literal["auc", "logloss"]
ObjectiveFactory = Callable[..., Callable[..., Any]]
"""``factory(dataset, space, *, metric, budget, seed, cost, hooks) -> objective(trial)``."""

REFERENCE = "random"
GRID_POINTS = 101


@dataclass(frozen=True)
class TrialRecord:
    """One finished trial of one comparison run (plain values only).

    Example:
        >>> TrialRecord(number=0, state="COMPLETE", value=0.71, epochs=1.0)
        TrialRecord(number=0, state='COMPLETE', value=0.71, epochs=1.0, cost=None, params={})
    """

    number: int
    state: str
    value: float | None
    epochs: float
    cost: float | None = None
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunResult:
    """The trials of one strategy on one seed, in completion order.

    Example:
        >>> run = RunResult("random", 0, (TrialRecord(0, "COMPLETE", 0.7, 1.0),), 1.2)
        >>> run.anytime(maximize=True)
        (array([1.]), array([0.7]))
    """

    strategy: str
    seed: int
    trials: tuple[TrialRecord, ...]
    seconds: float

    @property
    def epochs(self) -> float:
        """Budget spent (epoch-equivalents)."""
        return float(sum(t.epochs for t in self.trials))

    def anytime(self, *, maximize: bool) -> tuple[np.ndarray, np.ndarray]:
        """Cumulative budget after each trial and the best value so far (nan before any)."""
        spent = np.cumsum([t.epochs for t in self.trials]) if self.trials else np.zeros(0)
        best = np.full(len(self.trials), np.nan)
        current = math.nan
        for i, t in enumerate(self.trials):
            if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value):
                if math.isnan(current) or (t.value > current if maximize else t.value < current):
                    current = t.value
            best[i] = current
        return spent.astype(float), best

    def final_best(self, *, maximize: bool) -> float:
        """Best completed value of the run (nan when none completed)."""
        _, best = self.anytime(maximize=maximize)
        return float(best[-1]) if len(best) else math.nan


@dataclass(frozen=True)
class ComparisonReport:
    """What :func:`run_comparison` produced: the runs, the table and the report files.

    Attributes:
        out_dir: The report folder.
        metric: The compared validation metric.
        maximize: Whether larger metric values are better.
        budget: Budget per run (epoch-equivalents).
        runs: One :class:`RunResult` per strategy and seed.
        table: One row per strategy (see the module docstring for the columns).
        tests: The Wilcoxon signed-rank test of each strategy against ``random``.
        files: Report files by role (``anytime``, ``table_csv``, ``table_md``, ``tests``,
            ``trials``, ``report``, and ``front`` when a cost was searched).
        mlflow_run_id: The comparison run in MLflow, ``None`` when not tracked.

    Example:
        >>> report = run_comparison(dataset="synthetic", space="hpo", strategies=["random", "tpe"],
        ...                         seeds=2, budget=4, out_dir="report")  # doctest: +SKIP
        >>> print(report.to_markdown())  # doctest: +SKIP
    """

    out_dir: Path
    metric: str
    maximize: bool
    budget: float
    runs: tuple[RunResult, ...]
    table: pd.DataFrame
    tests: pd.DataFrame
    files: Mapping[str, Path]
    mlflow_run_id: str | None = None

    def to_markdown(self) -> str:
        """The results table as GitHub markdown."""
        return markdown_table(self.table)

    def curves(self) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """Per strategy: budget grid, median, 25th and 75th percentile of best-so-far."""
        return anytime_curves(self.runs, budget=self.budget, maximize=self.maximize)


# ---------------------------------------------------------------------------------- running
@dataclass(frozen=True)
class _Job:
    strategy: str
    seed: int
    dataset: Any
    dataset_options: Mapping[str, Any]
    space: Any
    budget: float
    epochs_per_trial: float
    metric: str
    cost: str | None
    objective: ObjectiveFactory | None
    max_trials: int
    tracking_uri: str | None
    experiment: str
    parent_run_id: str | None
    strategy_options: Mapping[str, Any]


def _load_dataset(dataset: Any, options: Mapping[str, Any]) -> Dataset:
    from recsearch.data import load
    from recsearch.data.schema import Dataset

    if isinstance(dataset, Dataset):
        return dataset
    if isinstance(dataset, (str, os.PathLike)):
        return load(dataset, **dict(options))
    raise InvalidParameterError(
        "The 'dataset' parameter of run_comparison must be a data set name, a path or a "
        f"Dataset. Got {type(dataset).__name__} instead."
    )


def _resolve_space(space: Any, dataset: Dataset) -> tuple[ConfigurationSpace, str]:
    from ConfigSpace import ConfigurationSpace

    if isinstance(space, ConfigurationSpace):
        meta = space.meta or {}
        name = meta.get("preset") or meta.get("name") or space.name or "custom"
        return space, str(name)
    if isinstance(space, str):
        from recsearch.spaces import preset

        return preset(space, dataset.schema), space
    raise InvalidParameterError(
        "The 'space' parameter of run_comparison must be a preset name or a "
        f"ConfigurationSpace. Got {type(space).__name__} instead."
    )


def _default_objective(
    dataset: Dataset,
    space: ConfigurationSpace,
    *,
    metric: str,
    budget: float,
    seed: int,
    cost: str | None,
    hooks: Sequence[Any],
) -> Callable[..., Any]:
    from recsearch.objectives import CTRObjective

    return CTRObjective(
        dataset, space, metric=metric, budget=budget, seed=seed, cost=cost, hooks=tuple(hooks)
    )


def _directions(objective: Any, metric: str, cost: str | None) -> list[str]:
    directions = getattr(objective, "directions", None)
    if directions:
        return [d if isinstance(d, str) else d.name.lower() for d in directions]
    first = "maximize" if metric == "auc" else "minimize"
    return [first, "minimize"] if cost else [first]


def _record(
    trial: optuna.trial.FrozenTrial, *, epochs_per_trial: float, cost: str | None
) -> TrialRecord:
    attrs = trial.user_attrs
    epochs = attrs.get(USER_ATTR_EPOCHS)
    if epochs is None:
        # NOTE: an objective that does not report its budget counts a full trial when it ran.
        epochs = epochs_per_trial if trial.state.name in ("COMPLETE", "PRUNED") else 0.0
    value = trial.values[0] if trial.values else None
    cost_value = None
    if cost is not None:
        if trial.values and len(trial.values) > 1:
            cost_value = float(trial.values[1])
        elif f"{COST_PREFIX}{cost}" in attrs:
            cost_value = float(attrs[f"{COST_PREFIX}{cost}"])
    return TrialRecord(
        number=trial.number,
        state=trial.state.name,
        value=None if value is None else float(value),
        epochs=float(epochs),
        cost=cost_value,
        params=dict(trial.params),
    )


def _run_job(job: _Job) -> RunResult:
    """Run one strategy on one seed until its budget is spent (also in a worker process)."""
    import optuna

    from recsearch.strategies import create

    started = time.perf_counter()
    dataset = _load_dataset(job.dataset, job.dataset_options)
    space, space_name = _resolve_space(job.space, dataset)
    from recsearch.oneshot import study as oneshot_study

    one_shot = oneshot_study.split_name(job.strategy) is not None
    if one_shot:
        strategy = oneshot_study.strategy_for(
            job.strategy, space, seed=job.seed, options=dict(job.strategy_options)
        )
    else:
        strategy = create(job.strategy, space, seed=job.seed, **dict(job.strategy_options))
    tracker = None
    hooks: list[Any] = []
    if job.parent_run_id is not None:
        from recsearch.trackers import MLflowTracker

        tracker = MLflowTracker(job.tracking_uri, experiment=job.experiment)
        hooks.append(tracker)
    factory = job.objective or _default_objective
    objective = factory(
        dataset,
        space,
        metric=job.metric,
        budget=job.epochs_per_trial,
        seed=job.seed,
        cost=job.cost,
        hooks=hooks,
    )
    if one_shot:
        # NOTE: the supernet search is the first trial; its epochs are epoch-equivalents.
        objective = oneshot_study.objective_for(
            job.strategy, objective, options=dict(job.strategy_options)
        )
    study = optuna.create_study(
        study_name=f"{job.strategy}-seed{job.seed}",
        directions=_directions(objective, job.metric, job.cost),
        sampler=strategy.sampler,
        pruner=strategy.pruner,
    )
    spent = [0.0]

    def stop_at_budget(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        spent[0] += _record(trial, epochs_per_trial=job.epochs_per_trial, cost=None).epochs
        if spent[0] >= job.budget - 1e-9:
            study.stop()

    callbacks: list[Any] = [stop_at_budget]
    if tracker is not None:
        tracker.start_study(
            study,
            tags={
                "mlflow.parentRunId": job.parent_run_id,
                "strategy": job.strategy,
                "space": space_name,
                "dataset": dataset.name,
                "seed": job.seed,
            },
            params={"budget": job.budget, "strategy_options": dict(strategy.meta)},
        )
        callbacks.append(tracker)
    study.optimize(objective, n_trials=job.max_trials, callbacks=callbacks, catch=(Exception,))
    if tracker is not None:
        tracker.end_study(study)
    trials = sorted(
        (t for t in study.get_trials(deepcopy=False) if t.state.is_finished()),
        key=lambda t: (t.datetime_complete is None, t.datetime_complete, t.number),
    )
    records = tuple(
        _record(t, epochs_per_trial=job.epochs_per_trial, cost=job.cost) for t in trials
    )
    return RunResult(job.strategy, job.seed, records, time.perf_counter() - started)


def _init_worker(threads: int) -> None:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:  # pragma: no cover - torch is a core dependency
        pass


def _seeds(seeds: int | Sequence[int]) -> list[int]:
    if isinstance(seeds, int):
        if seeds < 1:
            raise InvalidParameterError(
                f"The 'seeds' parameter of run_comparison must be >= 1. Got {seeds!r} instead."
            )
        return list(range(seeds))
    out = [int(s) for s in seeds]
    if not out or len(set(out)) != len(out):
        raise InvalidParameterError(
            "The 'seeds' parameter of run_comparison must be a count or distinct integers. "
            f"Got {seeds!r} instead."
        )
    return out


def run_comparison(
    *,
    dataset: str | os.PathLike[str] | Dataset,
    space: str | ConfigurationSpace,
    strategies: Sequence[str],
    seeds: int | Sequence[int] = 5,
    budget: float = 200.0,
    out_dir: str | os.PathLike[str],
    workers: int = 1,
    tracking_uri: str | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    budget_epochs_per_trial: float = 1.0,
    metric: MetricName = "auc",
    cost: str | None = None,
    objective: ObjectiveFactory | None = None,
    strategy_options: Mapping[str, Mapping[str, Any]] | None = None,
    track: bool = True,
    track_trials: bool = False,
    experiment: str = "recsearch-compare",
    max_trials: int | None = None,
) -> ComparisonReport:
    """Compare search strategies at equal budget and write a report folder.

    Args:
        dataset: A name for :func:`recsearch.data.load`, a file path, or a loaded Dataset.
        space: A preset name for :func:`recsearch.spaces.preset`, or a ConfigurationSpace.
        strategies: Registered strategy names (:func:`recsearch.strategies.available`).
        seeds: Number of seeds (``0 .. seeds-1``) or the seeds themselves.
        budget: Budget of every run in epoch-equivalents (the ``epochs`` user attribute).
        out_dir: The report folder (created).
        workers: Parallel processes (each gets ``cores // workers`` torch threads).
        tracking_uri: MLflow tracking URI (see :class:`recsearch.trackers.MLflowTracker`).
        dataset_options: Options for :func:`recsearch.data.load`.
        budget_epochs_per_trial: Training budget of one trial, in epochs.
        metric: Validation metric searched and compared.
        cost: A cost measure (``params``, ``embedding_bytes``, ``flops``, ``latency_ms``) to
            search as a second objective; adds the accuracy-cost front plot.
        objective: Objective factory called as ``objective(dataset, space, *, metric, budget,
            seed, cost, hooks)``; ``None`` uses :class:`recsearch.objectives.CTRObjective`. Must
            be picklable (a module-level function) when ``workers > 1``.
        strategy_options: Extra options per strategy name for
            :func:`recsearch.strategies.create`.
        track: Whether to log the report folder to an MLflow comparison run.
        track_trials: Whether every study also gets a parent run (nested under the comparison
            run) with one child run per trial.
        experiment: MLflow experiment of the comparison run.
        max_trials: Safety cap on trials per run; ``None`` means ``20 * budget /
            budget_epochs_per_trial + 20``.

    Returns:
        The :class:`ComparisonReport`.

    Raises:
        InvalidParameterError: For an empty strategy list, a non-positive budget or bad seeds.

    Example:
        >>> report = run_comparison(dataset="synthetic", space="hpo",
        ...                         strategies=["random", "tpe", "hyperband"], seeds=3,
        ...                         budget=10, out_dir="report")  # doctest: +SKIP
    """
    names = [str(s) for s in strategies]
    if not names or len(set(names)) != len(names):
        raise InvalidParameterError(
            "The 'strategies' parameter of run_comparison must list distinct strategy names. "
            f"Got {strategies!r} instead."
        )
    if not budget > 0 or not budget_epochs_per_trial > 0:
        raise InvalidParameterError(
            "The 'budget' and 'budget_epochs_per_trial' parameters of run_comparison must be "
            f"positive. Got {budget!r} and {budget_epochs_per_trial!r} instead."
        )
    if metric not in ("auc", "logloss"):
        raise InvalidParameterError(
            "The 'metric' parameter of run_comparison must be among ('auc', 'logloss'). "
            f"Got {metric!r} instead."
        )
    if workers < 1:
        raise InvalidParameterError(
            f"The 'workers' parameter of run_comparison must be >= 1. Got {workers!r} instead."
        )
    seed_list = _seeds(seeds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = dict(dataset_options or {})
    cap = max_trials or int(20 * budget / budget_epochs_per_trial) + 20

    loaded: Any = dataset
    if workers == 1 or not isinstance(dataset, (str, os.PathLike)):
        loaded = _load_dataset(dataset, options)
    dataset_name = loaded.name if not isinstance(loaded, (str, os.PathLike)) else str(dataset)
    space_name = space if isinstance(space, str) else _space_name(space)

    tracker_client = None
    cmp_run_id = None
    if track:
        from recsearch.trackers import MLflowTracker

        tracker = MLflowTracker(tracking_uri, experiment=experiment)
        tracker_client, cmp_run_id = _start_comparison_run(
            tracker,
            tags={
                "recsearch.role": "comparison",
                "dataset": dataset_name,
                "space": space_name,
                "strategies": ",".join(names),
                "metric": metric,
            },
            params={
                "budget": budget,
                "budget_epochs_per_trial": budget_epochs_per_trial,
                "seeds": ",".join(map(str, seed_list)),
                "workers": workers,
                "cost": cost or "",
                "dataset_options": json.dumps(options, default=str),
            },
        )

    jobs = [
        _Job(
            strategy=name,
            seed=seed,
            dataset=loaded,
            dataset_options=options,
            space=space,
            budget=float(budget),
            epochs_per_trial=float(budget_epochs_per_trial),
            metric=metric,
            cost=cost,
            objective=objective,
            max_trials=cap,
            tracking_uri=tracking_uri,
            experiment=experiment,
            parent_run_id=cmp_run_id if track_trials else None,
            strategy_options=dict((strategy_options or {}).get(name, {})),
        )
        for seed in seed_list
        for name in names
    ]
    if workers == 1:
        results = [_run_job(job) for job in jobs]
    else:
        threads = max(1, len(os.sched_getaffinity(0)) // workers)
        ctx = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(
            max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=(threads,)
        ) as pool:
            results = list(pool.map(_run_job, jobs))

    maximize = metric == "auc"
    report = write_report(
        results,
        out_dir=out,
        metric=metric,
        maximize=maximize,
        budget=float(budget),
        strategies=names,
        cost=cost,
        settings={
            "dataset": dataset_name,
            "dataset_options": options,
            "space": space_name,
            "strategies": names,
            "seeds": seed_list,
            "budget": budget,
            "budget_epochs_per_trial": budget_epochs_per_trial,
            "metric": metric,
            "cost": cost,
            "workers": workers,
        },
    )
    if tracker_client is not None and cmp_run_id is not None:
        _finish_comparison_run(tracker_client, cmp_run_id, report)
        report = dataclasses.replace(report, mlflow_run_id=cmp_run_id)
    return report


def _space_name(space: ConfigurationSpace) -> str:
    meta = space.meta or {}
    return str(meta.get("preset") or meta.get("name") or space.name or "custom")


def _start_comparison_run(
    tracker: Any, *, tags: Mapping[str, Any], params: Mapping[str, Any]
) -> tuple[Any, str | None]:
    from mlflow.entities import Param

    from recsearch.trackers import sanitize_key
    from recsearch.trackers import truncate_value

    try:
        client = tracker.client
        run = client.create_run(
            tracker.experiment_id,
            run_name=f"compare-{tags['space']}-{time.strftime('%Y%m%d-%H%M%S')}",
            tags={k: str(v) for k, v in tags.items()},
        )
        run_id = run.info.run_id
        client.log_batch(
            run_id, params=[Param(sanitize_key(k), truncate_value(v)) for k, v in params.items()]
        )
        return client, str(run_id)
    except Exception as err:  # NOTE: tracking never fails the comparison
        _logger.warning("MLflow tracking of the comparison failed: %s", err)
        return None, None


def _finish_comparison_run(client: Any, run_id: str, report: ComparisonReport) -> None:
    from mlflow.entities import Metric

    from recsearch.trackers import sanitize_key

    try:
        now = int(time.time() * 1000)
        metrics = []
        for _, row in report.table.iterrows():
            for col in ("final_median", "area", "mean_rank", "wilcoxon_p"):
                value = row.get(col)
                if value is not None and np.isfinite(value):
                    key = sanitize_key(f"{row['strategy']}.{col}")
                    metrics.append(Metric(key, float(value), now, 0))
        if metrics:
            client.log_batch(run_id, metrics=metrics)
        client.log_artifacts(run_id, str(report.out_dir), artifact_path="report")
        client.set_terminated(run_id, status="FINISHED")
    except Exception as err:  # NOTE: tracking never fails the comparison
        _logger.warning("MLflow tracking of the comparison failed: %s", err)


# ---------------------------------------------------------------------------------- analysis
def anytime_curves(
    runs: Sequence[RunResult], *, budget: float, maximize: bool, points: int = GRID_POINTS
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
    """Best-so-far on a common budget grid: per strategy (grid, median, q25, q75).

    A run's value at budget ``b`` is the best completed trial among those finished when the
    cumulative budget reached ``b`` (nan before its first completed trial).
    """
    grid = np.linspace(0.0, budget, points)
    by_strategy: dict[str, list[np.ndarray]] = {}
    for run in runs:
        spent, best = run.anytime(maximize=maximize)
        idx = np.searchsorted(spent, grid + 1e-12, side="right") - 1
        values = np.where(idx >= 0, best[np.clip(idx, 0, None)] if len(best) else np.nan, np.nan)
        by_strategy.setdefault(run.strategy, []).append(values.astype(float))
    out = {}
    for name, rows in by_strategy.items():
        matrix = np.vstack(rows)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # NOTE: all-nan columns stay nan
            median = np.nanmedian(matrix, axis=0)
            q25 = np.nanpercentile(matrix, 25, axis=0)
            q75 = np.nanpercentile(matrix, 75, axis=0)
        out[name] = (grid, median, q25, q75)
    return out


def _area(run: RunResult, *, budget: float, maximize: bool, fill: float) -> float:
    grid = np.linspace(0.0, budget, GRID_POINTS)
    spent, best = run.anytime(maximize=maximize)
    if not len(best):
        return fill
    idx = np.searchsorted(spent, grid + 1e-12, side="right") - 1
    values = np.where(idx >= 0, best[np.clip(idx, 0, None)], np.nan)
    values = np.where(np.isnan(values), fill, values)
    return float(np.mean(values))


def summarize(
    runs: Sequence[RunResult],
    *,
    strategies: Sequence[str],
    budget: float,
    maximize: bool,
    reference: str = REFERENCE,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The results table and the Wilcoxon tests against ``reference``.

    Table columns: ``strategy``, ``runs``, ``trials_mean``, ``final_median``, ``final_q25``,
    ``final_q75``, ``final_mean``, ``final_std``, ``area`` (mean best-so-far over the budget
    grid, the worst value seen before a run's first completed trial), ``mean_rank`` (1 = best,
    per seed, ties averaged), ``wilcoxon_p``.
    """
    import pandas as pd
    from scipy.stats import rankdata
    from scipy.stats import wilcoxon

    finals: dict[str, dict[int, float]] = {s: {} for s in strategies}
    for run in runs:
        finals.setdefault(run.strategy, {})[run.seed] = run.final_best(maximize=maximize)
    seen = [
        t.value
        for r in runs
        for t in r.trials
        if t.state == "COMPLETE" and t.value is not None and math.isfinite(t.value)
    ]
    fill = (min(seen) if maximize else max(seen)) if seen else math.nan
    seeds = sorted({r.seed for r in runs})
    ranks: dict[str, list[float]] = {s: [] for s in strategies}
    for seed in seeds:
        vals = np.array([finals[s].get(seed, math.nan) for s in strategies], dtype=float)
        worst = -np.inf if maximize else np.inf
        keyed = np.where(np.isnan(vals), worst, vals)
        r = rankdata(-keyed if maximize else keyed, method="average")
        for s, rank in zip(strategies, r, strict=True):
            ranks[s].append(float(rank))

    tests = []
    for s in strategies:
        if s == reference or reference not in finals:
            continue
        pairs = [
            (finals[s][k], finals[reference][k])
            for k in seeds
            if k in finals[s] and k in finals[reference]
            and math.isfinite(finals[s][k]) and math.isfinite(finals[reference][k])
        ]
        diffs = np.array([a - b for a, b in pairs], dtype=float)
        stat, p = math.nan, math.nan
        if len(diffs) and np.all(diffs == 0):
            stat, p = 0.0, 1.0
        elif len(diffs):
            try:
                res = wilcoxon(diffs, zero_method="wilcox", alternative="two-sided")
                stat, p = float(res.statistic), float(res.pvalue)
            except ValueError as err:
                _logger.info("Wilcoxon test of %s against %s: %s", s, reference, err)
        better = None
        if len(diffs) and np.median(diffs) != 0:
            better = bool((np.median(diffs) > 0) == maximize)
        tests.append(
            {
                "strategy": s,
                "reference": reference,
                "pairs": len(diffs),
                "median_difference": float(np.median(diffs)) if len(diffs) else math.nan,
                "statistic": stat,
                "p_value": p,
                "better_than_reference": better,
            }
        )
    tests_df = pd.DataFrame(
        tests,
        columns=[
            "strategy",
            "reference",
            "pairs",
            "median_difference",
            "statistic",
            "p_value",
            "better_than_reference",
        ],
    )
    p_by = dict(zip(tests_df["strategy"], tests_df["p_value"], strict=True))

    rows = []
    for s in strategies:
        its = [r for r in runs if r.strategy == s]
        vals = np.array([finals[s][r.seed] for r in its], dtype=float)
        ok = vals[np.isfinite(vals)]
        rows.append(
            {
                "strategy": s,
                "runs": len(its),
                "trials_mean": float(np.mean([len(r.trials) for r in its])) if its else 0.0,
                "final_median": float(np.median(ok)) if len(ok) else math.nan,
                "final_q25": float(np.percentile(ok, 25)) if len(ok) else math.nan,
                "final_q75": float(np.percentile(ok, 75)) if len(ok) else math.nan,
                "final_mean": float(np.mean(ok)) if len(ok) else math.nan,
                "final_std": float(np.std(ok)) if len(ok) else math.nan,
                "area": float(
                    np.mean([_area(r, budget=budget, maximize=maximize, fill=fill) for r in its])
                )
                if its
                else math.nan,
                "mean_rank": float(np.mean(ranks[s])) if ranks[s] else math.nan,
                "wilcoxon_p": p_by.get(s, math.nan),
            }
        )
    return pd.DataFrame(rows), tests_df


def markdown_table(frame: pd.DataFrame, *, digits: int = 4) -> str:
    """A GitHub markdown table of ``frame`` (floats rounded to ``digits`` significant places)."""

    def cell(v: Any) -> str:
        if isinstance(v, float):
            return "nan" if math.isnan(v) else f"{v:.{digits}g}"
        return str(v)

    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    sep = "|" + "|".join("---" for _ in frame.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(False)]
    return "\n".join([head, sep, *body]) + "\n"


def plot_anytime(
    runs: Sequence[RunResult],
    path: str | os.PathLike[str],
    *,
    budget: float,
    maximize: bool,
    metric: str,
) -> None:
    """Write the anytime plot (median and inter-quartile band per strategy) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    for i, (name, (grid, median, q25, q75)) in enumerate(
        anytime_curves(runs, budget=budget, maximize=maximize).items()
    ):
        color = f"C{i % 10}"
        ax.plot(grid, median, color=color, label=name, drawstyle="steps-post")
        ax.fill_between(grid, q25, q75, color=color, alpha=0.2, step="post")
    ax.set_xlabel("budget (epoch-equivalents)")
    ax.set_ylabel(f"best validation {metric} so far")
    ax.set_title("Anytime performance (median, inter-quartile band)")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right" if maximize else "upper right")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)


def pareto_front(points: np.ndarray, *, maximize_first: bool) -> np.ndarray:
    """Indices of the non-dominated rows of ``points`` = (metric, cost); cost is minimised."""
    if not len(points):
        return np.zeros(0, dtype=int)
    keyed = np.column_stack([-points[:, 0] if maximize_first else points[:, 0], points[:, 1]])
    keep = []
    for i, p in enumerate(keyed):
        dominated = np.any(np.all(keyed <= p, axis=1) & np.any(keyed < p, axis=1))
        if not dominated:
            keep.append(i)
    return np.array(keep, dtype=int)


def plot_front(
    runs: Sequence[RunResult],
    path: str | os.PathLike[str],
    *,
    maximize: bool,
    metric: str,
    cost: str,
) -> bool:
    """Write the accuracy-cost plot (every completed trial, front per strategy) as a PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    drawn = False
    names = list(dict.fromkeys(r.strategy for r in runs))
    for i, name in enumerate(names):
        pts = np.array(
            [
                (t.value, t.cost)
                for r in runs
                if r.strategy == name
                for t in r.trials
                if t.state == "COMPLETE" and t.value is not None and t.cost is not None
                and math.isfinite(t.value) and math.isfinite(t.cost)
            ],
            dtype=float,
        ).reshape(-1, 2)
        if not len(pts):
            continue
        drawn = True
        color = f"C{i % 10}"
        ax.scatter(pts[:, 1], pts[:, 0], s=12, alpha=0.35, color=color)
        front = pts[pareto_front(pts, maximize_first=maximize)]
        front = front[np.argsort(front[:, 1])]
        ax.plot(
            front[:, 1], front[:, 0], marker="o", color=color, label=name, drawstyle="steps-post"
        )
    if not drawn:
        return False
    ax.set_xlabel(cost)
    ax.set_ylabel(f"validation {metric}")
    ax.set_xscale("symlog")
    ax.set_title("Accuracy-cost front (all completed trials)")
    ax.grid(alpha=0.3)
    ax.legend(loc="best")
    fig.tight_layout()
    fig.savefig(os.fspath(path), dpi=100)
    return True


def trials_frame(runs: Sequence[RunResult], *, maximize: bool) -> pd.DataFrame:
    """Every trial of every run with its cumulative budget and best-so-far value."""
    import pandas as pd

    rows = []
    for run in runs:
        spent, best = run.anytime(maximize=maximize)
        for t, s, b in zip(run.trials, spent, best, strict=True):
            rows.append(
                {
                    "strategy": run.strategy,
                    "seed": run.seed,
                    "trial": t.number,
                    "state": t.state,
                    "value": t.value,
                    "epochs": t.epochs,
                    "cumulative_epochs": float(s),
                    "best_so_far": float(b),
                    "cost": t.cost,
                    "params": json.dumps(dict(t.params), default=str, sort_keys=True),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "strategy",
            "seed",
            "trial",
            "state",
            "value",
            "epochs",
            "cumulative_epochs",
            "best_so_far",
            "cost",
            "params",
        ],
    )


def write_report(
    runs: Sequence[RunResult],
    *,
    out_dir: str | os.PathLike[str],
    metric: str,
    maximize: bool,
    budget: float,
    strategies: Sequence[str],
    cost: str | None = None,
    settings: Mapping[str, Any] | None = None,
) -> ComparisonReport:
    """Write the report folder for finished runs (see the module docstring) and return it."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    table, tests = summarize(runs, strategies=strategies, budget=budget, maximize=maximize)
    files: dict[str, Path] = {
        "anytime": out / "anytime.png",
        "table_csv": out / "results.csv",
        "table_md": out / "results.md",
        "tests": out / "wilcoxon.csv",
        "trials": out / "trials.csv",
        "report": out / "report.json",
    }
    plot_anytime(runs, files["anytime"], budget=budget, maximize=maximize, metric=metric)
    table.to_csv(files["table_csv"], index=False)
    direction = "higher" if maximize else "lower"
    from recsearch.oneshot.study import split_name

    one_shot = sorted({s for s in strategies if split_name(s)})
    md = [
        f"# Strategy comparison: validation {metric} ({direction} is better)",
        "",
        f"Budget per run: {budget:g} epoch-equivalents; seeds: "
        f"{len({r.seed for r in runs})}.",
        "",
        *(
            [
                f"One-shot strategies ({', '.join(one_shot)}): the first trial of each run is "
                "the supernet search, charged at its epochs times the supernet's FLOPs per "
                "sample over the base model's (static_cost); it is never ranked.",
                "",
            ]
            if one_shot
            else []
        ),
        markdown_table(table),
        f"## Wilcoxon signed-rank test against `{REFERENCE}` (paired over seeds)",
        "",
        markdown_table(tests) if len(tests) else f"(no `{REFERENCE}` runs to compare against)\n",
    ]
    files["table_md"].write_text("\n".join(md))
    tests.to_csv(files["tests"], index=False)
    trials_frame(runs, maximize=maximize).to_csv(files["trials"], index=False)
    if cost is not None:
        front = out / "front.png"
        if plot_front(runs, front, maximize=maximize, metric=metric, cost=cost):
            files["front"] = front
    payload = {
        "settings": dict(settings or {}),
        "table": json.loads(table.to_json(orient="records")),
        "tests": json.loads(tests.to_json(orient="records")),
        "seconds": {f"{r.strategy}/{r.seed}": r.seconds for r in runs},
    }
    files["report"].write_text(json.dumps(payload, indent=2, default=str))
    return ComparisonReport(
        out_dir=out,
        metric=metric,
        maximize=maximize,
        budget=budget,
        runs=tuple(runs),
        table=table,
        tests=tests,
        files=files,
    )
