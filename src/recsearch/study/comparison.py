"""A strategy comparison as a set of studies on one storage: one per (strategy, seed).

Every cell is an ordinary search study (:mod:`recsearch.study.worker` runs it) whose
``budget_total`` is the comparison's budget in epoch-equivalents (the ``epochs`` user attribute
the objective writes), so a multi-fidelity strategy that stops many trials early runs more trials
than one that trains every configuration fully. The cells live on one storage (by default a
journal file in the report folder), so an interrupted comparison resumes where it stopped (no
completed trial is trained again) and ``recsearch worker --comparison NAME`` processes on other
machines can join it (PostgreSQL). The statistics are :mod:`recsearch.report.stats` and the
folder is written by :mod:`recsearch.report.writer`; the folder is logged as the artifacts of one
MLflow "comparison" run.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any

from recsearch.errors import InvalidParameterError
from recsearch.failures import failure_kind
from recsearch.hooks import COST_PREFIX
from recsearch.redact import redact_options
from recsearch.report.stats import CellResult
from recsearch.report.stats import TrialRecord
from recsearch.report.writer import ComparisonReport
from recsearch.report.writer import write_report
from recsearch.study.components import Overrides
from recsearch.study.settings import METRICS
from recsearch.study.settings import MetricName
from recsearch.study.settings import StudySettings
from recsearch.study.settings import default_tracking_uri
from recsearch.study.settings import is_ref
from recsearch.study.settings import make_settings
from recsearch.study.studies import base_hook
from recsearch.study.studies import create_in
from recsearch.study.studies import prepare
from recsearch.study.studies import settings_of
from recsearch.study.worker import Interrupted
from recsearch.study.worker import trial_epochs

if TYPE_CHECKING:
    import optuna
    from ConfigSpace import ConfigurationSpace
    from optuna.storages import BaseStorage

    from recsearch.data.schema import Dataset

__all__ = ["COMPARISON_OPTION", "cell_names", "cell_result", "run_cells", "run_comparison"]

_logger = logging.getLogger(__name__)

COMPARISON_OPTION = "comparison"
"""The ``kind_options`` key naming the comparison a cell study belongs to."""
PARENT_RUN_ATTR = "recsearch.mlflow_parent"
"""Study user attribute: the MLflow run the cell's own run nests under (``track_trials``)."""
JOURNAL = "comparison.journal"
"""The default storage: this journal file in the report folder."""
_NOT_IN_REPORT = frozenset({"surplus", "budget", "interrupted", "worker_died"})

ObjectiveFactory = Callable[..., Callable[..., Any]]
"""``factory(dataset, space, *, metric, budget, seed, cost, hooks) -> objective(trial)``."""


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


def _check(
    names: list[str], strategies: Any, budget: float, per_trial: float, metric: str, workers: int
) -> None:
    if not names or len(set(names)) != len(names):
        raise InvalidParameterError(
            "The 'strategies' parameter of run_comparison must list distinct strategy names. "
            f"Got {strategies!r} instead."
        )
    if not budget > 0 or not per_trial > 0:
        raise InvalidParameterError(
            "The 'budget' and 'budget_epochs_per_trial' parameters of run_comparison must be "
            f"positive. Got {budget!r} and {per_trial!r} instead."
        )
    if metric not in METRICS:
        raise InvalidParameterError(
            f"The 'metric' parameter of run_comparison must be among {METRICS}. "
            f"Got {metric!r} instead."
        )
    if workers < 1:
        raise InvalidParameterError(
            f"The 'workers' parameter of run_comparison must be >= 1. Got {workers!r} instead."
        )


def _load(dataset: Any, options: Mapping[str, Any]) -> Dataset:
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


def _space(space: Any, dataset: Dataset) -> tuple[ConfigurationSpace, str]:
    from ConfigSpace import ConfigurationSpace

    if isinstance(space, ConfigurationSpace):
        meta = space.meta or {}
        return space, str(meta.get("preset") or meta.get("name") or space.name or "custom")
    if isinstance(space, str) and is_ref(space):
        from recsearch.study.callables import allow
        from recsearch.study.components import _resolve

        allow(space)  # NOTE: named by this call, not by a storage
        made = _resolve(space, "space")
        return (made(dataset.schema) if callable(made) else made), space
    if isinstance(space, str):
        from recsearch.spaces import preset

        return preset(space, dataset.schema), space
    raise InvalidParameterError(
        "The 'space' parameter of run_comparison must be a preset name or a "
        f"ConfigurationSpace. Got {type(space).__name__} instead."
    )


