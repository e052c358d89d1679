"""Studies on a storage: create (or find the same one), load, count, summarise, enqueue cells.

Which trials count: COMPLETE and PRUNED ones. FAILED trials do not count, so a failed trial is in
effect retried with a new configuration; a trial whose worker died is retried once with the same
configuration (:func:`recsearch.storage.retry_trial`).
"""

from __future__ import annotations

import dataclasses
import json
from collections import Counter
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import TrialState

from recsearch.errors import StorageError
from recsearch.failures import NOT_COUNTED
from recsearch.failures import failure_kind
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.study.components import Components
from recsearch.study.components import Overrides
from recsearch.study.components import resolve
from recsearch.study.settings import STUDY_ATTR
from recsearch.study.settings import StudyKind
from recsearch.study.settings import StudyMismatchError
from recsearch.study.settings import StudySettings
from recsearch.study.settings import default_study_name
from recsearch.study.settings import make_settings
from recsearch.study.settings import schema_difference
from recsearch.study.settings import schema_fingerprint
from recsearch.study.settings import schema_record

__all__ = [
    "COUNTED_STATES",
    "StudyCounts",
    "check_schema",
    "create_study",
    "enqueue_missing",
    "failure_summary",
    "load_study",
    "prepare",
    "settings_of",
    "study_counts",
]

COUNTED_STATES = (TrialState.COMPLETE, TrialState.PRUNED)

Enqueue = Callable[[optuna.Study, Components], None]
"""Called once when a study is created, e.g. to enqueue the base configuration first."""


def settings_of(study: optuna.Study | optuna.study.StudySummary, name: str) -> StudySettings:
    """The settings a recsearch study stores."""
    raw = study.user_attrs.get(STUDY_ATTR)
    if not isinstance(raw, Mapping):
        raise StudyMismatchError(f"study {name!r} was not created by recsearch (no settings)")
    return StudySettings.from_dict(raw)


def _open(storage: str | BaseStorage | None, **kwargs: Any) -> BaseStorage:
    from recsearch.storage import open_storage

    return storage if isinstance(storage, BaseStorage) else open_storage(storage, **kwargs)


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
    from recsearch.storage import _redact

    store = _open(storage, must_exist=True)
    try:
        study = optuna.load_study(
            study_name=study_name, storage=store, sampler=sampler, pruner=pruner
        )
    except KeyError:
        names = optuna.get_all_study_names(store)
        where = getattr(store, "recsearch_url", "the storage")
        known = f"; studies there: {', '.join(names[:10])}" if names else "; it holds no studies"
        raise StorageError(
            f"no study named {study_name!r} in {_redact(str(where))}{known}"
        ) from None
    return study, settings_of(study, study_name)


def prepare(
    settings: StudySettings, *, overrides: Overrides | None = None, track: bool = False, **kw: Any
) -> tuple[StudySettings, Components]:
    """Resolve the components once, so bad input fails before the storage is touched.

    Returns the settings with the data set's schema (and the source model's fingerprint, from
    ``overrides.pretrained``) recorded, and the components.
    """
    given = overrides.pretrained if overrides is not None else None
    settings = dataclasses.replace(settings, pretrained=given.fingerprint if given else "")
    components = resolve(settings, overrides=overrides, track=track, **kw)
    schema = components.dataset.schema
    settings = dataclasses.replace(
        settings, schema_fingerprint=schema_fingerprint(schema), schema=schema_record(schema)
    )
    return settings, dataclasses.replace(components, settings=settings)


def create_in(
    store: BaseStorage,
    study_name: str | None,
    settings: StudySettings,
    directions: Sequence[str],
    *,
    on_create: Callable[[optuna.Study], None] | None = None,
) -> tuple[optuna.Study, StudySettings]:
    """Create the study in ``store``, or return the existing one after checking it is the same.

    ``on_create`` runs once, right after the study is created (the base-first enqueue point).
    """
    name = study_name or default_study_name(settings)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if name in optuna.get_all_study_names(store):
        study, recorded = load_study(study_name=name, storage=store)
        check_same(name, recorded, settings)
        return study, recorded
    study = optuna.create_study(study_name=name, storage=store, directions=list(directions))
    study.set_user_attr(STUDY_ATTR, settings.to_dict())
    if on_create is not None:
        on_create(study)
    return study, settings


