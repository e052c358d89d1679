"""The Optuna bridge on a hand-written space using every HP type, condition and forbidden."""

from __future__ import annotations

from typing import Any

import numpy as np
import optuna
import pytest
from ConfigSpace import AndConjunction
from ConfigSpace import Beta
from ConfigSpace import Categorical
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Constant
from ConfigSpace import EqualsCondition
from ConfigSpace import Float
from ConfigSpace import ForbiddenAndConjunction
from ConfigSpace import ForbiddenEqualsClause
from ConfigSpace import ForbiddenGreaterThanClause
from ConfigSpace import ForbiddenGreaterThanRelation
from ConfigSpace import ForbiddenInClause
from ConfigSpace import ForbiddenLessThanClause
from ConfigSpace import ForbiddenValueError
from ConfigSpace import GreaterThanCondition
from ConfigSpace import InCondition
from ConfigSpace import Integer
from ConfigSpace import LessThanCondition
from ConfigSpace import Normal
from ConfigSpace import NotEqualsCondition
from ConfigSpace import OrConjunction
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.trial import TrialState

from recsearch.errors import ForbiddenConfigurationError
from recsearch.errors import SpaceError
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.spaces import configuration_from_params
from recsearch.spaces import configuration_from_trial
from recsearch.spaces import distributions
from recsearch.spaces import forbidden_reason
from recsearch.spaces import from_param
from recsearch.spaces import ordered_choices
from recsearch.spaces import params_from_configuration
from recsearch.spaces import suggest
from recsearch.spaces import to_param

optuna.logging.set_verbosity(optuna.logging.WARNING)


def make_space(seed: int = 0) -> ConfigurationSpace:
    """Every ConfigSpace 1.x HP type, condition type and forbidden type in one space."""
    cs = ConfigurationSpace(seed=seed)
    model = Categorical("model", ["a", "b", "c"], default="a")
    size = Categorical("size", [1, 2, 4, 8], ordered=True, default=2)
    flag = Categorical("flag", [True, False], default=True)
    lr = Float("lr", (1e-4, 1e-1), log=True, default=1e-3)
    drop = Float("drop", (0.0, 0.5), default=0.1)
    units = Integer("units", (8, 256), log=True, default=32)
    nf = Float("nf", (0.0, 10.0), distribution=Normal(5.0, 2.0), default=5.0)
    ni = Integer("ni", (1, 20), distribution=Normal(10.0, 3.0), default=10)
    bf = Float("bf", (0.0, 1.0), distribution=Beta(2.0, 3.0), default=0.4)
    bi = Integer("bi", (0, 10), distribution=Beta(2.0, 2.0), default=5)
    const = Constant("const", "k")
    extra = Integer("extra", (1, 4), default=1)
    cs.add(
        [
            model, size, flag, lr, drop, units, nf, ni, bf, bi, const, extra,
            EqualsCondition(units, model, "a"),
            NotEqualsCondition(drop, model, "c"),
            LessThanCondition(nf, lr, 0.01),
            GreaterThanCondition(ni, units, 16),
            InCondition(bf, size, [2, 4]),
            AndConjunction(EqualsCondition(bi, model, "b"), GreaterThanCondition(bi, size, 1)),
            OrConjunction(EqualsCondition(extra, model, "c"), InCondition(extra, size, [8])),
            ForbiddenAndConjunction(
                ForbiddenEqualsClause(model, "c"), ForbiddenInClause(size, [8])
            ),
            ForbiddenAndConjunction(
                ForbiddenEqualsClause(flag, False), ForbiddenLessThanClause(lr, 3e-4)
            ),
            ForbiddenGreaterThanClause(units, 200),
            ForbiddenGreaterThanRelation(ni, units),
        ]
    )
    return cs


