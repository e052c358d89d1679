"""Small hand-written spaces and a minimal ConfigSpace -> Optuna bridge for strategy tests."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
from ConfigSpace import AndConjunction
from ConfigSpace import Categorical
from ConfigSpace import CategoricalHyperparameter
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Constant
from ConfigSpace import EqualsCondition
from ConfigSpace import Float
from ConfigSpace import ForbiddenAndConjunction
from ConfigSpace import ForbiddenEqualsClause
from ConfigSpace import InCondition
from ConfigSpace import Integer
from ConfigSpace import OrdinalHyperparameter
from ConfigSpace.hyperparameters import FloatHyperparameter
from ConfigSpace.hyperparameters import IntegerHyperparameter
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution


def distribution_of(hp: Any) -> BaseDistribution:
    """The Optuna distribution matching one ConfigSpace hyperparameter."""
    if isinstance(hp, CategoricalHyperparameter):
        return CategoricalDistribution(list(hp.choices))
    if isinstance(hp, OrdinalHyperparameter):
        return CategoricalDistribution(list(hp.sequence))
    if isinstance(hp, Constant):
        return CategoricalDistribution([hp.value])
    if isinstance(hp, IntegerHyperparameter):
        return IntDistribution(int(hp.lower), int(hp.upper), log=bool(hp.log))
    if isinstance(hp, FloatHyperparameter):
        return FloatDistribution(float(hp.lower), float(hp.upper), log=bool(hp.log))
    raise TypeError(f"unsupported hyperparameter {hp!r}")


def suggest_configuration(trial: optuna.Trial, space: ConfigurationSpace) -> Configuration:
    """Suggest every active hyperparameter of ``space`` on ``trial``; return the configuration.

    Uses ``recsearch.spaces.suggest`` when that exists, else walks the space in topological order
    and calls ``trial.suggest_*`` for each active hyperparameter.
    """
    try:
        from recsearch.spaces import suggest  # type: ignore[attr-defined]
    except ImportError:
        suggest = None
    if suggest is not None:
        return suggest(trial, space)
    vector = np.full(len(space), np.nan)
    values: dict[str, Any] = {}
    for i, (name, hp) in enumerate(space.items()):
        conditions = space.parent_conditions_of[name]
        if not all(c.satisfied_by_vector(vector) for c in conditions):
            continue
        dist = distribution_of(hp)
        if isinstance(dist, CategoricalDistribution):
            value = trial.suggest_categorical(name, dist.choices)
        elif isinstance(dist, IntDistribution):
            value = trial.suggest_int(name, dist.low, dist.high, log=dist.log)
        else:
            value = trial.suggest_float(name, dist.low, dist.high, log=dist.log)
        values[name] = value
        vector[i] = hp.to_vector(value)
    return Configuration(space, values=values)


def make_conditional_space(*, seed: int = 0, n_blocks: int = 3) -> ConfigurationSpace:
    """A small CTR-like conditional space: model family, per-family children, a forbidden pair.

    ``n_blocks`` repeats a block group (type, units, dense/sparse input bits), so larger values
    give a bigger conditional space (``10 + 4 * n_blocks`` hyperparameters, plus ``n_blocks``
    itself when above 1: 39 for 7 blocks).
    """
    cs = ConfigurationSpace(seed=seed)
    arch = Categorical("arch", ["dnn", "dcn", "fm"])
    lr = Float("lr", (1e-4, 1e-1), log=True)
    emb = Integer("emb_dim", (4, 64), log=True)
    opt = Categorical("optimizer", ["adam", "sgd"])
    momentum = Float("sgd.momentum", (0.0, 0.99))
    depth = Integer("dnn.depth", (1, 4))
    width = Integer("dnn.width", (16, 512), log=True)
    cross = Integer("dcn.num_cross_layers", (1, 6))
    version = Categorical("dcn.version", ["v1", "v2"])
    rank = Integer("dcn.low_rank", (4, 64), log=True)
    hps: list[Any] = [arch, lr, emb, opt, momentum, depth, width, cross, version, rank]
    conds: list[Any] = [
        EqualsCondition(momentum, opt, "sgd"),
        EqualsCondition(depth, arch, "dnn"),
        EqualsCondition(width, arch, "dnn"),
        EqualsCondition(cross, arch, "dcn"),
        EqualsCondition(version, arch, "dcn"),
        AndConjunction(EqualsCondition(rank, arch, "dcn"), EqualsCondition(rank, version, "v2")),
    ]
    n_used = Integer("n_blocks", (1, max(n_blocks, 2)))
    if n_blocks > 1:
        hps.append(n_used)
    for b in range(n_blocks):
        btype = Categorical(f"block{b}.type", ["mlp", "fm", "dot", "cross"])
        units = Integer(f"block{b}.units", (8, 256), log=True)
        dense = Categorical(f"block{b}.dense_input", [True, False])
        sparse = Categorical(f"block{b}.sparse_input", [True, False])
        hps += [btype, units, dense, sparse]
        if b > 0:
            used = list(range(b + 1, n_blocks + 1))
            conds.append(InCondition(btype, n_used, used))
            conds.append(InCondition(dense, n_used, used))
            conds.append(InCondition(sparse, n_used, used))
            conds.append(
                AndConjunction(
                    InCondition(units, n_used, used), InCondition(units, btype, ["mlp", "cross"])
                )
            )
        else:
            conds.append(InCondition(units, btype, ["mlp", "cross"]))
    forbidden = ForbiddenAndConjunction(
        ForbiddenEqualsClause(opt, "sgd"), ForbiddenEqualsClause(arch, "fm")
    )
    cs.add(hps, conds, [forbidden])
    return cs


def toy_loss(config: Configuration) -> float:
    """A cheap deterministic stand-in objective on :func:`make_conditional_space` (minimise)."""
    lr = float(config["lr"])
    loss = (np.log10(lr) + 2.5) ** 2 + 0.1 * abs(np.log2(config["emb_dim"]) - 4)
    arch = config["arch"]
    loss += {"dnn": 0.3, "dcn": 0.0, "fm": 0.6}[arch]
    if arch == "dcn":
        loss += 0.05 * abs(config["dcn.num_cross_layers"] - 3)
        if config["dcn.version"] == "v2":
            loss -= 0.2
    if config["optimizer"] == "sgd":
        loss += 0.3 * (1 - config["sgd.momentum"])
    for key, value in config.items():
        if key.endswith(".type") and value == "cross":
            loss -= 0.05
    return float(loss)