def _ref(fn: ObjectiveFactory | None) -> str:
    """``module:qualname`` of a module-level objective factory, so other workers can import it."""
    if fn is None:
        return "ctr"
    module, qual = getattr(fn, "__module__", None), getattr(fn, "__qualname__", "")
    if module and qual and "<" not in qual:
        return f"{module}:{qual}"
    return "ctr"  # NOTE: a local function: only this process's workers run it (Overrides)


def cell_names(storage: BaseStorage, comparison: str) -> list[str]:
    """The cell studies of ``comparison`` on ``storage``, in their creation order."""
    import optuna

    from recsearch.study.settings import STUDY_ATTR

    out = []
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        raw = summary.user_attrs.get(STUDY_ATTR)
        if isinstance(raw, Mapping) and (raw.get("kind_options") or {}).get(
            COMPARISON_OPTION
        ) == comparison:
            out.append(summary.study_name)  # NOTE: storages list studies in creation order
    return out


def cell_result(study: optuna.Study, settings: StudySettings) -> CellResult:
    """The trials of one cell that ran, in completion order, as plain records."""
    trials = sorted(
        (
            t
            for t in study.get_trials(deepcopy=False)
            if t.state.is_finished() and failure_kind(t) not in _NOT_IN_REPORT
        ),
        key=lambda t: (t.datetime_complete is None, t.datetime_complete, t.number),
    )
    records = []
    for t in trials:
        value = t.values[0] if t.values else None
        cost = None
        if settings.cost is not None:
            if t.values and len(t.values) > 1:
                cost = float(t.values[1])
            elif f"{COST_PREFIX}{settings.cost}" in t.user_attrs:
                cost = float(t.user_attrs[f"{COST_PREFIX}{settings.cost}"])
        records.append(
            TrialRecord(
                number=t.number,
                state=t.state.name,
                value=None if value is None else float(value),
                epochs=trial_epochs(t, epochs_per_trial=settings.budget_epochs),
                cost=cost,
                params=dict(t.params),
            )
        )
    starts = [t.datetime_start for t in trials if t.datetime_start]
    ends = [t.datetime_complete for t in trials if t.datetime_complete]
    seconds = (max(ends) - min(starts)).total_seconds() if starts and ends else 0.0
    return CellResult(settings.strategy, settings.seed, tuple(records), seconds)


def run_cells(
    storage: str | BaseStorage,
    cells: Sequence[str],
    *,
    worker_index: int | None = 0,
    overrides: Overrides | None = None,
    tracking_uri: str | None = None,
    device: str | None = None,
    threads: int | None = None,
    dataset_options: Mapping[str, Any] | None = None,
    pretrained: Any = None,
) -> int | None:
    """Run each cell study until its budget is spent; the data set is loaded once per process.

    ``pretrained``: the source model this process's command line names (a fine-tuning space).

    Returns:
        The signal that interrupted the run, or ``None``.
    """
    from recsearch.storage import open_storage
    from recsearch.study.components import resolve
    from recsearch.study.studies import load_study
    from recsearch.study.worker import _local_settings
    from recsearch.study.worker import run_worker
    from recsearch.study.worker import set_threads

    store = storage if not isinstance(storage, str) else open_storage(storage, must_exist=True)
    set_threads(threads)
    if pretrained is not None:
        from recsearch.study.pretrained import load

        source = load(pretrained)
        overrides = dataclasses.replace(overrides or Overrides(), pretrained=source)
    loaded: dict[str, Overrides] = {}
    for name in cells:
        _, recorded = load_study(study_name=name, storage=store)
        settings = _local_settings(recorded, dataset_options)
        key = json.dumps([settings.dataset, dict(settings.dataset_options), settings.space],
                         sort_keys=True, default=str)  # fmt: skip
        over, cached = overrides or Overrides(), loaded.get(key)
        if over.dataset is None and cached is not None:
            over = dataclasses.replace(over, dataset=cached.dataset,
                                       space=over.space or cached.space)  # fmt: skip
        components = resolve(
            settings, worker_index=worker_index, tracking_uri=tracking_uri, device=device,
            overrides=over,
        )  # fmt: skip
        loaded.setdefault(key, Overrides(dataset=components.dataset, space=components.space))
        result = run_worker(
            study_name=name, storage=store, components=components, threads=threads
        )
        if result.interrupted is not None:
            return result.interrupted
    return None


def _process(
    url: str,
    cells: list[str],
    overrides: Overrides | None,
    threads: int,
    device: str | None,
    given: list[str],
) -> None:
    import optuna

    from recsearch.study.callables import allow

    allow(*given)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    interrupted = run_cells(url, cells, overrides=overrides, threads=threads, device=device)
    raise SystemExit(128 + interrupted if interrupted else 0)