def _samplers() -> dict[str, Any]:
    return {
        "tpe": lambda: optuna.samplers.TPESampler(
            multivariate=True, group=True, seed=1, n_startup_trials=8
        ),
        "random": lambda: optuna.samplers.RandomSampler(seed=1),
        "gp": lambda: optuna.samplers.GPSampler(
            seed=1, n_startup_trials=6, warn_independent_sampling=False
        ),
        "qmc": lambda: optuna.samplers.QMCSampler(seed=1, warn_independent_sampling=False),
    }


def _objective(space: ConfigurationSpace):
    def objective(trial: optuna.Trial) -> float:
        config = suggest(trial, space)
        config.check_valid_configuration()
        trial.set_user_attr("config", {k: to_param(space[k], v) for k, v in config.items()})
        return float(config.get("lr", 0.0)) + float(config.get("units", 0))

    return objective


@pytest.mark.parametrize("sampler_name", ["tpe", "random", "gp", "qmc"])
def test_suggest_with_every_sampler(sampler_name: str) -> None:
    if sampler_name == "gp":
        import torch

        torch.set_num_threads(1)
    space = make_space()
    n_trials = 14 if sampler_name == "gp" else 40
    study = optuna.create_study(sampler=_samplers()[sampler_name]())
    study.optimize(_objective(space), n_trials=n_trials, catch=(ForbiddenConfigurationError,))
    dists = distributions(space)
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert len(complete) + len(failed) == n_trials
    assert len(complete) >= 3
    seen_active: set[str] = set()
    seen_inactive: set[str] = set()
    for t in complete:
        config = configuration_from_trial(t, space)
        assert dict(config) == pytest.approx(t.user_attrs["config"])
        assert set(t.params) == set(config.keys())
        for name, dist in t.distributions.items():
            assert dist == dists[name], name
        seen_active |= set(config.keys())
        seen_inactive |= set(space.keys()) - set(config.keys())
    conditional = {"units", "drop", "nf", "ni", "bf", "bi", "extra"}
    assert conditional & seen_active, "no conditional hyperparameter was ever active"
    assert conditional & seen_inactive, "no conditional hyperparameter was ever inactive"
    for t in failed:
        assert t.user_attrs[USER_ATTR_FAILURE].startswith("forbidden configuration")
        with pytest.raises(ForbiddenConfigurationError):
            configuration_from_params(t.params, space)
        # ConfigSpace agrees it is forbidden.
        values = {k: from_param(space[k], v) for k, v in t.params.items()}
        with pytest.raises(ForbiddenValueError):
            Configuration(space, values=values)


def test_fixed_trial_round_trip_of_sampled_configurations() -> None:
    space = make_space(seed=3)
    configs = space.sample_configuration(300)
    for config in configs:
        params = params_from_configuration(config)
        back = suggest(optuna.trial.FixedTrial(params), space)
        assert back == config
        assert configuration_from_params(params, space) == config


def test_suggest_only_asks_active_hyperparameters() -> None:
    space = make_space()
    # model == "c": units inactive, so ni inactive; drop inactive; extra active.
    params = {"model": "c", "size": 2, "flag": True, "lr": 0.05, "const": "k", "extra": 3,
              "bf": 0.5}
    config = suggest(optuna.trial.FixedTrial(params), space)
    assert set(config.keys()) == {"model", "size", "flag", "lr", "const", "extra", "bf"}
    assert config.get("units") is None and config.get("ni") is None
    # A missing active parameter is a FixedTrial error, not silently defaulted.
    with pytest.raises(ValueError):
        suggest(optuna.trial.FixedTrial({"model": "a", "size": 2}), space)


