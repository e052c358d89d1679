"""Study creation and resume, the worker loop, storages, signals and local worker processes.

A recsearch study is an ordinary Optuna study whose user attribute ``recsearch`` holds everything a
worker needs (:class:`StudySettings`: dataset and its options, space preset, strategy and its
options, objective, metric, budget, seed, the target number of trials, the tracking URI and a
fingerprint of the data set's schema). :func:`create_study` writes it once; :func:`run_worker`
rebuilds data set, space, strategy and objective from it and runs trials until the study holds
``n_trials`` finished trials; :func:`run` does both and starts local worker processes.

Which trials count: COMPLETE and PRUNED ones. FAILED trials do not count, so a failed trial is in
effect retried with a new configuration; a trial whose worker died is retried once with the same
configuration (:func:`retry_trial`, with the semantics of Optuna's
``RetryHeartbeatStaleTrialCallback``). Before a worker starts a trial it checks that finished
plus running trials are below the target, and a trial that turns out to be beyond the target
anyway (two workers raced) fails at once as ``surplus`` before any training, so a study ends with
exactly ``n_trials`` counted trials.

Storages (``--storage``; opened by :mod:`recsearch.storage`, whose names this module re-exports):

- no URL: a journal file, ``recsearch-journal.log`` in the working directory. The journal storage
  appends operations to one file under a file lock, so several worker processes write at once
  without SQLite's ``database is locked`` errors; that is why it is the local default. Optuna's
  journal storage has no heartbeat, so recsearch adds one (a trial system attribute refreshed
  every ``heartbeat`` seconds).
- ``journal:PATH`` (or a bare path): a journal file elsewhere (also on NFS for a few machines).
- ``sqlite:///PATH``: SQLite through SQLAlchemy (one machine, few workers).
- ``postgresql+psycopg://USER:PASSWORD@HOST:PORT/DB`` (or ``mysql+...``): many machines.
  ``scripts/postgres.sh start`` starts a private PostgreSQL cluster and prints such a URL.

Every storage runs heartbeats: a RUNNING trial whose heartbeat is older than the grace period, or
whose worker process on this host no longer exists, is marked failed with the user attribute
``failure`` saying so, its MLflow run is ended by the tracker, and the trial is queued once more.

Signals: SIGINT and SIGTERM mark the running trial failed with ``failure = "interrupted (SIGINT)"``
(the tracker ends its MLflow run), and the worker exits with status 130 (143 for SIGTERM);
running the same command again resumes and runs only the missing trials.
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import gc
import hashlib
import importlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from pathlib import Path
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from recsearch.errors import InvalidParameterError
from recsearch.errors import RecsearchError
from recsearch.errors import StorageError
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.storage import _HOST
from recsearch.storage import DEFAULT_JOURNAL
from recsearch.storage import FAILURE_SURPLUS
from recsearch.storage import FAILURE_WORKER_DIED
from recsearch.storage import SYSTEM_ATTR_WORKER
from recsearch.storage import _first_line
from recsearch.storage import _redact
from recsearch.storage import _stale_handler
from recsearch.storage import fail_stale_trials
from recsearch.storage import open_storage
from recsearch.storage import retry_trial

if TYPE_CHECKING:
    from recsearch.data.schema import Dataset
    from recsearch.data.schema import Schema

__all__ = [
    "DEFAULT_JOURNAL",
    "FAILURE_INTERRUPTED",
    "FAILURE_SURPLUS",
    "FAILURE_WORKER_DIED",
    "STUDY_ATTR",
    "Interrupted",
    "RunResult",
    "StudyMismatchError",
    "StudySettings",
    "WorkerResult",
    "create_study",
    "default_study_name",
    "failure_summary",
    "load_study",
    "open_storage",
    "retry_trial",
    "run",
    "run_worker",
    "schema_fingerprint",
    "study_counts",
]

STUDY_ATTR = "recsearch"
"""The study user attribute holding :class:`StudySettings` as a dict."""

FAILURE_INTERRUPTED = "interrupted"
"""Prefix of the ``failure`` attribute of a trial stopped by SIGINT/SIGTERM."""

COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)
_POLL_S = 0.5


class StudyMismatchError(RecsearchError, ValueError):
    """An existing study was created with other settings or another data set schema."""


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; Optuna marks the running trial failed as for Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum

    @property
    def exit_code(self) -> int:
        """The shell convention: 128 + signal number (130 for SIGINT, 143 for SIGTERM)."""
        return 128 + self.signum


class _Surplus(Exception):
    """The study reached its target while this trial was being created."""


# ---------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class StudySettings:
    """What a worker needs to rebuild a study's objective, stored in the study's user attributes.

    Attributes:
        dataset: A name for :func:`recsearch.data.load`, a file path, or ``module:callable``.
        dataset_options: Keyword options of the loader (``path`` for ``--dataset-path``).
        space: A preset name of :func:`recsearch.spaces.preset` or ``module:callable(schema)``.
        strategy: A name of :func:`recsearch.strategies.create` or ``module:callable``.
        strategy_options: Keyword options of the strategy.
        n_trials: Target number of counted (complete or pruned) trials.
        budget_epochs: Training budget of one trial in epochs.
        seed: Base seed (worker ``i`` seeds its sampler with ``seed + 1000 * i``).
        metric: Validation metric the objective optimises.
        objective: ``ctr`` (:class:`recsearch.objectives.CTRObjective`) or ``module:callable``
            with the same signature.
        cost: A cost measure as a second objective (multi-objective), or ``None``.
        schema_fingerprint: :func:`schema_fingerprint` of the data set at creation.
        tracking_uri: MLflow tracking URI, or ``None`` for no tracking.
        experiment: MLflow experiment name.
        version: recsearch version that created the study.

    Example:
        >>> s = StudySettings(dataset="synthetic", space="autofis", strategy="tpe", n_trials=20)
        >>> StudySettings.from_dict(s.to_dict()) == s
        True
    """

    dataset: str
    space: str
    strategy: str
    n_trials: int
    dataset_options: Mapping[str, Any] = field(default_factory=dict)
    strategy_options: Mapping[str, Any] = field(default_factory=dict)
    budget_epochs: float = 1.0
    seed: int = 0
    metric: Literal["auc", "logloss"] = "auc"
    objective: str = "ctr"
    cost: str | None = None
    schema_fingerprint: str = ""
    tracking_uri: str | None = None
    experiment: str = "recsearch"
    version: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable dict."""
        out = dataclasses.asdict(self)
        out["dataset_options"] = dict(self.dataset_options)
        out["strategy_options"] = dict(self.strategy_options)
        return json.loads(json.dumps(out, default=str))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StudySettings:
        """The inverse of :meth:`to_dict`; unknown keys (a newer recsearch) are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def identity(self) -> dict[str, Any]:
        """The settings that must agree when a study is resumed (not tracking or version)."""
        out = self.to_dict()
        for key in ("tracking_uri", "experiment", "version", "schema_fingerprint"):
            out.pop(key)
        return out


def default_study_name(settings: StudySettings) -> str:
    """A stable name from the settings, so rerunning the same command resumes the same study.

    Example:
        >>> default_study_name(StudySettings("synthetic", "autofis", "tpe", 20))[:22]
        'synthetic-autofis-tpe-'
    """
    digest = hashlib.sha256(
        json.dumps(settings.identity(), sort_keys=True, default=str).encode()
    ).hexdigest()[:8]
    def short(name: str) -> str:
        name = name.rsplit(":", 1)[-1] if _is_ref(name) else name
        return Path(name).stem if "/" in name else name

    parts = (short(settings.dataset), short(settings.space), short(settings.strategy))
    return "-".join(parts) + f"-s{settings.seed}-{digest}"


def schema_fingerprint(schema: Schema) -> str:
    """A short hash of the label and each field's name, kind and vocabulary size.

    Example:
        >>> from recsearch.data import Field, Schema
        >>> len(schema_fingerprint(Schema("y", (Field("a", "categorical", 3),))))
        16
    """
    payload = [schema.label, [(f.name, f.kind, int(f.vocab_size)) for f in schema.fields]]
    return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


# ---------------------------------------------------------------------------------------------
# Components: data set, space, strategy, objective


def _resolve(ref: str, what: str) -> Any:
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidParameterError(f"{what} {ref!r}: cannot import it ({exc})") from None


def _is_ref(name: str) -> bool:
    module, sep, attr = name.partition(":")
    plain = module.replace(".", "").replace("_", "a")
    return bool(sep and module and attr and "/" not in name and plain.isidentifier())


def load_dataset(settings: StudySettings) -> Dataset:
    """The data set named by the settings."""
    if _is_ref(settings.dataset):
        return _resolve(settings.dataset, "dataset")(**dict(settings.dataset_options))
    from recsearch import data

    return data.load(settings.dataset, **dict(settings.dataset_options))


def build_space(settings: StudySettings, schema: Schema) -> Any:
    """The ConfigurationSpace named by the settings."""
    if _is_ref(settings.space):
        obj = _resolve(settings.space, "space")
        return obj(schema) if callable(obj) else obj
    from recsearch import spaces

    available = _available(spaces)
    if available is not None and settings.space not in available:
        raise InvalidParameterError(
            f"unknown space {settings.space!r}; choose one of: {', '.join(sorted(available))}"
        )
    return spaces.preset(settings.space, schema)


def _available(module: Any) -> dict[str, str] | None:
    fn = getattr(module, "available", None)
    return dict(fn()) if callable(fn) else None


@dataclass(frozen=True)
class _Strategy:
    sampler: optuna.samplers.BaseSampler
    pruner: optuna.pruners.BasePruner
    meta: Mapping[str, Any]


def build_strategy(settings: StudySettings, space: Any, *, seed: int) -> _Strategy:
    """The sampler and pruner named by the settings, seeded with ``seed``."""
    options = dict(settings.strategy_options)
    if _is_ref(settings.strategy):
        made = _resolve(settings.strategy, "strategy")(space, seed=seed, **options)
    else:
        from recsearch import strategies

        available = _available(strategies)
        if available is not None and settings.strategy not in available:
            raise InvalidParameterError(
                f"unknown strategy {settings.strategy!r}; choose one of: "
                f"{', '.join(sorted(available))}"
            )
        made = strategies.create(settings.strategy, space, seed=seed, **options)
    if isinstance(made, optuna.samplers.BaseSampler):
        return _Strategy(made, optuna.pruners.NopPruner(), {"name": settings.strategy})
    pruner = getattr(made, "pruner", None) or optuna.pruners.NopPruner()
    meta = dict(getattr(made, "meta", {}) or {})
    return _Strategy(made.sampler, pruner, meta)


def build_objective(
    settings: StudySettings, dataset: Dataset, space: Any, *, hooks: Sequence[Any] = ()
) -> Callable[[optuna.Trial], Any]:
    """The Optuna objective named by the settings (``CTRObjective`` by default)."""
    if settings.objective == "ctr":
        from recsearch.objectives import CTRObjective

        factory: Any = CTRObjective
    else:
        factory = _resolve(settings.objective, "objective")
    kwargs: dict[str, Any] = {
        "metric": settings.metric,
        "budget": settings.budget_epochs,
        "seed": settings.seed,
        "hooks": tuple(hooks),
    }
    if settings.cost is not None:
        kwargs["cost"] = settings.cost
    return factory(dataset, space, **kwargs)


def _directions(settings: StudySettings, objective: Any) -> list[str]:
    dirs = getattr(objective, "directions", None)
    if dirs:
        return [getattr(d, "name", str(d)).lower() for d in dirs]
    first = "maximize" if settings.metric == "auc" else "minimize"
    return [first, "minimize"] if settings.cost is not None else [first]


def _make_tracker(settings: StudySettings, tracking_uri: str | None) -> Any | None:
    uri = tracking_uri if tracking_uri is not None else settings.tracking_uri
    if uri is None or uri.lower() == "none":
        return None
    from recsearch.trackers import MLflowTracker

    return MLflowTracker(uri, experiment=settings.experiment)


def _default_tracking_uri() -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    return f"sqlite:///{Path('mlflow.db').resolve()}"


# ---------------------------------------------------------------------------------------------
# Studies


def _settings_of(study: optuna.Study | optuna.study.StudySummary, name: str) -> StudySettings:
    raw = study.user_attrs.get(STUDY_ATTR)
    if not isinstance(raw, Mapping):
        raise StudyMismatchError(f"study {name!r} was not created by recsearch (no settings)")
    return StudySettings.from_dict(raw)


def load_study(
    *,
    study_name: str,
    storage: str | BaseStorage | None,
    sampler: optuna.samplers.BaseSampler | None = None,
    pruner: optuna.pruners.BasePruner | None = None,
) -> tuple[optuna.Study, StudySettings]:
    """Load an existing recsearch study and its settings.

    Raises:
        StorageError: The storage cannot be opened or holds no study of that name.
        StudyMismatchError: The study was not created by recsearch.
    """
    store = storage if isinstance(storage, BaseStorage) else open_storage(storage, must_exist=True)
    try:
        study = optuna.load_study(study_name=study_name, storage=store, sampler=sampler,
                                  pruner=pruner)
    except KeyError:
        names = optuna.get_all_study_names(store)
        where = getattr(store, "recsearch_url", "the storage")
        known = f"; studies there: {', '.join(names[:10])}" if names else "; it holds no studies"
        raise StorageError(
            f"no study named {study_name!r} in {_redact(str(where))}{known}"
        ) from None
    return study, _settings_of(study, study_name)


def create_study(
    *,
    study_name: str | None = None,
    storage: str | BaseStorage | None = None,
    dataset: str,
    space: str,
    strategy: str,
    n_trials: int,
    budget_epochs: float = 1.0,
    seed: int = 0,
    metric: Literal["auc", "logloss"] = "auc",
    dataset_options: Mapping[str, Any] | None = None,
    strategy_options: Mapping[str, Any] | None = None,
    objective: str = "ctr",
    cost: str | None = None,
    tracking_uri: str | None = "default",
    experiment: str = "recsearch",
    base_first: bool = True,
) -> tuple[optuna.Study, StudySettings]:
    """Create a recsearch study, or return the existing one with the same settings.

    Everything is checked (data set loads, space and strategy exist, objective builds) before
    anything is written to the storage.

    Args:
        study_name: ``None`` derives a stable name from the settings (:func:`default_study_name`).
        storage: URL or storage (see the module docstring); ``None`` is the local journal file.
        dataset: Data set name, file path or ``module:callable``.
        space: Space preset name or ``module:callable(schema)``.
        strategy: Strategy name or ``module:callable(space, seed=..., **options)``.
        n_trials: Target number of complete plus pruned trials.
        budget_epochs: Training epochs of one trial.
        seed: Base seed.
        metric: Validation metric.
        dataset_options: Loader options (``path=`` for ``--dataset-path``).
        strategy_options: Strategy options.
        objective: ``ctr`` or ``module:callable`` with CTRObjective's signature.
        cost: Cost measure as a second objective.
        tracking_uri: MLflow URI recorded for the workers; ``"default"`` is ``MLFLOW_TRACKING_URI``
            or ``sqlite:///<cwd>/mlflow.db``; ``None`` turns tracking off.
        experiment: MLflow experiment name.
        base_first: Enqueue the space's default configuration (its base model) as the first
            trial of a new study (:func:`recsearch.spaces.presets.enqueue_base`).

    Returns:
        The study and its settings.

    Raises:
        StudyMismatchError: A study of that name exists with other settings or another schema.
        StorageError: The storage cannot be opened.
        InvalidParameterError: Unknown data set, space, strategy or objective.

    Example:
        >>> study, settings = create_study(  # doctest: +SKIP
        ...     storage="sqlite:///s.db", dataset="synthetic", space="autofis", strategy="tpe",
        ...     n_trials=20, dataset_options={"n_rows": 2000})
    """
    settings = _settings(
        dataset=dataset, space=space, strategy=strategy, n_trials=n_trials,
        budget_epochs=budget_epochs, seed=seed, metric=metric, dataset_options=dataset_options,
        strategy_options=strategy_options, objective=objective, cost=cost,
        tracking_uri=tracking_uri, experiment=experiment,
    )  # fmt: skip
    settings, directions, cs = _prepare(settings)
    store = storage if isinstance(storage, BaseStorage) else open_storage(storage)
    return _create_in(store, study_name, settings, directions, base=cs if base_first else None)


def _settings(
    *,
    dataset: str,
    space: str,
    strategy: str,
    n_trials: int,
    budget_epochs: float = 1.0,
    seed: int = 0,
    metric: Literal["auc", "logloss"] = "auc",
    dataset_options: Mapping[str, Any] | None = None,
    strategy_options: Mapping[str, Any] | None = None,
    objective: str = "ctr",
    cost: str | None = None,
    tracking_uri: str | None = "default",
    experiment: str = "recsearch",
) -> StudySettings:
    from recsearch import __version__

    if n_trials < 1:
        raise InvalidParameterError(f"The 'n_trials' parameter must be >= 1. Got {n_trials!r}.")
    if budget_epochs <= 0:
        raise InvalidParameterError(
            f"The 'budget_epochs' parameter must be > 0. Got {budget_epochs!r}."
        )
    if metric not in ("auc", "logloss"):
        raise InvalidParameterError(
            f"The 'metric' parameter must be among ('auc', 'logloss'). Got {metric!r} instead."
        )
    if tracking_uri == "default":
        tracking_uri = _default_tracking_uri()
    if not _is_ref(dataset) and Path(dataset).exists():
        dataset = str(Path(dataset).resolve())  # a file: workers elsewhere need the full path
    settings = StudySettings(
        dataset=dataset,
        dataset_options=dict(dataset_options or {}),
        space=space,
        strategy=strategy,
        strategy_options=dict(strategy_options or {}),
        n_trials=int(n_trials),
        budget_epochs=float(budget_epochs),
        seed=int(seed),
        metric=metric,
        objective=objective,
        cost=cost,
        tracking_uri=tracking_uri,
        experiment=experiment,
        version=__version__,
    )
    return settings


def _prepare(settings: StudySettings) -> tuple[StudySettings, list[str], Any]:
    """Build everything once, so bad input fails before the storage is touched."""
    ds = load_dataset(settings)
    cs = build_space(settings, ds.schema)
    build_strategy(settings, cs, seed=settings.seed)
    obj = build_objective(settings, ds, cs)
    settings = dataclasses.replace(settings, schema_fingerprint=schema_fingerprint(ds.schema))
    return settings, _directions(settings, obj), cs


def _create_in(
    store: BaseStorage,
    study_name: str | None,
    settings: StudySettings,
    directions: list[str],
    *,
    base: Any = None,
) -> tuple[optuna.Study, StudySettings]:
    name = study_name or default_study_name(settings)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    existing = [s for s in optuna.get_all_study_names(store) if s == name]
    if existing:
        study, recorded = load_study(study_name=name, storage=store)
        _check_same(name, recorded, settings)
        return study, recorded
    study = optuna.create_study(study_name=name, storage=store, directions=directions)
    study.set_user_attr(STUDY_ATTR, settings.to_dict())
    if base is not None:
        from recsearch.spaces.presets import enqueue_base

        enqueue_base(study, base)  # NOTE: base first (issue 11); the one call a creator makes
    return study, settings


def _check_same(name: str, recorded: StudySettings, wanted: StudySettings) -> None:
    if recorded.schema_fingerprint != wanted.schema_fingerprint:
        raise StudyMismatchError(
            f"study {name!r}: the data set's schema (fingerprint {wanted.schema_fingerprint}) "
            f"differs from the one the study was created with ({recorded.schema_fingerprint})"
        )
    a, b = recorded.identity(), wanted.identity()
    diff = [f"{k}: {a[k]!r} (recorded) != {b[k]!r}" for k in a if a[k] != b.get(k)]
    if diff:
        raise StudyMismatchError(
            f"study {name!r} exists with other settings ({'; '.join(diff)}); "
            "pick another --study name"
        )


@dataclass(frozen=True)
class StudyCounts:
    """Trials of a study by state.

    Example:
        >>> StudyCounts(complete=3, pruned=1).done
        4
    """

    complete: int = 0
    pruned: int = 0
    running: int = 0
    waiting: int = 0
    failed: int = 0

    @property
    def done(self) -> int:
        """Trials that count toward the target: complete plus pruned."""
        return self.complete + self.pruned


def study_counts(study: optuna.Study) -> StudyCounts:
    """Count a study's trials by state."""
    c = Counter(t.state for t in study.get_trials(deepcopy=False))
    return StudyCounts(
        complete=c[TrialState.COMPLETE],
        pruned=c[TrialState.PRUNED],
        running=c[TrialState.RUNNING],
        waiting=c[TrialState.WAITING],
        failed=c[TrialState.FAIL],
    )


