"""A one-shot method as a study strategy: the supernet search is the study's first trial.

``--strategy autofis-oneshot`` (or ``autofis-oneshot+smac`` to name the black-box sampler that
follows; ``tpe`` by default) means:

1. the first trial a worker runs that was not enqueued with parameters claims the search (user
   attribute ``recsearch:search_trial``), trains the supernet, records its epoch-equivalents
   as the trial's ``epochs`` (so a budget in epochs charges it) and a summary under
   ``recsearch:oneshot``, enqueues the derived configurations and ends PRUNED: it suggests no
   parameter, so no sampler models it, and no ranking (best trial, top-k) ever picks it;
2. workers whose trial started while the search runs wait for it to end, then train their own
   trial; later trials take the enqueued configurations first (Optuna runs WAITING trials before
   asking the sampler);
3. once those are used up, the black-box sampler proposes the rest, its model seeded with the
   derived configurations' results.

A search trial that failed (or whose worker died) leaves the claim open: the next trial runs
the search again from scratch (the search is seeded, so it finds the same configurations).
The study machinery calls :func:`strategy_for` and :func:`objective_for` (or :func:`wire`) once
per worker process; strategy options named ``oneshot.<key>`` go to the method
(``--strategy-option oneshot.budget=2`` sets the supernet epochs), the rest to the black-box
strategy.

Importing this module does not load torch.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import optuna
from ConfigSpace import ConfigurationSpace
from optuna.trial import TrialState

from recsearch._internals import FIXED_PARAMS_ATTR
from recsearch._internals import trial_id_of
from recsearch.errors import InvalidParameterError
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.oneshot import METHODS

SEARCH_TRIAL_ATTR = "recsearch:search_trial"
"""User attribute: True on the trial that ran (or runs) the supernet search."""
ONESHOT_ATTR = "recsearch:oneshot"
"""User attribute of the search trial: :meth:`OneShotResult.summary` as JSON."""
DERIVED_ATTR = "recsearch:derived_from"
"""User attribute of an enqueued derived configuration: the search trial's number."""
DEFAULT_THEN = "tpe"
ONESHOT_PREFIX = "oneshot."
"""Strategy options with this prefix go to the one-shot method (``oneshot.budget=2``)."""
_CONFIG_ATTR = "recsearch:config"  # NOTE: ConfigSpaceSampler's stored configuration
_LIVE = (TrialState.RUNNING, TrialState.WAITING, TrialState.COMPLETE, TrialState.PRUNED)


def split_name(name: str) -> tuple[str, str] | None:
    """``(method, black-box strategy)`` of a one-shot strategy name, None for any other name.

    Example:
        >>> split_name("autofis-oneshot"), split_name("autodim-oneshot+smac"), split_name("tpe")
        (('autofis-oneshot', 'tpe'), ('autodim-oneshot', 'smac'), None)
    """
    method, _, then = name.partition("+")
    if method not in METHODS:
        return None
    return method, then or DEFAULT_THEN


def listing() -> dict[str, str]:
    """One-shot strategy names with their description and the presets each accepts."""
    return {
        name: f"{desc} One-shot: the supernet is the study's first trial, then {DEFAULT_THEN} "
        f"(name another as {name}+smac). Spaces: {', '.join(presets)}."
        for name, (desc, presets) in METHODS.items()
    }


def is_search_trial(trial: optuna.trial.FrozenTrial | optuna.Trial) -> bool:
    """Whether ``trial`` is a supernet search trial (never a model to rank)."""
    return bool(trial.user_attrs.get(SEARCH_TRIAL_ATTR))