def base_hook(
    settings: StudySettings,
    space: Any,
    then: Callable[[optuna.Study], None] | None = None,
) -> Callable[[optuna.Study], None] | None:
    """The ``on_create`` hook of a new search study: its base first (issue 11), then ``then``.

    Queue-only kinds enqueue their own cells, so for them the hook is ``then`` alone.
    """
    if settings.kind != "search":
        return then

    def hook(study: optuna.Study) -> None:
        from recsearch.spaces.presets import enqueue_base

        enqueue_base(study, space)
        if then is not None:
            then(study)

    return hook


def check_schema(name: str, recorded: StudySettings, fingerprint: str, schema: Any) -> None:
    """Refuse a data set whose schema differs from the recorded one, naming the difference."""
    if recorded.schema_fingerprint == fingerprint:
        return
    diff = schema_difference(recorded.schema, schema_record(schema)) if schema else ""
    raise StudyMismatchError(
        f"study {name!r}: the data set's schema (fingerprint {fingerprint}) differs from the "
        f"one the study was created with ({recorded.schema_fingerprint})"
        + (f": {diff}" if diff else "")
    )


def check_same(name: str, recorded: StudySettings, wanted: StudySettings) -> None:
    """Refuse to resume ``name`` with other settings or another data set schema."""
    if recorded.schema_fingerprint != wanted.schema_fingerprint:
        diff = schema_difference(recorded.schema, wanted.schema)
        raise StudyMismatchError(
            f"study {name!r}: the data set's schema (fingerprint {wanted.schema_fingerprint}) "
            f"differs from the one the study was created with ({recorded.schema_fingerprint})"
            + (f": {diff}" if diff else "")
        )
    a, b = recorded.identity(), wanted.identity()
    keys = [*a, *(k for k in b if k not in a)]
    diff = [f"{k}: {a.get(k)!r} (recorded) != {b.get(k)!r}" for k in keys if a.get(k) != b.get(k)]
    if diff:
        raise StudyMismatchError(
            f"study {name!r} exists with other settings ({'; '.join(diff)}); "
            "pick another --study name"
        )


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
    metric: str = "auc",
    dataset_options: Mapping[str, Any] | None = None,
    strategy_options: Mapping[str, Any] | None = None,
    objective: str = "ctr",
    cost: str | None = None,
    kind: StudyKind = "search",
    kind_options: Mapping[str, Any] | None = None,
    budget_total: float | None = None,
    tracking_uri: str | None = "default",
    experiment: str = "recsearch",
    on_create: Callable[[optuna.Study], None] | None = None,
    recipe: Mapping[str, Any] | None = None,
    base_first: bool = True,
    pretrained: Any = None,
) -> tuple[optuna.Study, StudySettings]:
    """Create a recsearch study, or return the existing one with the same settings.

    Everything is checked (data set loads, space and strategy exist, objective builds) before
    anything is written to the storage.

    Args:
        study_name: ``None`` derives a stable name from the settings (:func:`default_study_name`).
        storage: URL or storage (see :mod:`recsearch.storage`); ``None`` is the local journal.
        dataset: Data set name, file path or ``module:callable``.
        space: Space preset name or ``module:callable(schema)``.
        strategy: Strategy name or ``module:callable(space, seed=..., **options)``.
        n_trials: Target number of complete plus pruned trials.
        budget_epochs: Training epochs of one trial.
        seed: Base seed.
        metric: Validation metric.
        dataset_options: Loader options (``path=`` for ``--dataset-path``).
        strategy_options: Strategy options.
        objective: ``ctr`` (the kind's objective) or ``module:callable`` with its signature.
        cost: Cost measure as a second objective.
        kind: ``search``, or a queue-only kind (``retrain``, ``fidelity``) whose workers run
            only enqueued trials (see :func:`enqueue_missing`).
        kind_options: Kind-specific JSON, given to the kind's objective through its settings.
        budget_total: Stop once finished trials spent this many epoch-equivalents.
        tracking_uri: MLflow URI recorded for the workers; ``"default"`` is ``MLFLOW_TRACKING_URI``
            or ``sqlite:///<cwd>/mlflow.db``; ``None`` turns tracking off.
        experiment: MLflow experiment name.
        on_create: Called with the new study right after it is created (not when it exists).
        recipe: Fields of the training :class:`~recsearch.objectives.recipe.Recipe` that differ
            from its defaults (``{"fidelity": "rows"}``); stored in the settings.
        base_first: A new search study runs the space's base (its default configuration)
            first (:func:`base_hook`).
        pretrained: A fine-tuning space's source model: a path, an MLflow model URI or a
            :class:`~recsearch.study.pretrained.Pretrained`; the study stores its fingerprint.

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
    settings = make_settings(
        dataset=dataset, space=space, strategy=strategy, n_trials=n_trials,
        budget_epochs=budget_epochs, seed=seed, metric=metric,  # type: ignore[arg-type]
        dataset_options=dataset_options, strategy_options=strategy_options, objective=objective,
        cost=cost, kind=kind, kind_options=kind_options, budget_total=budget_total,
        tracking_uri=tracking_uri, experiment=experiment, recipe=recipe,
    )  # fmt: skip
    over = None
    if pretrained is not None:
        from recsearch.study.pretrained import load

        over = Overrides(pretrained=load(pretrained))
    settings, components = prepare(settings, overrides=over)
    return create_in(
        _open(storage), study_name, settings, components.directions,
        on_create=base_hook(settings, components.space, on_create) if base_first else on_create,
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
    """Failed trials grouped by their ``failure`` text, most frequent first.

    Trials that never ran (surplus, over budget) are left out.

    Example:
        >>> failure_summary(optuna.create_study())
        []
    """
    reasons: Counter[str] = Counter()
    for t in study.get_trials(deepcopy=False, states=(TrialState.FAIL,)):
        if failure_kind(t) in NOT_COUNTED:
            continue
        reason = str(t.user_attrs.get(USER_ATTR_FAILURE) or "unknown (no reason recorded)")
        reasons[reason.splitlines()[0][:200]] += 1
    return reasons.most_common()


def _key(params: Mapping[str, Any]) -> str:
    return json.dumps(dict(params), sort_keys=True, default=str)


def enqueue_missing(study: optuna.Study, cells: Sequence[Mapping[str, Any]]) -> list[int]:
    """Enqueue each cell (fixed params) that has no COMPLETE, WAITING or RUNNING trial yet.

    The cells of a queue-only study (e.g. ``{"cell": 3}``) are enqueued with this; rerunning
    it after an interruption enqueues only what is missing.

    Returns:
        The indices (into ``cells``) that were enqueued.

    Example:
        >>> study = optuna.create_study()
        >>> enqueue_missing(study, [{"cell": 0}, {"cell": 1}])
        [0, 1]
        >>> enqueue_missing(study, [{"cell": 0}, {"cell": 1}, {"cell": 2}])
        [2]
    """
    live = (TrialState.COMPLETE, TrialState.WAITING, TrialState.RUNNING)
    have = set()
    for t in study.get_trials(deepcopy=False, states=live):
        fixed = t.system_attrs.get("fixed_params")
        have.add(_key(fixed if isinstance(fixed, Mapping) else t.params))
    out = []
    for i, params in enumerate(cells):
        key = _key(params)
        if key in have:
            continue
        study.enqueue_trial(dict(params), skip_if_exists=False)
        have.add(key)
        out.append(i)
    return out
