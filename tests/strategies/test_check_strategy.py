"""recsearch.testing.check_strategy against every registered strategy, and that it catches bugs."""

from __future__ import annotations

import numpy as np
import pytest
from optuna.pruners import NopPruner

from recsearch.strategies import RandomConfigSampler
from recsearch.strategies import Strategy
from recsearch.strategies import available
from recsearch.testing import check_strategy


@pytest.mark.parametrize("name", sorted(available()))
def test_every_strategy_passes_the_conformance_checks(
    name: str, make_space, make_strategy
) -> None:
    space = make_space()
    check_strategy(name, make_strategy(name, space, seed=1), n_trials=12)


class _Unseeded(RandomConfigSampler):
    """A broken sampler: ignores the seed (draws from the global numpy state)."""

    def sample_configuration(self, study, trial):  # type: ignore[no-untyped-def]
        rng = np.random.RandomState(np.random.randint(1 << 30))
        return self.random_unseen(rng, self.history(study).seen)


def test_check_strategy_catches_an_unseeded_sampler(make_space, monkeypatch) -> None:
    space = make_space()
    sampler = _Unseeded(space, seed=0)
    strategy = Strategy("broken", sampler, NopPruner(), "broken", {"seed": 0}, space)
    import recsearch.testing._checks as checks

    monkeypatch.setattr(
        checks,
        "_fresh",
        lambda strategy, space, seed: Strategy(
            "broken", _Unseeded(space, seed=seed), NopPruner(), "", {"seed": seed}, space
        ),
    )
    with pytest.raises(AssertionError, match="broken: the same seed"):
        check_strategy("broken", strategy, n_trials=6)