def _run_in_processes(
    url: str,
    cells: list[str],
    workers: int,
    overrides: Overrides | None,
    device: str | None,
    given: list[str],
) -> int | None:
    """Cells split over ``workers`` spawned processes (each cell run by one process)."""
    from recsearch.study.callables import allow_env
    from recsearch.study.launcher import cores
    from recsearch.study.worker import signals_raise

    threads = max(1, cores() // workers)
    os.environ.update(allow_env())  # NOTE: spawned cells may import what this process may
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(
            target=_process, args=(url, cells[i::workers], overrides, threads, device, given)
        )
        for i in range(min(workers, len(cells)))
    ]
    with signals_raise():
        try:
            for p in procs:
                p.start()
            for p in procs:
                p.join()
        except Interrupted as exc:
            for p in procs:
                if p.is_alive() and p.pid is not None:
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(p.pid, signal.SIGINT)
            for p in procs:
                p.join(timeout=30)
                if p.is_alive():
                    p.kill()
                    p.join()
            return exc.signum
    failed = [p.exitcode for p in procs if p.exitcode not in (0, 130, 143)]
    if failed:
        raise RuntimeError(f"{len(failed)} comparison worker process(es) failed: {failed}")
    interrupted = [p.exitcode - 128 for p in procs if p.exitcode in (130, 143)]  # type: ignore[operator]
    return interrupted[0] if interrupted else None


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
    storage: str | None = None,
    name: str | None = None,
    device: str | None = None,
    base_first: bool = True,
    recipe: Mapping[str, Any] | None = None,
    pretrained: Any = None,
) -> ComparisonReport:
    """Compare search strategies at equal budget and write a report folder.

    Args:
        dataset: A name for :func:`recsearch.data.load`, a file path, or a loaded Dataset.
        space: A preset name for :func:`recsearch.spaces.preset`, ``module:callable(schema)``,
            or a ConfigurationSpace.
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
        base_first: Every cell runs the space's base (its default configuration) as its first
            trial, counted in its budget (issue 11).
        storage: Where the cell studies live; ``None`` is ``comparison.journal`` in ``out_dir``.
            Rerunning the same call resumes; ``recsearch worker --comparison NAME --storage URL``
            joins from other machines (data set and space given by name, objective importable).
        name: The comparison's name (``None``: derived from the settings).
        device: The objectives' device (``auto``, ``cpu``, ``cuda``, ``cuda:N``).
        recipe: The training recipe of every cell (:class:`recsearch.objectives.Recipe` fields,
            e.g. ``{"fidelity": "rows"}``: Hyperband strategies prune by successive halving
            and retrain promoted trials on growing subsamples; a trial counts its epochs times
            each subsample's fraction).
        pretrained: A fine-tuning space's source model (path, MLflow model URI or
            :class:`~recsearch.study.pretrained.Pretrained`); the cells store its fingerprint,
            and ``recsearch worker --comparison`` needs the same ``--pretrained``.

    Returns:
        The :class:`ComparisonReport`.

    Raises:
        InvalidParameterError: For an empty strategy list, a non-positive budget or bad seeds.
        recsearch.study.worker.Interrupted: SIGINT/SIGTERM stopped it (rerun to resume).

    Example:
        >>> report = run_comparison(dataset="synthetic", space="hpo",
        ...                         strategies=["random", "tpe", "hyperband"], seeds=3,
        ...                         budget=10, out_dir="report")  # doctest: +SKIP
    """
    from recsearch.storage import open_storage
    from recsearch.study.callables import allow

    names = [str(s) for s in strategies]
    _check(names, strategies, budget, budget_epochs_per_trial, metric, workers)
    # NOTE: what this call names is this process's own choice (issue 14 #3).
    given = [r for r in (dataset, space, _ref(objective)) if isinstance(r, str)]
    allow(*given)
    seed_list = _seeds(seeds)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = dict(dataset_options or {})
    cap = max_trials or int(20 * budget / budget_epochs_per_trial) + 20
    loaded = _load(dataset, options)
    cs, space_name = _space(space, loaded)
    dataset_ref = str(dataset) if isinstance(dataset, (str, os.PathLike)) else loaded.name
    from recsearch.study.pretrained import load

    source = None if pretrained is None else load(pretrained)
    overrides = Overrides(dataset=loaded, space=cs, objective=objective, pretrained=source)
    cell_uri = (tracking_uri or default_tracking_uri()) if track and track_trials else None

    def cell(strategy: str, seed: int, comparison: str) -> StudySettings:
        return make_settings(
            dataset=dataset_ref, dataset_options=options, space=space_name, strategy=strategy,
            strategy_options=dict((strategy_options or {}).get(strategy, {})), n_trials=cap,
            budget_epochs=budget_epochs_per_trial, seed=seed, metric=metric,
            objective=_ref(objective), cost=cost, kind_options={COMPARISON_OPTION: comparison},
            budget_total=budget, tracking_uri=cell_uri, experiment=experiment, recipe=recipe,
            pretrained=source.fingerprint if source is not None else "",
        )  # fmt: skip

    jobs = [(s, k) for k in seed_list for s in names]
    if name is None:
        identity = [cell(s, k, "").identity() for s, k in jobs]
        digest = hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:8]
        name = f"compare-{Path(space_name).stem}-{digest}"
    store = open_storage(storage if storage is not None else f"journal:{out / JOURNAL}")
    client, cmp_run_id = None, None
    if track:
        client, cmp_run_id = _start_comparison_run(
            tracking_uri, experiment,
            tags={"recsearch.role": "comparison", "dataset": loaded.name, "space": space_name,
                  "strategies": ",".join(names), "metric": metric, "comparison": name},
            params={"budget": budget, "budget_epochs_per_trial": budget_epochs_per_trial,
                    "seeds": ",".join(map(str, seed_list)), "workers": workers,
                    "cost": cost or "",
                    "dataset_options": json.dumps(redact_options(options), default=str),
                    "fidelity": (recipe or {}).get("fidelity", "epochs")},
        )  # fmt: skip
    studies = []
    for strategy, seed in jobs:
        settings, components = prepare(cell(strategy, seed, name), overrides=overrides)
        hook = base_hook(settings, components.space) if base_first else None
        study, _ = create_in(store, f"{name}.{strategy}.s{seed}", settings, components.directions,
                             on_create=hook)  # fmt: skip
        if track_trials and cmp_run_id and PARENT_RUN_ATTR not in study.user_attrs:
            study.set_user_attr(PARENT_RUN_ATTR, cmp_run_id)
        studies.append(study)
    cells = [s.study_name for s in studies]
    if workers == 1:
        interrupted = run_cells(store, cells, overrides=overrides, device=device)
    else:
        url = str(store.recsearch_url)
        # NOTE: a loaded Dataset travels to the processes only when it was given as one.
        sent = Overrides(
            dataset=None if isinstance(dataset, (str, os.PathLike)) else loaded,
            space=None if isinstance(space, str) else cs,
            objective=objective,
            pretrained=source,
        )
        interrupted = _run_in_processes(url, cells, workers, sent, device, given)
    if interrupted is not None:
        raise Interrupted(interrupted)
    maximize = metric == "auc"
    report = write_report(
        [cell_result(s, settings_of(s, s.study_name)) for s in studies],
        out_dir=out,
        metric=metric,
        maximize=maximize,
        budget=float(budget),
        strategies=names,
        cost=cost,
        settings={
            "dataset": loaded.name, "dataset_options": options, "space": space_name,
            "strategies": names, "seeds": seed_list, "budget": budget,
            "budget_epochs_per_trial": budget_epochs_per_trial, "metric": metric, "cost": cost,
            "workers": workers, "comparison": name,
            "recipe": dict(cell(names[0], seed_list[0], name).recipe),
            "storage": _redacted(str(getattr(store, "recsearch_url", ""))),
        },
    )  # fmt: skip
    if client is not None and cmp_run_id is not None:
        _finish_comparison_run(client, cmp_run_id, report)
        report = dataclasses.replace(report, mlflow_run_id=cmp_run_id)
    return report


