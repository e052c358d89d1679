"""Racing workers: a configuration another worker took while this one sampled is given up."""

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

    def __init__(self, space: ConfigurationSpace) -> None:
        super().__init__(space, seed=0)
        self.calls: list[int] = []

    def sample_configuration(self, study: Study, trial: FrozenTrial) -> np.ndarray:
        self.calls.append(trial.number)
        first_try = self.calls.count(trial.number) == 1
        return np.array([0.0 if first_try else 1.0])


def _racing_study() -> tuple[_RacingSampler, optuna.Study]:
    """A study over ``x`` in {'a', 'b'} whose sampler proposes 'a' first for every trial."""
    space = ConfigurationSpace(seed=0)
    space.add(Categorical("x", ["a", "b"]))
    sampler = _RacingSampler(space)
    return sampler, optuna.create_study(sampler=sampler)


def test_later_trial_resamples_when_an_earlier_running_trial_holds_its_configuration() -> None:
    sampler, study = _racing_study()
    first = study.ask()  # stays RUNNING, holding 'a'
    second = study.ask()
    assert first.suggest_categorical("x", ["a", "b"]) == "a"
    assert second.suggest_categorical("x", ["a", "b"]) == "b"
    stored = study._storage.get_trial(second._trial_id).system_attrs[CONFIG_ATTR]
    assert stored == {"x": "b"}
    # the earlier trial kept its configuration without sampling again
    assert sampler.calls.count(0) == 1 and sampler.calls.count(1) == 2


def test_finished_duplicates_do_not_trigger_resampling() -> None:
    sampler, study = _racing_study()
    first = study.ask()
    study.tell(first, 1.0)
    second = study.ask()
    # a trial finished before this one sampled was in the history it read: the proposal stands
    assert second.suggest_categorical("x", ["a", "b"]) == "a"
    assert sampler.calls.count(1) == 1


def test_a_twin_that_finished_while_sampling_is_not_trained_again() -> None:
    sampler, study = _racing_study()
    first = study.ask()  # claims 'a'
    original = sampler.sample_configuration

    def finish_first_then_sample(study: Study, trial: FrozenTrial) -> np.ndarray:
        # the other worker's fast trial ends between this worker's history read and its claim
        if trial.number == 1 and sampler.calls.count(1) == 0:
            study.tell(first, 1.0)
        return original(study, trial)

    sampler.sample_configuration = finish_first_then_sample  # type: ignore[method-assign]
    second = study.ask()
    assert first.params == {} and second.suggest_categorical("x", ["a", "b"]) == "b"
    assert sampler.calls.count(1) == 2


def test_an_earlier_trial_gives_way_to_a_later_one_already_committed() -> None:
    sampler, study = _racing_study()
    # trial 0 is created by a worker that has not sampled yet; trial 1's worker claims 'a' first
    first_id = study._storage.create_new_trial(study._study_id)
    second = study.ask()
    assert second.suggest_categorical("x", ["a", "b"]) == "a"
    first = study._storage.get_trial(first_id)
    assert sampler._ensure_config(study, first) == {"x": "b"}
    assert sampler.calls.count(0) == 2 and sampler.calls.count(1) == 1
