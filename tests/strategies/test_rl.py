"""The REINFORCE controller: credit only to active choices, the cost reward, replayed state."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import optuna
import pytest
from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace
from ConfigSpace import EqualsCondition
from ConfigSpace import Integer

from recsearch.errors import InvalidParameterError
from recsearch.strategies import ReinforceSampler
from recsearch.strategies import create
from recsearch.testing import suggest_configuration


def _space() -> ConfigurationSpace:
    space = ConfigurationSpace()
    arch = Categorical("arch", ["a", "b"])
    width = Integer("b.width", (1, 4))
    big = Categorical("big", [False, True])
    space.add([arch, width, big, EqualsCondition(width, arch, "b")])
    return space


def _study(
    sampler: ReinforceSampler, objective: Callable[[optuna.Trial], Any], n: int, **kw: Any
) -> optuna.Study:
    study = optuna.create_study(sampler=sampler, **kw)
    study.optimize(objective, n_trials=n)
    return study


def test_an_inactive_child_is_never_credited() -> None:
    space = _space()

    def objective(trial: optuna.Trial) -> float:
        config = suggest_configuration(trial, space)
        return float(config["big"]) + (1.0 if config["arch"] == "a" else 0.0)

    sampler = ReinforceSampler(space, seed=0, lr=1.0)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    for k in range(12):  # NOTE: only "a" trials: b.width is never active
        study.enqueue_trial({"arch": "a", "big": bool(k % 2)})
    study.optimize(objective, n_trials=12)
    policy = sampler.policy(sampler.history(study))
    names = list(space)
    assert policy.probabilities(names.index("big"))[1] > 0.7  # learned: big pays
    width = policy.logits[names.index("b.width")]
    assert width.shape == (4,)  # a small integer range is one choice per value
    assert np.all(width == 0.0), width


def test_cost_weight_trades_the_metric_for_the_cost() -> None:
    space = _space()

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        config = suggest_configuration(trial, space)
        big = bool(config["big"])
        return (0.7 + 0.01 * big, 10.0 if big else 1.0)  # big: slightly better, 10x the cost

    def share_big(cost_weight: float) -> float:
        sampler = ReinforceSampler(space, seed=1, lr=1.0, cost_weight=cost_weight)
        study = _study(sampler, objective, 40, directions=["maximize", "minimize"])
        policy = sampler.policy(sampler.history(study))
        return policy.probabilities(list(space).index("big"))[1]

    assert share_big(0.0) > 0.7
    assert share_big(0.01) < 0.3


def test_a_fresh_sampler_replays_the_same_policy_from_the_storage() -> None:
    space = _space()
    storage = optuna.storages.InMemoryStorage()

    def objective(trial: optuna.Trial) -> float:
        config = suggest_configuration(trial, space)
        return float(config["big"]) + 0.1 * float(config.get("b.width") or 0)

    first = ReinforceSampler(space, seed=2)
    study = optuna.create_study(storage=storage, sampler=first, study_name="s")
    study.optimize(objective, n_trials=15)
    again = ReinforceSampler(space, seed=2)
    loaded = optuna.load_study(study_name="s", storage=storage, sampler=again)
    a = first.policy(first.history(study))
    b = again.policy(again.history(loaded))
    for i in range(len(space)):
        assert np.allclose(a.logits[i], b.logits[i])


def test_failed_trials_count_as_the_worst_reward() -> None:
    space = _space()

    def objective(trial: optuna.Trial) -> float:
        config = suggest_configuration(trial, space)
        if config["big"]:
            raise RuntimeError("out of memory")
        return 0.5 + 0.01 * np.random.RandomState(trial.number).rand()

    sampler = ReinforceSampler(space, seed=3, lr=1.0)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    study.optimize(objective, n_trials=30, catch=(RuntimeError,))
    policy = sampler.policy(sampler.history(study))
    assert policy.probabilities(list(space).index("big"))[1] < 0.3


def test_invalid_options_are_named() -> None:
    with pytest.raises(InvalidParameterError, match="lr=0.*bins=1"):
        create("rl", _space(), lr=0.0, bins=1)


def test_trials_finishing_out_of_order_replay_as_a_fresh_sampler_would() -> None:
    space = _space()
    sampler = ReinforceSampler(space, seed=4, lr=1.0)
    study = optuna.create_study(sampler=sampler, direction="maximize")
    for _ in range(3):  # NOTE: a few in order first, so the cache holds a replay
        trial = study.ask()
        study.tell(trial, float(suggest_configuration(trial, space)["big"]))
    sampler.policy(sampler.history(study))
    trials = [study.ask() for _ in range(3)]
    values = [float(suggest_configuration(t, space)["big"]) for t in trials]
    for k in (2, 0, 1):  # the last asked finishes first
        study.tell(trials[k], values[k])
        cached = sampler.policy(sampler.history(study))
        fresh = ReinforceSampler(space, seed=4, lr=1.0)
        replayed = fresh.policy(fresh.history(study))
        assert np.allclose(cached.logits, replayed.logits)