def failure_summary(study: optuna.Study) -> list[tuple[str, int]]:
    """Failed trials grouped by their ``failure`` reason, most frequent first (surplus excluded).

    Example:
        >>> failure_summary(optuna.create_study())
        []
    """
    reasons: Counter[str] = Counter()
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        reason = str(t.user_attrs.get(USER_ATTR_FAILURE) or "unknown (no reason recorded)")
        if reason.startswith(FAILURE_SURPLUS):
            continue
        reasons[reason.splitlines()[0][:200]] += 1
    return reasons.most_common()


# ---------------------------------------------------------------------------------------------
# The worker


@dataclass
class WorkerResult:
    """What one worker did.

    Attributes:
        study_name: The study.
        ran: Trials this worker started (surplus ones excluded).
        counts: The study's counts when the worker stopped.
        failures: :func:`failure_summary` of the study.
        interrupted: The signal number that stopped the worker, if any.
    """

    study_name: str
    ran: int
    counts: StudyCounts
    failures: list[tuple[str, int]]
    interrupted: int | None = None


class _TrialRunner:
    """Wraps the objective: surplus check, failure reasons, memory release, signals."""

    def __init__(self, objective: Callable[[optuna.Trial], Any], target: int) -> None:
        self.objective = objective
        self.target = target
        self.current: optuna.Trial | None = None
        self.surplus = False

    def __call__(self, trial: optuna.Trial) -> Any:
        self.current = trial
        self.surplus = False
        storage = trial.storage
        storage.set_trial_system_attr(
            trial._trial_id, SYSTEM_ATTR_WORKER, {"host": _HOST, "pid": os.getpid()}
        )
        ahead = sum(
            1
            for t in trial.study.get_trials(deepcopy=False)
            if t.number < trial.number
            and t.state in (*COUNTED_STATES, TrialState.RUNNING, TrialState.WAITING)
        )
        if ahead >= self.target:
            self.surplus = True
            trial.set_user_attr(
                USER_ATTR_FAILURE, f"{FAILURE_SURPLUS}: the study already has its trials"
            )
            raise _Surplus(f"trial {trial.number} is beyond the target of {self.target}")
        try:
            return self.objective(trial)
        except Interrupted as exc:
            with contextlib.suppress(Exception):
                trial.set_user_attr(USER_ATTR_FAILURE, f"{FAILURE_INTERRUPTED} ({exc})")
            raise
        except optuna.TrialPruned:
            raise
        except Exception as exc:
            with contextlib.suppress(Exception):
                if not trial.user_attrs.get(USER_ATTR_FAILURE):
                    trial.set_user_attr(USER_ATTR_FAILURE, _reason(exc))
            raise
        finally:
            _release_memory()


