"""NB-tree's ``min_distance``: no near-copy of a configuration already in the study."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace

from recsearch.errors import InvalidParameterError
from recsearch.strategies import _cs
from recsearch.strategies import create
from recsearch.testing import suggest_configuration


def _bits(n: int = 20) -> ConfigurationSpace:
    space = ConfigurationSpace()
    space.add([Categorical(f"inter.b{i}", [False, True]) for i in range(n)])
    return space


@pytest.mark.parametrize("min_distance", [1, 3])
def test_proposals_keep_their_distance_from_the_study(min_distance: int) -> None:
    space = _bits()
    noise = np.random.RandomState(0)

    def objective(trial: optuna.Trial) -> float:
        bits = suggest_configuration(trial, space).get_array()
        return float(bits[:5].sum() - 0.2 * bits[5:].sum() + 0.1 * noise.randn())

    strategy = create("nbtree", space, seed=0, n_initial=8, n_candidates=50,
                      random_fraction=0.0, min_distance=min_distance)  # fmt: skip
    study = strategy.create_study(direction="maximize")
    study.optimize(objective, n_trials=30)
    vectors = np.asarray([_cs.vector_from_params(space, t.params)
                          for t in study.trials])  # fmt: skip
    nearest = [int(_cs.distances(vectors[i : i + 1], vectors[:i]).min()) for i in range(8, 30)]
    if min_distance == 1:
        assert min(nearest) >= 1 and sum(d == 1 for d in nearest) > 5  # near-copies
    else:
        assert min(nearest) >= 3, nearest


def test_min_distance_must_be_positive() -> None:
    with pytest.raises(InvalidParameterError, match="min_distance"):
        create("nbtree", _bits(), min_distance=0)
