"""The one module for what recsearch takes from its dependencies' internals.

Each hook below is a private name of Optuna, ConfigSpace or SMAC3 that recsearch relies on,
checked by ``tests/test_internals.py`` against the installed versions; the upper bounds in
``pyproject.toml`` are the versions these hooks were checked with. When an upgrade changes one,
that test names the hook and what moved. New code reaches these internals through the functions
here, never by their private names.

Sections: ``optuna`` (storages, trial and study ids, heartbeats, the enqueue attribute),
``configspace`` (the condition DAG, vector distributions), ``smac`` (the acquisition maximizer's
local search). The journal repair of issue 14 belongs in a ``journal`` section here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from typing import Any

from optuna.storages._heartbeat import BaseHeartbeat

if TYPE_CHECKING:
    import optuna
    from ConfigSpace import ConfigurationSpace
    from optuna.storages import BaseStorage

__all__ = [
    "FIXED_PARAMS_ATTR",
    "SMAC_HOOKS",
    "BaseHeartbeat",
    "minimum_conditions",
    "stale_trial_ids",
    "storage_of",
    "study_id_of",
    "trial_id_of",
    "vector_dist",
]

# ------------------------------------------------------------------------------------ optuna
FIXED_PARAMS_ATTR = "fixed_params"
"""The trial system attribute where ``Study.enqueue_trial`` keeps an enqueued trial's params."""


def storage_of(study: optuna.Study) -> BaseStorage:
    """The storage object of a study (``Study._storage``)."""
    return study._storage  # type: ignore[no-any-return]


def study_id_of(study: optuna.Study) -> int:
    """The storage's id of a study (``Study._study_id``)."""
    return int(study._study_id)


def trial_id_of(trial: optuna.Trial | optuna.trial.FrozenTrial) -> int:
    """The storage's id of a trial (``_trial_id`` of a running or frozen trial)."""
    return int(trial._trial_id)


def stale_trial_ids(storage: BaseStorage, study_id: int) -> list[int]:
    """Trials the storage's heartbeat finds stale (``BaseHeartbeat._get_stale_trial_ids``)."""
    return list(storage._get_stale_trial_ids(study_id))  # type: ignore[attr-defined]


# ------------------------------------------------------------------------------- configspace
def minimum_conditions(space: ConfigurationSpace) -> list[Any]:
    """The space's conditions in evaluation order (``ConfigurationSpace._dag``)."""
    return list(space._dag.minimum_conditions)


def vector_dist(hp: Any) -> Any:
    """The distribution a hyperparameter samples vectors from (``_vector_dist``)."""
    return hp._vector_dist


# -------------------------------------------------------------------------------------- smac
SMAC_HOOKS: tuple[tuple[str, str, str], ...] = (
    (
        "smac.acquisition.maximizer.local_and_random_search",
        "LocalAndSortedRandomSearch",
        "_maximize",
    ),
    ("smac.acquisition.maximizer.local_search", "LocalSearch", "_get_initial_points"),
)
"""(module, class, private method) of SMAC3 that ``recsearch.strategies._smac`` calls or wraps:
the maximizer's ``_maximize`` and its local search's ``_get_initial_points`` (made
order-stable)."""
