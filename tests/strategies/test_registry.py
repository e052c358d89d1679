from __future__ import annotations

import optuna
import pytest
from ConfigSpace import ConfigurationSpace

from recsearch.errors import InvalidParameterError
from recsearch.strategies import ConfigSpaceSampler
from recsearch.strategies import available
from recsearch.strategies import create
from recsearch.strategies import recreate

REQUIRED = {
    "random", "tpe", "gp", "qmc", "nsga2", "smac", "smac-gp", "hyperband", "bohb", "smac-hb",
    "evolution", "autoctr", "nbtree", "rl",
}  # fmt: skip


def test_available_lists_every_required_name_with_a_description() -> None:
    names = available()
    assert REQUIRED <= set(names)
    assert all(isinstance(d, str) and len(d) > 20 for d in names.values())
    assert "13 s" in names["gp"] and "unconditional" in names["gp"]


@pytest.mark.parametrize("name", sorted(REQUIRED))
def test_create_gives_sampler_pruner_and_meta(name: str, make_space) -> None:
    space = make_space()
    strategy = create(name, space, seed=3)
    assert isinstance(strategy.sampler, optuna.samplers.BaseSampler)
    hyperband = name in {"hyperband", "bohb", "smac-hb"}
    expected = optuna.pruners.HyperbandPruner if hyperband else optuna.pruners.NopPruner
    assert isinstance(strategy.pruner, expected)
    assert strategy.meta["name"] == name and strategy.meta["seed"] == 3
    assert strategy.space is space
    cs_aware = name in {"random", "smac", "smac-gp", "hyperband", "smac-hb", "evolution",
                        "autoctr", "nbtree", "rl"}  # fmt: skip
    assert isinstance(strategy.sampler, ConfigSpaceSampler) == cs_aware


def test_tpe_is_multivariate_grouped_with_constant_liar(make_space) -> None:
    sampler = create("tpe", make_space(), seed=0).sampler
    assert sampler._multivariate and sampler._group and sampler._constant_liar


def test_options_reach_sampler_and_pruner(make_space) -> None:
    strategy = create("smac-hb", make_space(), seed=0, retrain_after=3, max_resource=9)
    assert strategy.sampler._retrain_after == 3
    assert strategy.pruner._max_resource == 9
    assert strategy.meta["options"] == {"retrain_after": 3, "max_resource": 9}
    again = recreate(strategy)
    assert again.sampler._retrain_after == 3 and again.meta == strategy.meta


def test_unknown_name_and_option_are_rejected_with_the_choices(make_space) -> None:
    with pytest.raises(InvalidParameterError, match="choose one of .*autoctr"):
        create("bayes", make_space())
    with pytest.raises(InvalidParameterError, match="'populaton_size'.*population_size"):
        create("evolution", make_space(), populaton_size=4)
    with pytest.raises(InvalidParameterError, match="max_resource"):
        create("evolution", make_space(), max_resource=4)


def test_invalid_option_values_name_the_parameter(make_space) -> None:
    with pytest.raises(InvalidParameterError, match="model"):
        create("smac", make_space(), model="xgb")
    with pytest.raises(InvalidParameterError, match="initial_design"):
        create("smac", make_space(), initial_design="lhs")
    with pytest.raises(InvalidParameterError, match="good_fraction"):
        create("nbtree", make_space(), good_fraction=1.5)
    with pytest.raises(InvalidParameterError, match="ConfigurationSpace"):
        create("random", {"lr": (0.1, 1.0)})  # type: ignore[arg-type]


def test_space_is_not_mutated_by_smac(make_space) -> None:
    space: ConfigurationSpace = make_space()
    space.seed(0)
    expected = space.sample_configuration(3)
    space.seed(0)
    strategy = create("smac", space, seed=1, n_initial=2, retrain_after=1, challengers=50)
    study = strategy.create_study()
    from recsearch.testing import toy_objective

    study.optimize(toy_objective(space), n_trials=4)
    assert space.sample_configuration(3) == expected
