"""Every strategy samples valid, decodable configurations of the later seed spaces (issue 16)."""

from __future__ import annotations

import optuna
import pytest
from optuna.trial import TrialState

from recsearch.data.synthetic import synthetic
from recsearch.spaces import configuration_from_trial
from recsearch.spaces import decode
from recsearch.spaces import preset
from recsearch.spaces import suggest
from recsearch.strategies import available

NEW_PRESETS = ("autoias", "fives", "autopi", "pep", "autodis", "ameir", "autoft")


@pytest.fixture(scope="module")
def schema():  # type: ignore[no-untyped-def]
    return synthetic(
        300, n_categorical=4, n_numeric=2, n_multi_hot=1, n_sequence=1, max_vocab=30, seed=0
    ).schema


@pytest.mark.parametrize("name", sorted(available()))
def test_every_strategy_searches_the_new_presets(  # type: ignore[no-untyped-def]
    name: str, schema, make_strategy
) -> None:
    for space_name in NEW_PRESETS:
        space = preset(space_name, schema)
        strategy = make_strategy(name, space, seed=0)
        multi = name == "nsga2"
        study = strategy.create_study(directions=["maximize", "minimize"] if multi else None,
                                      direction=None if multi else "maximize")

        def objective(trial: optuna.Trial):  # type: ignore[no-untyped-def]
            config = suggest(trial, space)
            config.check_valid_configuration()
            spec = decode(config, schema)
            score = float(len(spec.to_json()) % 89)
            return (score, -score) if multi else score

        study.optimize(objective, n_trials=6, catch=(Exception,))
        for trial in study.trials:
            assert trial.state == TrialState.COMPLETE, (space_name, trial.user_attrs)
            decode(configuration_from_trial(trial, space), schema)