def provenance(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> str | None:
    """Where ``trial``'s configuration came from when a one-shot search derived it, in words.

    Example:
        >>> provenance(study, study.trials[2])  # doctest: +SKIP
        'derived by the autofis-oneshot search (trial 1, 4.02 epoch-equivalents)'
    """
    number = trial.user_attrs.get(DERIVED_ATTR)
    if number is None:
        return None
    method, cost = "one-shot", ""
    searches = [t for t in study.get_trials(deepcopy=False) if t.number == number]
    if searches:
        try:
            summary = json.loads(searches[0].user_attrs.get(ONESHOT_ATTR) or "{}")
        except (TypeError, ValueError):
            summary = {}
        method = str(summary.get("method", method))
        if isinstance(summary.get("epoch_equivalents"), int | float):
            cost = f", {summary['epoch_equivalents']:.2f} epoch-equivalents"
    return f"derived by the {method} search (trial {number}{cost})"


class OneShotObjective:
    """Wraps a :class:`~recsearch.objectives.CTRObjective`: the claiming trial runs the search.

    Args:
        objective: The study's objective; its dataset, space, base, device and seed are the
            search's.
        method: A one-shot method name.
        budget: Supernet epochs (``None``: :func:`recsearch.oneshot.search`'s default).
        options: Method options.
        poll_seconds: How often a waiting worker looks whether the search ended.
        max_wait_seconds: How long a worker waits for a running search at most.

    Example:
        >>> objective = OneShotObjective(CTRObjective(data, space), method="autofis-oneshot")
        ... # doctest: +SKIP
    """

    def __init__(
        self,
        objective: Any,
        *,
        method: str,
        budget: float | None = None,
        options: dict[str, Any] | None = None,
        poll_seconds: float = 2.0,
        max_wait_seconds: float = 6 * 3600.0,
    ) -> None:
        self.objective = objective
        self.method = method
        self.budget = budget
        self.options = options
        self.poll_seconds = poll_seconds
        self.max_wait_seconds = max_wait_seconds

    def __getattr__(self, name: str) -> Any:
        # NOTE: the study machinery reads .directions, .dataset, .space of its objective.
        if name == "objective":
            raise AttributeError(name)
        return getattr(self.objective, name)

    def __call__(self, trial: optuna.Trial) -> Any:
        """Run the search in the claiming trial, else wait for it and train the trial."""
        if self._claim(trial):
            return self._search(trial)
        self._wait(trial.study)
        return self.objective(trial)

    # ------------------------------------------------------------------ internals
    def _claim(self, trial: optuna.Trial) -> bool:
        if is_search_trial(trial):
            return True  # NOTE: enqueued as the search trial
        if trial.storage.get_trial_system_attrs(trial_id_of(trial)).get(FIXED_PARAMS_ATTR):
            return False  # NOTE: an enqueued configuration (a base first, a derived one) runs
        if self._live_search(trial.study, below=None, other_than=trial.number):
            return False
        trial.set_user_attr(SEARCH_TRIAL_ATTR, True)
        # NOTE: two workers may claim at once; the smaller trial number keeps the claim.
        if self._live_search(trial.study, below=trial.number, other_than=trial.number):
            trial.set_user_attr(SEARCH_TRIAL_ATTR, False)
            return False
        return True

    @staticmethod
    def _live_search(study: optuna.Study, *, below: int | None, other_than: int) -> bool:
        for t in study.get_trials(deepcopy=False, states=_LIVE):
            if t.number == other_than or not is_search_trial(t):
                continue
            if below is None or t.number < below:
                return True
        return False

    def _search(self, trial: optuna.Trial) -> Any:
        from recsearch import oneshot
        from recsearch.spaces import params_from_configuration

        study = trial.study
        # NOTE: a ConfigSpace sampler stored a configuration on this trial before it became the
        # search trial; clear it so that no sampler takes it for an evaluated configuration.
        trial.storage.set_trial_system_attr(trial_id_of(trial), _CONFIG_ATTR, None)
        obj = self.objective
        kwargs: dict[str, Any] = {}
        if self.budget is not None:
            kwargs["budget"] = float(self.budget)
        result = oneshot.search(
            obj.space,
            obj.dataset,
            method=self.method,  # type: ignore[arg-type]
            device=obj.device,
            seed=obj.seed,
            base=obj.base,
            options=self.options,
            **kwargs,
        )
        trial.set_user_attr(USER_ATTR_EPOCHS, float(result.epoch_equivalents))
        trial.set_user_attr(ONESHOT_ATTR, json.dumps(result.summary(), sort_keys=True))
        for config in result.configurations:
            study.enqueue_trial(
                params_from_configuration(config),
                user_attrs={DERIVED_ATTR: trial.number},
                skip_if_exists=True,
            )
        raise optuna.TrialPruned(
            f"{self.method} search trial: {len(result.configurations)} configurations "
            f"enqueued, {result.epoch_equivalents:.2f} epoch-equivalents"
        )

    def _wait(self, study: optuna.Study) -> None:
        deadline = time.monotonic() + self.max_wait_seconds
        while time.monotonic() < deadline:
            running = [
                t
                for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
                if is_search_trial(t)
            ]
            if not running:
                return
            time.sleep(self.poll_seconds)


def _parts(name: str) -> tuple[str, str]:
    parts = split_name(name)
    if parts is None:
        raise InvalidParameterError(
            f"{name!r} is not a one-shot strategy; choose one of {', '.join(sorted(METHODS))} "
            "(optionally +<strategy>)."
        )
    return parts


def split_options(options: dict[str, Any] | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(black-box options, one-shot options)`` of a one-shot strategy's options.

    Keys ``oneshot.<key>`` are the method's (``oneshot.budget`` sets the supernet epochs),
    every other key the black-box strategy's.

    Example:
        >>> split_options({"oneshot.budget": 2, "n_startup_trials": 5})
        ({'n_startup_trials': 5}, {'budget': 2})
    """
    inner: dict[str, Any] = {}
    own: dict[str, Any] = {}
    for key, value in (options or {}).items():
        if key.startswith(ONESHOT_PREFIX):
            own[key[len(ONESHOT_PREFIX) :]] = value
        else:
            inner[key] = value
    return inner, own


def strategy_for(
    name: str,
    space: ConfigurationSpace,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
) -> Any:
    """The black-box :class:`~recsearch.strategies.Strategy` behind the one-shot ``name``.

    Its ``meta`` names the method and the black-box strategy; ``oneshot.*`` options are left
    to :func:`objective_for`.

    Raises:
        InvalidParameterError: ``name`` is not a one-shot strategy name.
    """
    from recsearch import strategies

    method, then = _parts(name)
    inner = strategies.create(then, space, seed=seed, **split_options(options)[0])
    meta = {**inner.meta, "name": name, "oneshot": method, "then": then}
    return strategies.Strategy(name, inner.sampler, inner.pruner, inner.description, meta, space)


def objective_for(
    name: str,
    objective: Any,
    *,
    budget: float | None = None,
    method_options: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> OneShotObjective:
    """``objective`` wrapped so that the claiming trial runs the search of ``name``'s method.

    ``options`` are the strategy's options: their ``oneshot.*`` keys fill ``budget`` and
    ``method_options`` where those are not given.

    Raises:
        InvalidParameterError: ``name`` is not a one-shot strategy name.
    """
    method, _ = _parts(name)
    own = split_options(options)[1]
    if budget is None and "budget" in own:
        budget = float(own.pop("budget"))
    own.pop("budget", None)
    merged = {**own, **(method_options or {})}
    return OneShotObjective(objective, method=method, budget=budget, options=merged or None)


def wire(
    name: str,
    space: ConfigurationSpace,
    objective: Any,
    *,
    seed: int | None = None,
    options: dict[str, Any] | None = None,
    budget: float | None = None,
    method_options: dict[str, Any] | None = None,
) -> tuple[Any, Callable[[optuna.Trial], Any]]:
    """The strategy and objective of the one-shot strategy ``name`` for one worker process.

    Args:
        name: ``<method>`` or ``<method>+<black-box strategy>``.
        space: The study's space.
        objective: The study's :class:`~recsearch.objectives.CTRObjective`.
        seed: Seed of the black-box strategy.
        options: Options of the black-box strategy.
        budget: Supernet epochs.
        method_options: Options of the one-shot method.

    Returns:
        ``(strategy, objective)``: :func:`strategy_for` and :func:`objective_for`.

    Raises:
        InvalidParameterError: ``name`` is not a one-shot strategy name.
    """
    strategy = strategy_for(name, space, seed=seed, options=options)
    return strategy, objective_for(name, objective, budget=budget, method_options=method_options)
