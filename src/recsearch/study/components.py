"""What settings resolve to: data set, space, strategy, objective and tracker, once per process.

:func:`resolve` builds :class:`Components` from :class:`~recsearch.study.settings.StudySettings`
plus what only the worker's own command line says (its index, device, tracking URI, a data file
at another path). Everything a study needs is built here and nowhere else; a process resolves its
components once and hands them to the worker loop.

Which objective a study runs is decided by its kind (:data:`KIND_OBJECTIVES`): a new kind adds a
module with an objective factory at the path named there. Factories are called as
``factory(dataset, space, *, metric, budget, seed, hooks, cost=..., device=..., settings=...)``
(``cost`` only when set, ``device`` only when the worker was given one, ``settings`` only for
kinds other than ``search``).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import optuna

from recsearch._internals import halving_settings
from recsearch.errors import InvalidParameterError
from recsearch.redact import usable_options
from recsearch.redact import usable_url
from recsearch.study.callables import check_allowed
from recsearch.study.settings import StudySettings
from recsearch.study.settings import is_ref

if TYPE_CHECKING:
    from ConfigSpace import ConfigurationSpace

    from recsearch.data.schema import Dataset
    from recsearch.data.schema import Schema
    from recsearch.study.pretrained import Pretrained
    from recsearch.study.tracking import StudyTracker

__all__ = [
    "KIND_OBJECTIVES",
    "Components",
    "Overrides",
    "Strategy",
    "build_objective",
    "build_space",
    "build_strategy",
    "load_dataset",
    "resolve",
    "worker_seed",
]

KIND_OBJECTIVES: Mapping[str, str] = {
    "search": "recsearch.objectives:CTRObjective",
    "retrain": "recsearch.study.retraining:RetrainObjective",
    "fidelity": "recsearch.study.fidelity:FidelityObjective",
}
"""The objective factory of each study kind, as ``module:callable`` (imported when used)."""

ObjectiveFactory = Callable[..., Callable[[optuna.Trial], Any]]


@dataclass(frozen=True)
class Strategy:
    """A sampler, its pruner and its ``meta`` (name and arguments, logged by the tracker)."""

    sampler: optuna.samplers.BaseSampler
    pruner: optuna.pruners.BasePruner
    meta: Mapping[str, Any]


@dataclass(frozen=True)
class Overrides:
    """Python objects that replace what the settings name (in-process callers only).

    A comparison given a loaded Dataset, a ConfigurationSpace or an objective function runs
    its cells with these; workers started elsewhere rebuild from the settings. ``pretrained``
    is the source model this process's own ``--pretrained`` named (the settings hold only its
    fingerprint, :mod:`recsearch.study.pretrained`).
    """

    dataset: Dataset | None = None
    space: ConfigurationSpace | None = None
    objective: ObjectiveFactory | None = None
    pretrained: Pretrained | None = None


@dataclass(frozen=True)
class Components:
    """Everything one process needs to run a study's trials.

    Attributes:
        settings: The settings they were built from (with this machine's data set path).
        dataset: The loaded data set.
        space: The configuration space.
        strategy: Sampler, pruner and meta, seeded for this worker.
        objective: The Optuna objective (its hooks include the tracker).
        directions: The study's optimisation directions.
        tracker: The tracker, or ``None`` when tracking is off.
    """

    settings: StudySettings
    dataset: Dataset
    space: ConfigurationSpace
    strategy: Strategy
    objective: Callable[[optuna.Trial], Any]
    directions: list[str]
    tracker: StudyTracker | None = field(default=None)


def worker_seed(settings: StudySettings, worker_index: int | None) -> int:
    """The sampler seed of worker ``i``: ``seed + 1000 * i`` (the pid when ``None``)."""
    index = worker_index if worker_index is not None else os.getpid()
    return (settings.seed + 1000 * index) % 2**31


def _resolve(ref: str, what: str) -> Any:
    """Import ``module:callable``; the one place settings turn into imported code."""
    if ref not in KIND_OBJECTIVES.values():
        check_allowed(ref, what)  # NOTE: never code that only the storage names (issue 14 #3)
    module_name, _, attr = ref.partition(":")
    try:
        module = importlib.import_module(module_name)
        return getattr(module, attr)
    except (ImportError, AttributeError) as exc:
        raise InvalidParameterError(f"{what} {ref!r}: cannot import it ({exc})") from None


def load_dataset(settings: StudySettings) -> Dataset:
    """The data set named by the settings."""
    options = usable_options(settings.dataset_options)
    if is_ref(settings.dataset):
        return _resolve(settings.dataset, "dataset")(**options)  # type: ignore[no-any-return]
    from recsearch import data

    return data.load(usable_url(settings.dataset, env="RECSEARCH_DATASET") or "", **options)


def build_space(settings: StudySettings, schema: Schema) -> ConfigurationSpace:
    """The ConfigurationSpace named by the settings."""
    if is_ref(settings.space):
        obj = _resolve(settings.space, "space")
        return obj(schema) if callable(obj) else obj  # type: ignore[no-any-return]
    from recsearch import spaces

    available = dict(spaces.available())
    if settings.space not in available:
        raise InvalidParameterError(
            f"unknown space {settings.space!r}; choose one of: {', '.join(sorted(available))}"
        )
    return spaces.preset(settings.space, schema)


def build_strategy(settings: StudySettings, space: ConfigurationSpace, *, seed: int) -> Strategy:
    """The sampler and pruner named by the settings, seeded with ``seed``."""
    options = dict(settings.strategy_options)
    from recsearch.oneshot import study as oneshot_study

    if oneshot_study.split_name(settings.strategy):
        made = oneshot_study.strategy_for(settings.strategy, space, seed=seed, options=options)
    elif is_ref(settings.strategy):
        made = _resolve(settings.strategy, "strategy")(space, seed=seed, **options)
    else:
        from recsearch import strategies

        available = dict(strategies.available())
        if settings.strategy not in available:
            raise InvalidParameterError(
                f"unknown strategy {settings.strategy!r}; choose one of: "
                f"{', '.join(sorted(available))}"
            )
        made = strategies.create(settings.strategy, space, seed=seed, **options)
    if isinstance(made, optuna.samplers.BaseSampler):
        return Strategy(made, optuna.pruners.NopPruner(), {"name": settings.strategy})
    # NOTE: a custom strategy callable may return any object with a sampler (pruner, meta optional)
    pruner = getattr(made, "pruner", None) or optuna.pruners.NopPruner()
    meta = dict(getattr(made, "meta", None) or {})
    halving = _rows_halving(settings, pruner)
    if halving is not None:
        pruner, meta = halving, {**meta, "pruner": type(halving).__name__}
    return Strategy(made.sampler, pruner, meta)


def _rows_halving(settings: StudySettings, pruner: Any) -> optuna.pruners.BasePruner | None:
    """Successive halving for a Hyperband pruner on the rows fidelity (``Recipe.halving``)."""
    recipe = settings.recipe or {}
    if recipe.get("fidelity") != "rows" or recipe.get("halving", "successive") != "successive":
        return None
    if not isinstance(pruner, optuna.pruners.HyperbandPruner):
        return None
    low, eta, _ = halving_settings(pruner)
    return optuna.pruners.SuccessiveHalvingPruner(min_resource=low, reduction_factor=eta)


def build_objective(
    settings: StudySettings,
    dataset: Dataset,
    space: ConfigurationSpace,
    *,
    hooks: Sequence[Any] = (),
    device: str | None = None,
    factory: ObjectiveFactory | None = None,
    pretrained: Pretrained | None = None,
) -> Callable[[optuna.Trial], Any]:
    """The Optuna objective of the settings' kind (or ``settings.objective``, or ``factory``).

    ``pretrained`` (a fine-tuning space's source model) reaches the factory as ``pretrained=``
    (its state dict) only when given.
    """
    if factory is None:
        ref = KIND_OBJECTIVES[settings.kind] if settings.objective == "ctr" else settings.objective
        factory = _resolve(ref, "objective")
    kwargs: dict[str, Any] = {
        "metric": settings.metric,
        "budget": settings.budget_epochs,
        "seed": settings.seed,
        "hooks": tuple(hooks),
    }
    if settings.cost is not None:
        kwargs["cost"] = settings.cost
    if device is not None:
        kwargs["device"] = device
    if pretrained is not None:
        kwargs["pretrained"] = pretrained.state
    if settings.recipe and settings.kind == "search" and settings.objective == "ctr":
        kwargs["recipe"] = dict(settings.recipe)  # NOTE: the recipe the study was made with
    if settings.kind != "search":
        kwargs["settings"] = settings
    objective = factory(dataset, space, **kwargs)
    from recsearch.oneshot import study as oneshot_study

    if settings.kind == "search" and oneshot_study.split_name(settings.strategy):
        # NOTE: the one-shot search runs as the study's first trial (recsearch.oneshot.study).
        return oneshot_study.objective_for(
            settings.strategy, objective, options=dict(settings.strategy_options)
        )
    return objective


def _directions(settings: StudySettings, objective: Any) -> list[str]:
    dirs = getattr(objective, "directions", None)
    if dirs:
        return [d if isinstance(d, str) else d.name.lower() for d in dirs]
    first = "maximize" if settings.metric == "auc" else "minimize"
    return [first, "minimize"] if settings.cost is not None else [first]


def resolve(
    settings: StudySettings,
    *,
    worker_index: int | None = 0,
    tracking_uri: str | None = None,
    track: bool = True,
    device: str | None = None,
    overrides: Overrides | None = None,
) -> Components:
    """Build a study's components once (data set, space, strategy, tracker, objective).

    Args:
        settings: The study's settings.
        worker_index: Seeds the sampler (:func:`worker_seed`).
        tracking_uri: Overrides the recorded MLflow URI (``"none"`` turns tracking off).
        track: ``False`` builds no tracker (checking settings before a study exists).
        device: Passed to the objective (``auto``, ``cpu``, ``cuda``, ``cuda:N``); ``None``
            leaves the objective's default.
        overrides: Python objects replacing what the settings name.

    Raises:
        InvalidParameterError: Unknown data set, space, strategy or objective; a fine-tuning
            space without its source model, or one that does not fit (named).
        StudyMismatchError: A source model other than the study's.
    """
    from recsearch.study.pretrained import check_pretrained

    over = overrides or Overrides()
    dataset = over.dataset if over.dataset is not None else load_dataset(settings)
    space = over.space if over.space is not None else build_space(settings, dataset.schema)
    if over.objective is None and settings.kind != "fidelity":
        check_pretrained(settings, over.pretrained, dataset, space)
    strategy = build_strategy(settings, space, seed=worker_seed(settings, worker_index))
    tracker = None
    if track:
        from recsearch.study.tracking import make_tracker

        tracker = make_tracker(settings, tracking_uri)
    objective = build_objective(
        settings,
        dataset,
        space,
        hooks=(tracker,) if tracker is not None else (),
        device=device,
        factory=over.objective,
        pretrained=over.pretrained,
    )
    return Components(
        settings=settings,
        dataset=dataset,
        space=space,
        strategy=strategy,
        objective=objective,
        directions=_directions(settings, objective),
        tracker=tracker,
    )
