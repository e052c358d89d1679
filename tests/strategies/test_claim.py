"""Racing workers: a configuration already held by a running earlier trial is given up."""

from __future__ import annotations

import numpy as np
import optuna
from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace
from optuna.study import Study
from optuna.trial import FrozenTrial

from recsearch.strategies import ConfigSpaceSampler
from recsearch.strategies._base import CONFIG_ATTR


class _RacingSampler(ConfigSpaceSampler):
    """Proposes 'a' first for every trial, as a worker that read the history too early would."""

    def sample_configuration(self, study: Study, trial: FrozenTrial) -> np.ndarray:
        self.calls.append(trial.number)
        first_try = self.calls.count(trial.number) == 1
        return np.array([0.0 if first_try else 1.0])


def test_later_trial_resamples_when_an_earlier_running_trial_holds_its_configuration() -> None:
    space = ConfigurationSpace(seed=0)
    space.add(Categorical("x", ["a", "b"]))
    sampler = _RacingSampler(space, seed=0)
    sampler.calls = []
    study = optuna.create_study(sampler=sampler)
    first = study.ask()  # stays RUNNING, holding 'a'
    second = study.ask()
    assert first.suggest_categorical("x", ["a", "b"]) == "a"
    assert second.suggest_categorical("x", ["a", "b"]) == "b"
    stored = study._storage.get_trial(second._trial_id).system_attrs[CONFIG_ATTR]
    assert stored == {"x": "b"}
    # the earlier trial kept its configuration without sampling again
    assert sampler.calls.count(0) == 1 and sampler.calls.count(1) == 2


def test_finished_duplicates_do_not_trigger_resampling() -> None:
    space = ConfigurationSpace(seed=0)
    space.add(Categorical("x", ["a", "b"]))
    sampler = _RacingSampler(space, seed=0)
    sampler.calls = []
    study = optuna.create_study(sampler=sampler)
    first = study.ask()
    study.tell(first, 1.0)
    second = study.ask()
    # only running trials race; a finished one was in the history the sampler read
    assert second.suggest_categorical("x", ["a", "b"]) == "a"
    assert sampler.calls.count(1) == 1