@pytest.mark.parametrize(
    ("params", "clause"),
    [
        ({"model": "c", "size": 8, "flag": True, "lr": 0.05, "const": "k", "extra": 1},
         "model == 'c'"),
        ({"model": "b", "size": 2, "flag": False, "lr": 2e-4, "const": "k", "nf": 3.0,
          "drop": 0.2, "bf": 0.5, "bi": 3}, "flag == False"),
        ({"model": "a", "size": 1, "flag": True, "lr": 0.05, "const": "k", "drop": 0.2,
          "units": 220, "ni": 5}, "units > 200"),
        ({"model": "a", "size": 1, "flag": True, "lr": 0.05, "const": "k", "drop": 0.2,
          "units": 17, "ni": 18}, "ni > units"),
    ],
)
def test_forbidden_sets_failure_and_raises(params: dict[str, Any], clause: str) -> None:
    space = make_space()
    trial = optuna.trial.FixedTrial(params)
    with pytest.raises(ForbiddenConfigurationError, match="forbidden configuration"):
        suggest(trial, space)
    assert clause in trial.user_attrs[USER_ATTR_FAILURE]
    assert isinstance(ForbiddenConfigurationError("x"), SpaceError)


def test_forbidden_reason_ignores_inactive_hyperparameters() -> None:
    space = make_space()
    # The relation ni > units cannot fire while both are inactive.
    assert forbidden_reason(space, {"model": "b", "size": 1, "flag": True, "lr": 0.01}) is None
    assert forbidden_reason(space, {"model": "c", "size": 8}) is not None


def test_distributions_per_type() -> None:
    space = make_space()
    d = distributions(space)
    assert d["model"] == CategoricalDistribution(("a", "b", "c"))
    assert d["size"] == CategoricalDistribution((1, 2, 4, 8))
    assert ordered_choices(space["size"]) == (1, 2, 4, 8)
    assert ordered_choices(space["model"]) is None
    assert d["flag"] == CategoricalDistribution((True, False))
    assert d["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert d["units"] == IntDistribution(8, 256, log=True)
    assert d["nf"] == FloatDistribution(0.0, 10.0)
    assert d["ni"] == IntDistribution(1, 20)
    assert d["bf"] == FloatDistribution(0.0, 1.0)
    assert d["bi"] == IntDistribution(0, 10)
    assert d["const"] == CategoricalDistribution(("k",))
    assert set(d) == set(space.keys())


def test_param_converters() -> None:
    space = make_space()
    assert to_param(space["units"], np.int64(12)) == 12
    assert type(to_param(space["units"], np.int64(12))) is int
    assert type(to_param(space["model"], np.str_("a"))) is str
    assert from_param(space["lr"], 0.1 + 1e-12) == pytest.approx(0.1)
    assert from_param(space["size"], 4) == 4
    with pytest.raises(SpaceError, match="not a choice of hyperparameter 'size'"):
        from_param(space["size"], 3)
    with pytest.raises(SpaceError, match="units"):
        from_param(space["units"], 1000)


def test_configspace_aware_sampler_answers_every_parameter() -> None:
    """A sampler that samples a whole configuration up front gets exactly it back."""
    space = make_space(seed=7)

    class WholeConfigSampler(optuna.samplers.BaseSampler):
        def __init__(self) -> None:
            self.configs: dict[int, Configuration] = {}

        def infer_relative_search_space(self, study, trial):  # noqa: ANN001, ANN201
            return {}

        def sample_relative(self, study, trial, search_space):  # noqa: ANN001, ANN201
            return {}

        def before_trial(self, study, trial):  # noqa: ANN001, ANN201
            self.configs[trial.number] = space.sample_configuration()

        def sample_independent(self, study, trial, param_name, param_distribution):  # noqa
            assert param_distribution == distributions(space)[param_name]
            config = self.configs[trial.number]
            return to_param(space[param_name], config[param_name])

    sampler = WholeConfigSampler()
    study = optuna.create_study(sampler=sampler)
    got: dict[int, Configuration] = {}

    def objective(trial: optuna.Trial) -> float:
        got[trial.number] = suggest(trial, space)
        return 0.0

    study.optimize(objective, n_trials=30)
    assert all(got[n] == sampler.configs[n] for n in got)
    assert len(got) == 30
