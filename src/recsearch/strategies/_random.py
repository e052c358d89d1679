"""Uniform random search over a ConfigSpace."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from recsearch.strategies._base import ConfigSpaceSampler

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


class RandomConfigSampler(ConfigSpaceSampler):
    """Samples configurations uniformly, respecting conditions and forbidden clauses.

    Configurations already evaluated or in flight (other workers) are redrawn.

    Example:
        >>> import optuna
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"emb_dim": (4, 64), "arch": ["dnn", "dcn"]})
        >>> sampler = RandomConfigSampler(space, seed=0)
        >>> study = optuna.create_study(sampler=sampler)
    """

    def sample_configuration(self, study: Study, trial: FrozenTrial) -> np.ndarray:
        """A uniformly random configuration not seen in the study."""
        return self.random_unseen(self.rng(trial), self.history(study).seen)
