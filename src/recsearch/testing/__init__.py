"""Test helpers shipped with recsearch: conformance checks and small spaces for strategies.

Optuna's generic sampler test cases live in ``optuna.testing.pytest_samplers``
(``BasicSamplerTestCase``, ``MultiObjectiveSamplerTestCase``); recsearch's tests subclass them
for every recsearch sampler. :func:`check_strategy` adds what is recsearch's own.

Example:
    >>> from recsearch.strategies import create
    >>> from recsearch.testing import check_strategy, make_conditional_space
    >>> space = make_conditional_space(n_blocks=1)
    >>> check_strategy("evolution", create("evolution", space, seed=0), n_trials=6)
"""

from __future__ import annotations

from recsearch.testing._checks import check_strategy
from recsearch.testing._checks import toy_objective
from recsearch.testing._objectives import StandInObjective
from recsearch.testing._spaces import distribution_of
from recsearch.testing._spaces import make_conditional_space
from recsearch.testing._spaces import suggest_configuration
from recsearch.testing._spaces import toy_loss

__all__ = [
    "StandInObjective",
    "check_strategy",
    "distribution_of",
    "make_conditional_space",
    "suggest_configuration",
    "toy_loss",
    "toy_objective",
]
