"""Search strategies: every one an Optuna sampler (and pruner), created by name.

Example:
    >>> from ConfigSpace import ConfigurationSpace
    >>> from recsearch.strategies import available, create
    >>> space = ConfigurationSpace({"lr": (1e-4, 1e-1), "arch": ["dnn", "dcn"]})
    >>> strategy = create("autoctr", space, seed=0)
    >>> sorted(available())[:3]
    ['autoctr', 'bohb', 'evolution']
"""

from __future__ import annotations

from recsearch.strategies._autoctr import AutoCTRSampler
from recsearch.strategies._base import CONFIG_ATTR
from recsearch.strategies._base import ConfigSpaceSampler
from recsearch.strategies._base import History
from recsearch.strategies._base import Observation
from recsearch.strategies._base import scalar_losses
from recsearch.strategies._evolution import RegularizedEvolutionSampler
from recsearch.strategies._nbtree import NBTree
from recsearch.strategies._nbtree import NBTreeSampler
from recsearch.strategies._random import RandomConfigSampler
from recsearch.strategies._registry import Strategy
from recsearch.strategies._registry import available
from recsearch.strategies._registry import create
from recsearch.strategies._registry import recreate
from recsearch.strategies._rl import ReinforceSampler
from recsearch.strategies._smac import SMACSampler

__all__ = [
    "CONFIG_ATTR",
    "AutoCTRSampler",
    "ConfigSpaceSampler",
    "History",
    "NBTree",
    "NBTreeSampler",
    "Observation",
    "RandomConfigSampler",
    "RegularizedEvolutionSampler",
    "ReinforceSampler",
    "SMACSampler",
    "Strategy",
    "available",
    "create",
    "recreate",
    "scalar_losses",
]
