"""Optuna's own generic sampler test cases, run against every recsearch sampler."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from optuna.samplers import BaseSampler
from optuna.testing.pytest_samplers import BasicSamplerTestCase
from optuna.testing.pytest_samplers import MultiObjectiveSamplerTestCase

from recsearch.strategies import Strategy
from recsearch.testing import make_conditional_space

# NOTE: the ConfigSpace-aware samplers; Optuna's own (tpe, gp, qmc, nsga2) are tested by Optuna,
# and smac-gp differs from smac only in its model (opt in with -m slow).
OWN = [
    "random",
    "evolution",
    "smac",
    "autoctr",
    "nbtree",
    "rl",
    pytest.param("smac-gp", marks=pytest.mark.slow),
]


class _OwnSamplers:
    @pytest.fixture(params=OWN)
    def sampler(
        self, request: pytest.FixtureRequest, make_strategy: Callable[..., Strategy]
    ) -> Callable[[], BaseSampler]:
        space = make_conditional_space(n_blocks=1)
        # NOTE: Optuna's cases check parameter handling, not the model; the GP fit is slow.
        extra = {"n_initial": 1000} if request.param == "smac-gp" else {}
        return lambda: make_strategy(request.param, space, **extra).sampler


class TestBasic(_OwnSamplers, BasicSamplerTestCase):
    pass


class TestMultiObjective(_OwnSamplers, MultiObjectiveSamplerTestCase):
    pass
