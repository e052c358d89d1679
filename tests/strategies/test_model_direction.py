"""Model-based strategies must steer towards good values whichever way the study optimizes."""

from __future__ import annotations

from typing import Literal

import numpy as np
import optuna
import pytest
from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace

from recsearch.strategies import create
from recsearch.strategies import _smac
from recsearch.testing import suggest_configuration

N_BITS = 16
N_TRIALS = 40
N_INITIAL = 10
PLANTED = np.zeros(N_BITS)
PLANTED[[1, 4, 7, 11, 14]] = 1.0  # NOTE: five useful bits; every bit switched on costs a little


def _bits_space() -> ConfigurationSpace:
    space = ConfigurationSpace(seed=0)
    space.add([Categorical(f"inter.b{i}", [False, True]) for i in range(N_BITS)])
    return space


def _later_mean(
    name: str, direction: Literal["minimize", "maximize"], seed: int, **options: object
) -> float:
    """Mean planted score of the trials after the initial design (higher = better)."""
    space = _bits_space()
    sign = 1.0 if direction == "maximize" else -1.0
    noise = np.random.RandomState(100 + seed)

    def objective(trial: optuna.Trial) -> float:
        bits = suggest_configuration(trial, space).get_array()
        score = float(bits @ PLANTED) - 0.1 * float(bits.sum()) + 0.05 * noise.randn()
        trial.set_user_attr("score", score)
        return sign * score

    study = create(name, space, seed=seed, **options).create_study(direction=direction)
    study.optimize(objective, n_trials=N_TRIALS)
    return float(np.mean([t.user_attrs["score"] for t in study.trials[N_INITIAL:]]))


@pytest.mark.parametrize("direction", ["maximize", "minimize"])
@pytest.mark.parametrize(
    ("name", "options"),
    [
        ("smac", {"n_initial": N_INITIAL, "challengers": 500}),
        ("nbtree", {"n_initial": N_INITIAL, "n_candidates": 30}),
        ("rl", {}),
    ],
)
def test_model_based_trials_concentrate_on_good_values(
    name: str, options: dict[str, object], direction: Literal["minimize", "maximize"]
) -> None:
    seeds = range(3)
    random = np.median([_later_mean("random", direction, s) for s in seeds])
    guided = np.median([_later_mean(name, direction, s, **options) for s in seeds])
    # NOTE: random's expected score is 2.5 - 0.8 = 1.7 (max 4.5); a model that learned which
    # bits matter must do clearly better after its initial design, in either direction.
    assert guided > random + 0.5, (name, direction, guided, random)


def test_log_scaling_keeps_the_best_loss_close_to_its_neighbours() -> None:
    losses = np.linspace(-0.77, -0.5, 30)  # e.g. negated AUCs, evenly spread
    scaled = _smac._log_scaled(losses)
    assert np.all(np.diff(scaled) > 0)  # order kept
    assert scaled.max() == pytest.approx(0.0)
    gaps = np.diff(scaled)
    # the best trial's step below the second best is of the order of the others' steps, not
    # a log(1e-3)-sized outlier that would dominate the forest and expected improvement
    assert gaps[0] < 3 * np.median(gaps[1:5]) + 1.0
    assert np.all(_smac._log_scaled(np.full(5, 0.3)) == 0.0)