def _reason(exc: BaseException) -> str:
    name = type(exc).__name__
    if isinstance(exc, MemoryError) or "OutOfMemory" in name or "out of memory" in str(exc):
        return f"out of memory: {name}: {_first_line(exc)}"
    return f"{name}: {_first_line(exc)}"


def _release_memory() -> None:
    gc.collect()
    torch = sys.modules.get("torch")
    if torch is not None:
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


@contextlib.contextmanager
def _signals_raise() -> Iterator[None]:
    """SIGINT/SIGTERM raise :class:`Interrupted` in the main thread while the block runs."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        raise Interrupted(signum)

    old = {s: signal.signal(s, handler) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def _set_threads(threads: int | None) -> None:
    """Limit this process's threads; torch is set only if the objective loaded it."""
    if threads is None:
        return
    os.environ["OMP_NUM_THREADS"] = str(threads)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    torch = sys.modules.get("torch")
    if torch is not None:
        torch.set_num_threads(threads)


def run_worker(
    *,
    study_name: str,
    storage: str | BaseStorage | None,
    n_trials: int | None = None,
    worker_index: int | None = None,
    threads: int | None = None,
    tracking_uri: str | None = None,
    heartbeat_interval: int = 10,
    grace_period: int | None = None,
    finalize: bool = True,
    dataset_options: Mapping[str, Any] | None = None,
    on_trial: Callable[[optuna.Study, FrozenTrial], None] | None = None,
) -> WorkerResult:
    """Join an existing study and run trials until it holds its target number of trials.

    Args:
        study_name: The study, created by :func:`create_study`.
        storage: Its storage URL (or storage).
        n_trials: Run at most this many trials in this worker (``None``: until the target).
        worker_index: Seeds the sampler with ``seed + 1000 * worker_index``; ``None`` uses
            the process id, so independent workers explore differently.
        threads: torch threads of this process (``None`` leaves torch's default).
        tracking_uri: Overrides the recorded MLflow URI (``"none"`` turns tracking off).
        heartbeat_interval: Seconds between heartbeats (see :func:`open_storage`).
        grace_period: Seconds without heartbeat before a trial is stale.
        finalize: Call the tracker's ``end_study`` when the study is done.
        dataset_options: Options overriding the recorded loader options (a data file at another
            path on this machine); the schema must still match the recorded fingerprint.
        on_trial: Called after each trial this worker finishes (progress display).

    Returns:
        A :class:`WorkerResult`. When a signal stopped the worker, ``interrupted`` holds it.

    Raises:
        StorageError: Unreachable storage or unknown study; nothing is written.
        StudyMismatchError: The data set's schema differs from the recorded one.

    Example:
        >>> run_worker(study_name="demo", storage="sqlite:///s.db")  # doctest: +SKIP
    """
    store = (
        storage
        if isinstance(storage, BaseStorage)
        else open_storage(
            storage,
            must_exist=True,
            heartbeat_interval=heartbeat_interval,
            grace_period=grace_period,
        )
    )
    study, settings = load_study(study_name=study_name, storage=store)
    if dataset_options:
        options = {**settings.dataset_options, **dataset_options}
        dataset = settings.dataset
        if Path(dataset).is_absolute() and "path" in dataset_options:
            # NOTE: the study's data set is a file; on this machine it lives elsewhere.
            dataset = str(options.pop("path"))
        settings = dataclasses.replace(settings, dataset=dataset, dataset_options=options)
    _set_threads(threads)
    ds = load_dataset(settings)
    fingerprint = schema_fingerprint(ds.schema)
    if fingerprint != settings.schema_fingerprint:
        raise StudyMismatchError(
            f"study {study_name!r}: the data set's schema (fingerprint {fingerprint}) differs "
            f"from the one the study was created with ({settings.schema_fingerprint})"
        )
    space = build_space(settings, ds.schema)
    index = worker_index if worker_index is not None else os.getpid()
    strategy = build_strategy(settings, space, seed=(settings.seed + 1000 * index) % 2**31)
    study = optuna.load_study(
        study_name=study_name, storage=store, sampler=strategy.sampler, pruner=strategy.pruner
    )
    tracker = _start_tracking(settings, study, store, strategy, tracking_uri)
    objective = build_objective(settings, ds, space, hooks=(tracker,) if tracker else ())
    _set_threads(threads)  # again: building the objective may have imported torch
    runner = _TrialRunner(objective, settings.n_trials)
    handler = _stale_handler(store)
    callbacks: list[Callable[[optuna.Study, FrozenTrial], None]] = []
    killed: list[Callable[[optuna.Study, FrozenTrial], None]] = []
    if tracker is not None:
        callbacks.append(tracker)
        killed.append(_killed_callback(tracker))
        if handler is not None:
            handler.trackers.append(killed[0])

    def after_trial(st: optuna.Study, ft: FrozenTrial) -> None:
        if runner.surplus:
            return
        for cb in callbacks:
            _call_tracker(cb, st, ft)
        if on_trial is not None:
            on_trial(st, ft)

    ran = 0
    interrupted: int | None = None
    # NOTE: failed trials are summarised by failure_summary; Optuna's own per-trial warnings
    # (with tracebacks) would bury the progress display.
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    with _signals_raise():
        try:
            fail_stale_trials(study)
            while n_trials is None or ran < n_trials:
                counts = study_counts(study)
                if counts.done >= settings.n_trials:
                    break
                if counts.done + counts.running >= settings.n_trials and counts.waiting == 0:
                    # NOTE: the last trials run elsewhere; they may still fail or die. (Before
                    # each trial, Optuna itself fails stale trials through our storages.)
                    time.sleep(_POLL_S)
                    fail_stale_trials(study)
                    continue
                try:
                    study.optimize(
                        runner, n_trials=1, catch=(Exception,), callbacks=[after_trial],
                        gc_after_trial=False,
                    )
                except Exception:
                    # NOTE: objective errors are caught by Optuna (catch=...); what escapes comes
                    # from telling the storage. When another worker took this live trial for
                    # dead (its heartbeat came later than the grace period, e.g. on an
                    # overloaded machine) and retried it, the result is dropped and the retry
                    # counts; anything else is a real storage problem.
                    current = runner.current
                    if current is None or not _finished_elsewhere(study, current):
                        raise
                    print(
                        f"recsearch: trial {current.number} was failed by another worker as "
                        "dead; its result is dropped (consider a longer --grace)",
                        file=sys.stderr,
                    )
                if not runner.surplus:
                    ran += 1
        except Interrupted as exc:
            interrupted = exc.signum
            _report_interrupted(study, runner, killed)
    counts = study_counts(study)
    if finalize and interrupted is None and counts.done >= settings.n_trials and tracker:
        end = getattr(tracker, "end_study", None)
        if callable(end):
            _call_tracker(end, study)
    return WorkerResult(study_name, ran, counts, failure_summary(study), interrupted)