def _redacted(url: str) -> str:
    from recsearch.storage import _redact

    return _redact(url)


def _start_comparison_run(
    tracking_uri: str | None,
    experiment: str,
    *,
    tags: Mapping[str, Any],
    params: Mapping[str, Any],
) -> tuple[Any, str | None]:
    from mlflow.entities import Param

    from recsearch.trackers import MLflowTracker
    from recsearch.trackers import sanitize_key
    from recsearch.trackers import truncate_value

    try:
        tracker = MLflowTracker(tracking_uri, experiment=experiment)
        client = tracker.client
        # NOTE: a rerun resumes the comparison, so it resumes its MLflow run too (one run per
        # comparison name in the experiment, as the cells' studies are one per name).
        name = str(tags["comparison"]).replace("'", "\\'")
        found = client.search_runs(
            [tracker.experiment_id],
            filter_string=f"tags.comparison = '{name}' and tags.`recsearch.role` = 'comparison'",
            max_results=1,
        )
        if found:
            run_id = found[0].info.run_id
            client.update_run(run_id, status="RUNNING")
            return client, str(run_id)
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
    import numpy as np
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
        for path in report.files.values():  # NOTE: not the journal that may share the folder
            client.log_artifact(run_id, str(path), artifact_path="report")
        client.set_terminated(run_id, status="FINISHED")
    except Exception as err:  # NOTE: tracking never fails the comparison
        _logger.warning("MLflow tracking of the comparison failed: %s", err)
