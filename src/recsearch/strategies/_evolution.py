"""Aging (regularized) evolution over a ConfigSpace (Real et al., 2019)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from ConfigSpace import ConfigurationSpace

from recsearch.errors import InvalidParameterError
from recsearch.strategies import _cs
from recsearch.strategies._base import ConfigSpaceSampler
from recsearch.strategies._base import scalar_losses

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


class RegularizedEvolutionSampler(ConfigSpaceSampler):
    """Aging evolution: the population is the ``population_size`` most recent evaluated trials.

    The first ``population_size`` trials are random. Afterwards a tournament of ``sample_size``
    members drawn from the population picks the best as parent; the child changes one active
    hyperparameter (children it activates are sampled, those it deactivates dropped). The oldest
    member leaves the population as each new one is evaluated. Failed trials never join it;
    pruned ones join with their last reported value.

    Args:
        space: The configuration space.
        seed: Seed of the sequence.
        population_size: Members of the population.
        sample_size: Members in each tournament.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"units": (8, 256), "act": ["relu", "gelu"]})
        >>> sampler = RegularizedEvolutionSampler(space, seed=0, population_size=10)
    """

    def __init__(
        self,
        space: ConfigurationSpace,
        *,
        seed: int | None = None,
        population_size: int = 20,
        sample_size: int = 5,
    ) -> None:
        super().__init__(space, seed=seed)
        if population_size < 2 or not 1 <= sample_size <= population_size:
            raise InvalidParameterError(
                "RegularizedEvolutionSampler needs population_size >= 2 and "
                f"1 <= sample_size <= population_size. Got population_size={population_size}, "
                f"sample_size={sample_size}."
            )
        self._population_size = population_size
        self._sample_size = sample_size

    def sample_configuration(self, study: Study, trial: FrozenTrial) -> np.ndarray:
        """Mutate the tournament winner of the current population, or sample at random."""
        history = self.history(study)
        rng = self.rng(trial)
        evaluated = history.evaluated
        if len(evaluated) < self._population_size:
            return self.random_unseen(rng, history.seen)
        population = sorted(evaluated, key=lambda o: o.number)[-self._population_size :]
        losses = scalar_losses(population)
        for _ in range(10):
            members = rng.choice(len(population), size=self._sample_size, replace=False)
            parent = population[int(members[np.argmin(losses[members])])]
            child = _cs.mutate(self.space, parent.vector, rng)
            if child is not None and _cs.key_of(child) not in history.seen:
                return child
        return self.random_unseen(rng, history.seen)