def _finished_elsewhere(study: optuna.Study, trial: optuna.Trial | None) -> bool:
    if trial is None:
        return False
    try:
        frozen = study._storage.get_trial(trial._trial_id)
    except Exception:  # noqa: BLE001 - the storage is gone: not this case
        return False
    reason = str(frozen.user_attrs.get(USER_ATTR_FAILURE, ""))
    return frozen.state == TrialState.FAIL and reason.startswith(FAILURE_WORKER_DIED)


def _start_tracking(
    settings: StudySettings,
    study: optuna.Study,
    store: BaseStorage,
    strategy: _Strategy,
    tracking_uri: str | None,
) -> Any | None:
    tracker = _make_tracker(settings, tracking_uri)
    if tracker is not None:
        start = getattr(tracker, "start_study", None)
        if callable(start):
            _call_tracker(
                start, study, tags=_tags(settings, store), params=_params(settings, strategy)
            )
    return tracker


def _killed_callback(tracker: Any) -> Callable[[optuna.Study, FrozenTrial], None]:
    """A callback ending a trial's MLflow run KILLED, with its ``failure`` reason as the tag."""
    kill = getattr(tracker, "kill_trial", None)
    if not callable(kill):
        make = getattr(tracker, "stale_trial_callback", None)
        return make() if callable(make) else tracker

    def callback(study: optuna.Study, trial: FrozenTrial) -> None:
        reason = str(trial.user_attrs.get(USER_ATTR_FAILURE) or FAILURE_WORKER_DIED)
        kill(study, trial, reason=reason)

    return callback


