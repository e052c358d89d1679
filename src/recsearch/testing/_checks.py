"""Conformance checks for strategies: plain functions whose assertions name the strategy."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import optuna
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace
from optuna.trial import TrialState

from recsearch.errors import ForbiddenConfigurationError
from recsearch.errors import SpaceError
from recsearch.spaces import configuration_from_params
from recsearch.strategies import CONFIG_ATTR
from recsearch.strategies import ConfigSpaceSampler
from recsearch.strategies import Strategy
from recsearch.strategies import create
from recsearch.strategies._cs import key_of
from recsearch.testing._spaces import make_conditional_space
from recsearch.testing._spaces import suggest_configuration
from recsearch.testing._spaces import toy_loss


def _configuration(space: ConfigurationSpace, params: Mapping[str, Any]) -> Configuration | None:
    """The configuration behind a trial's params, ``None`` when they form no valid one."""
    try:
        return configuration_from_params(params, space)
    except SpaceError:
        return None


def toy_objective(space: ConfigurationSpace, *, steps: int = 3) -> object:
    """An objective for :func:`make_conditional_space`.

    It reports ``steps`` intermediate values (so pruners act) and returns :func:`toy_loss`
    (minimise).
    """

    def objective(trial: optuna.Trial) -> float:
        config = suggest_configuration(trial, space)
        loss = toy_loss(config)
        for step in range(1, steps + 1):
            trial.report(loss + 1.0 / step, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return loss

    return objective


def _run(strategy: Strategy, space: ConfigurationSpace, n_trials: int) -> optuna.Study:
    # NOTE: a fixed study name: HyperbandPruner assigns brackets by hashing it.
    study = strategy.create_study(study_name="recsearch-check")
    _optimize(study, space, n_trials)
    return study


def _optimize(study: optuna.Study, space: ConfigurationSpace, n_trials: int) -> None:
    # NOTE: samplers that do not know the space (Optuna's) may hit forbidden clauses; the bridge
    # then fails the trial, which is the documented behaviour.
    study.optimize(
        toy_objective(space),  # type: ignore[arg-type]
        n_trials=n_trials,
        catch=(ForbiddenConfigurationError,),
    )


def _fresh(strategy: Strategy, space: ConfigurationSpace, seed: int) -> Strategy:
    options = dict(strategy.meta.get("options", {}))
    return create(strategy.name, space, seed=seed, **options)


def check_strategy(
    name: str,
    strategy: Strategy,
    *,
    space: ConfigurationSpace | None = None,
    n_trials: int = 12,
) -> None:
    """Check that a strategy keeps the recsearch contract.

    - every trial of a short study finishes (complete or pruned), and, for ConfigSpace-aware
      samplers, its params form a valid configuration equal to the one stored on the trial;
    - one seed gives the same sequence of params;
    - a fresh strategy continuing a study rebuilds its state from the storage (sees every
      finished trial) and proposes no configuration already in the study.

    Args:
        name: How the strategy is named in assertion messages.
        strategy: The strategy (made by :func:`recsearch.strategies.create`).
        space: The space to test on (defaults to the strategy's own space, else a small
            conditional one); the check objective needs :func:`make_conditional_space` names.
        n_trials: Trials per study.

    Raises:
        AssertionError: With a message naming ``name``.
    """
    if space is None:
        space = strategy.space if strategy.space is not None else make_conditional_space()
    seed = strategy.meta.get("seed")
    seed = 0 if seed is None else int(seed)

    # 1. valid configurations
    first = _fresh(strategy, space, seed)
    study = _run(first, space, n_trials)
    cs_aware = isinstance(first.sampler, ConfigSpaceSampler)
    states = {t.state for t in study.trials}
    allowed = {TrialState.COMPLETE, TrialState.PRUNED}
    if not cs_aware:
        allowed.add(TrialState.FAIL)
    assert states <= allowed, f"{name}: trials ended in {sorted(s.name for s in states)}"
    assert len(study.trials) == n_trials, f"{name}: ran {len(study.trials)} of {n_trials} trials"
    for t in study.trials:
        if t.state == TrialState.FAIL:
            continue
        config = _configuration(space, t.params)
        assert config is not None, f"{name}: trial {t.number} params are not a valid configuration"
        if cs_aware:
            stored = t.system_attrs.get(CONFIG_ATTR)
            assert stored == dict(config), (
                f"{name}: trial {t.number} ran {dict(config)} but stored {stored}"
            )

    # 2. seeded reproducibility
    again = _run(_fresh(strategy, space, seed), space, n_trials)
    assert [t.params for t in again.trials] == [t.params for t in study.trials], (
        f"{name}: the same seed gave a different sequence of configurations"
    )

    # 3. state rebuilt from storage
    storage = optuna.storages.InMemoryStorage()
    half = max(n_trials // 2, 1)
    a = _fresh(strategy, space, seed)
    study_a = a.create_study(storage=storage, study_name="check")
    _optimize(study_a, space, half)
    b = _fresh(strategy, space, seed + 1)
    study_b = b.create_study(storage=storage, study_name="check", load_if_exists=True)
    if isinstance(b.sampler, ConfigSpaceSampler):
        history = b.sampler.history(study_b)
        assert len(history.observations) == half, (
            f"{name}: a fresh sampler saw {len(history.observations)} of {half} finished trials"
        )
    _optimize(study_b, space, half)
    assert len(study_b.trials) == 2 * half, f"{name}: the continued study lost trials"
    if cs_aware:
        keys = []
        for t in study_b.trials:
            config = _configuration(space, t.params)
            assert config is not None, f"{name}: trial {t.number} is not a valid configuration"
            keys.append(key_of(config.get_array()))
        assert len(set(keys)) == len(keys), (
            f"{name}: the continued study re-proposed a configuration already evaluated"
        )