def _call_tracker(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    try:
        fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - tracking never stops the search
        print(f"recsearch: tracking failed ({type(exc).__name__}: {_first_line(exc)})",
              file=sys.stderr)


def _report_interrupted(
    study: optuna.Study, runner: _TrialRunner, callbacks: Sequence[Callable[..., Any]]
) -> None:
    """After Ctrl-C: Optuna failed the trial and skipped the callbacks; run them ourselves."""
    trial = runner.current
    if trial is None:
        return
    with contextlib.suppress(Exception):
        frozen = study._storage.get_trial(trial._trial_id)
        if frozen.state == TrialState.RUNNING:
            # The signal came while Optuna was finishing the trial: finish it as interrupted.
            study._storage.set_trial_user_attr(
                trial._trial_id, USER_ATTR_FAILURE, f"{FAILURE_INTERRUPTED} (signal)"
            )
            study._storage.set_trial_state_values(trial._trial_id, TrialState.FAIL)
            frozen = study._storage.get_trial(trial._trial_id)
        if frozen.state == TrialState.FAIL and not runner.surplus:
            for cb in callbacks:
                _call_tracker(cb, study, copy.deepcopy(frozen))


def _tags(settings: StudySettings, storage: BaseStorage) -> dict[str, str]:
    return {
        "strategy": settings.strategy,
        "space": settings.space,
        "dataset": settings.dataset,
        "seed": str(settings.seed),
        "storage": _redact(str(getattr(storage, "recsearch_url", ""))),
        "recsearch.version": settings.version,
    }


def _params(settings: StudySettings, strategy: _Strategy) -> dict[str, Any]:
    out: dict[str, Any] = {
        "n_trials": settings.n_trials,
        "budget_epochs": settings.budget_epochs,
        "metric": settings.metric,
    }
    out.update({f"strategy.{k}": v for k, v in dict(strategy.meta).items()})
    out.update({f"dataset.{k}": v for k, v in dict(settings.dataset_options).items()})
    return out


# ---------------------------------------------------------------------------------------------
# Local runs with N processes


@dataclass
class RunResult:
    """What :func:`run` did.

    Attributes:
        study: The study (loaded without a sampler).
        settings: Its settings.
        counts: Trials by state at the end.
        failures: :func:`failure_summary`.
        interrupted: The signal that stopped the run, if any.
        worker_errors: One line per worker process that exited with an error.
    """

    study: optuna.Study
    settings: StudySettings
    counts: StudyCounts
    failures: list[tuple[str, int]]
    interrupted: int | None = None
    worker_errors: list[str] = field(default_factory=list)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def worker_command(
    *,
    study_name: str,
    storage_url: str,
    worker_index: int,
    threads: int,
    heartbeat_interval: int,
    tracking_uri: str | None = None,
) -> list[str]:
    """The ``recsearch worker`` command line :func:`run` starts for one local worker."""
    cmd = [
        sys.executable, "-m", "recsearch", "worker",
        "--study", study_name,
        "--storage", storage_url,
        "--worker-index", str(worker_index),
        "--threads", str(threads),
        "--heartbeat", str(heartbeat_interval),
        "--no-finalize", "--quiet",
    ]  # fmt: skip
    if tracking_uri is not None:
        cmd += ["--tracking-uri", tracking_uri]
    return cmd


def run(
    *,
    workers: int = 1,
    study_name: str | None = None,
    storage: str | None = None,
    tracking_uri: str | None = "default",
    heartbeat_interval: int = 10,
    progress: Callable[[optuna.Study, StudyCounts], None] | None = None,
    **create_kwargs: Any,
) -> RunResult:
    """Create or resume a study, then run it with ``workers`` local processes.

    With one worker the trials run in this process; with more, ``workers`` ``recsearch worker``
    processes share the storage, each with ``cores // workers`` torch threads and
    ``OMP_WAIT_POLICY=PASSIVE``. SIGINT/SIGTERM stop the run (the workers get SIGINT); running
    the same call again resumes.

    Args:
        workers: Number of worker processes.
        study_name: See :func:`create_study`.
        storage: Storage URL; ``None`` is the local journal file (see the module docstring).
        tracking_uri: See :func:`create_study`.
        heartbeat_interval: See :func:`open_storage`.
        progress: Called with the study and its counts after each trial (or every poll).
        **create_kwargs: The remaining arguments of :func:`create_study`.

    Returns:
        A :class:`RunResult`.

    Example:
        >>> run(dataset="synthetic", space="autofis", strategy="tpe", n_trials=5)  # doctest: +SKIP
    """
    if workers < 1:
        raise InvalidParameterError(f"The 'workers' parameter must be >= 1. Got {workers!r}.")
    base_first = bool(create_kwargs.pop("base_first", True))
    settings, directions, cs = _prepare(_settings(tracking_uri=tracking_uri, **create_kwargs))
    store = open_storage(storage, heartbeat_interval=heartbeat_interval)
    study, settings = _create_in(
        store, study_name, settings, directions, base=cs if base_first else None
    )
    name = study.study_name
    if workers == 1:
        result = run_worker(
            study_name=name,
            storage=store,
            worker_index=0,
            heartbeat_interval=heartbeat_interval,
            on_trial=(lambda st, ft: progress(st, study_counts(st))) if progress else None,
        )
        return RunResult(study, settings, result.counts, result.failures, result.interrupted)
    # NOTE: the parent creates the MLflow store and the parent run once, before the workers
    # start; N processes initialising a fresh SQLite MLflow store at once can hang.
    ds = load_dataset(settings)
    space = build_space(settings, ds.schema)
    strategy = build_strategy(settings, space, seed=settings.seed)
    tracker = _start_tracking(settings, study, store, strategy, None)
    threads = max(1, _cores() // workers)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": str(threads)}
    url = str(getattr(store, "recsearch_url"))
    # NOTE: stderr goes to files, not pipes: a chatty worker must never block on a full pipe.
    logs = [tempfile.TemporaryFile(mode="w+") for _ in range(workers)]
    procs = [
        subprocess.Popen(
            worker_command(
                study_name=name,
                storage_url=url,
                worker_index=i,
                threads=threads,
                heartbeat_interval=heartbeat_interval,
            ),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=logs[i],
            # NOTE: own process group: Ctrl-C reaches the workers once, forwarded by us.
            process_group=0,
        )
        for i in range(workers)
    ]
    interrupted: int | None = None
    with _signals_raise():
        try:
            while any(p.poll() is None for p in procs):
                if progress is not None:
                    progress(study, study_counts(study))
                time.sleep(_POLL_S)
        except Interrupted as exc:
            interrupted = exc.signum
            for p in procs:
                if p.poll() is None:
                    with contextlib.suppress(ProcessLookupError):
                        p.send_signal(signal.SIGINT)
            deadline = time.monotonic() + 30
            for p in procs:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    p.wait(timeout=max(0.1, deadline - time.monotonic()))
                if p.poll() is None:
                    p.kill()
                    p.wait()
    errors = []
    for i, p in enumerate(procs):
        logs[i].seek(0)
        err = logs[i].read().strip()
        logs[i].close()
        if p.returncode not in (0, 130, 143) and interrupted is None:
            last = err.splitlines()[-1] if err else f"exit status {p.returncode}"
            errors.append(f"worker {i}: {last}")
    counts = study_counts(study)
    if progress is not None:
        progress(study, counts)
    if interrupted is None and counts.done >= settings.n_trials:
        end = getattr(tracker, "end_study", None) if tracker else None
        if callable(end):
            _call_tracker(end, study)
    return RunResult(study, settings, counts, failure_summary(study), interrupted, errors)
