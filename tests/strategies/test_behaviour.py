"""What each strategy promises beyond the generic contract."""

from __future__ import annotations

from math import comb

import numpy as np
import optuna
import pytest
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace
from optuna.trial import TrialState

from recsearch.hooks import USER_ATTR_FIDELITY
from recsearch.spaces import configuration_from_params
from recsearch.strategies import CONFIG_ATTR
from recsearch.strategies import AutoCTRSampler
from recsearch.strategies import NBTree
from recsearch.strategies import NBTreeSampler
from recsearch.strategies import Observation
from recsearch.strategies import RegularizedEvolutionSampler
from recsearch.strategies import create
from recsearch.strategies import scalar_losses
from recsearch.strategies import _cs
from recsearch.testing import suggest_configuration
from recsearch.testing import toy_loss
from recsearch.testing import toy_objective


def _is_valid(space: ConfigurationSpace, vector: np.ndarray) -> bool:
    try:
        Configuration(space, vector=vector).check_valid_configuration()
    except ValueError:
        return False
    return True


# ---------------------------------------------------------------- ConfigSpace helpers
def test_random_vectors_respect_conditions_and_forbiddens(make_space) -> None:
    space = make_space(3)
    vectors = _cs.random_vectors(space, 300, np.random.RandomState(0))
    assert vectors.shape == (300, len(space))
    assert all(_is_valid(space, v) for v in vectors)
    configs = [Configuration(space, vector=v) for v in vectors]
    assert not any(c["arch"] == "fm" and c["optimizer"] == "sgd" for c in configs)
    assert {c["arch"] for c in configs} == {"dnn", "dcn", "fm"}
    # conditional children are present exactly when their parent allows
    assert all((c.get("sgd.momentum") is not None) == (c["optimizer"] == "sgd") for c in configs)


def test_mutation_changes_one_active_value_and_keeps_validity(make_space) -> None:
    space = make_space(3)
    rng = np.random.RandomState(1)
    parents = _cs.random_vectors(space, 200, rng)
    children = _cs.mutate_batch(space, parents, rng)
    assert len(children) > 150
    assert all(_is_valid(space, c) for c in children)
    flat = ConfigurationSpace({"a": (0.0, 1.0), "b": ["x", "y", "z"], "c": (1, 9)})
    base = _cs.random_vectors(flat, 100, rng)
    kids = _cs.mutate_batch(flat, base, rng)
    changed = (np.abs(kids - base[: len(kids)]) > 1e-12).sum(axis=1)
    assert len(kids) == len(base) and np.all(changed == 1)


def test_mutation_of_a_parent_activates_and_deactivates_children(make_space) -> None:
    space = make_space(2)
    rng = np.random.RandomState(2)
    arch_index = list(space.keys()).index("arch")
    start = Configuration(space, values={**_dnn_values(space), "arch": "dnn"}).get_array()
    seen_arch = set()
    for _ in range(300):
        child = _cs.mutate(space, start, rng)
        assert child is not None and _is_valid(space, child)
        config = Configuration(space, vector=child)
        seen_arch.add(config["arch"])
        if config["arch"] == "dcn":
            assert config.get("dcn.num_cross_layers") is not None
            assert config.get("dnn.depth") is None
    assert arch_index >= 0 and seen_arch >= {"dnn", "dcn"}


def _dnn_values(space: ConfigurationSpace) -> dict:
    return {
        "lr": 0.01, "emb_dim": 8, "optimizer": "adam", "dnn.depth": 2, "dnn.width": 64,
        "n_blocks": 1, "block0.type": "mlp", "block0.units": 32, "block0.dense_input": True,
        "block0.sparse_input": True,
    }  # fmt: skip


def test_crossover_children_are_valid_and_mix_parents(make_space) -> None:
    space = make_space(2)
    rng = np.random.RandomState(3)
    a = _cs.random_vectors(space, 100, rng)
    b = _cs.random_vectors(space, 100, rng)
    kids = _cs.crossover_batch(space, a, b, rng)
    assert len(kids) > 50 and all(_is_valid(space, k) for k in kids)


def test_categorical_encoding_bins_numerics_and_marks_inactive(make_space) -> None:
    space = make_space(2)
    vectors = _cs.random_vectors(space, 50, np.random.RandomState(4))
    codes = _cs.encode_categorical(space, vectors, bins=4)
    card = _cs.cardinalities(space, bins=4)
    assert np.all(codes >= 0) and np.all(codes < card[None, :])
    assert np.array_equal(codes == 0, ~np.isfinite(vectors))


# ---------------------------------------------------------------- base sampler contract
def test_pending_configurations_are_not_proposed_twice() -> None:
    space = ConfigurationSpace({"a": ["x", "y"], "b": ["u", "v"]})
    study = optuna.create_study(sampler=create("random", space, seed=0).sampler)
    trials = [study.ask() for _ in range(4)]
    configs = {(suggest_configuration(t, space)["a"], t.params["b"]) for t in trials}
    assert len(configs) == 4  # all four configurations, none twice, while all are RUNNING


def test_config_is_stored_on_the_trial_and_history_survives_a_new_process(make_space) -> None:
    space = make_space()
    storage = optuna.storages.InMemoryStorage()
    first = create("evolution", space, seed=0, population_size=4, sample_size=2)
    study = first.create_study(storage=storage, study_name="s")
    study.optimize(toy_objective(space), n_trials=6)
    for t in study.trials:
        assert t.system_attrs[CONFIG_ATTR] == {k: t.params[k] for k in t.params}
    second = create("evolution", space, seed=0, population_size=4, sample_size=2)
    loaded = optuna.load_study(study_name="s", storage=storage, sampler=second.sampler)
    history = second.sampler.history(loaded)
    assert [o.number for o in history.evaluated] == list(range(6))
    assert np.allclose(
        [o.losses[0] for o in history.evaluated], [t.value for t in study.trials]
    )


def test_history_uses_pruned_trials_last_value_and_never_failed_ones(make_space) -> None:
    space = make_space()
    strategy = create("random", space, seed=0)
    study = strategy.create_study(direction="maximize")

    def objective(trial: optuna.Trial) -> float:
        suggest_configuration(trial, space)
        if trial.number == 1:
            trial.report(0.7, 1)
            trial.report(0.6, 2)
            raise optuna.TrialPruned()
        if trial.number == 2:
            raise RuntimeError("boom")
        return 0.5

    study.optimize(objective, n_trials=3, catch=(RuntimeError,))
    history = strategy.sampler.history(study)
    by_number = {o.number: o for o in history.observations}
    assert by_number[1].state == TrialState.PRUNED and by_number[1].losses == (-0.6,)
    assert by_number[2].failed and by_number[0].losses == (-0.5,)
    assert [o.number for o in history.evaluated] == [0, 1]


def test_scalar_losses_rank_pareto_layers_first() -> None:
    def obs(*losses: float) -> Observation:
        return Observation(0, np.zeros(1), TrialState.COMPLETE, losses)

    values = scalar_losses([obs(0.0, 1.0), obs(1.0, 0.0), obs(1.0, 1.0), obs(2.0, 2.0)])
    assert values[0] < 1 and values[1] < 1
    assert 1 <= values[2] < 2 and 2 <= values[3] < 3


# ---------------------------------------------------------------- evolution
def test_evolution_children_are_one_step_from_the_recent_population(make_space) -> None:
    space = make_space()
    sampler = RegularizedEvolutionSampler(space, seed=0, population_size=6, sample_size=3)
    study = optuna.create_study(sampler=sampler)
    study.optimize(toy_objective(space), n_trials=14)
    vectors = [Configuration(space, values=t.params).get_array() for t in study.trials]
    for i in range(6, 14):
        population = vectors[i - 6 : i]
        child = _cs.encode_numeric(vectors[i])[0]
        distances = [
            int((np.abs(child - _cs.encode_numeric(p)[0]) > 1e-9).sum()) for p in population
        ]
        # one changed value, plus children a changed parent switches on or off
        assert min(distances) >= 1
        assert min(distances) <= 1 + 3 + 4, f"trial {i} is not a mutation of the population"


# ---------------------------------------------------------------- autoctr
def test_autoctr_parent_probabilities_follow_the_binomial_rule(make_space) -> None:
    sampler = AutoCTRSampler(make_space(), seed=0, population_size=5, c=10)
    p = sampler.parent_probabilities(5)
    expected = np.array([comb(5 - r + 10, 10) for r in range(1, 6)], dtype=float)
    assert np.allclose(p, expected / expected.sum())
    assert np.all(np.diff(p) < 0)


def test_autoctr_population_keeps_best_of_youngest(make_space) -> None:
    sampler = AutoCTRSampler(
        make_space(), seed=0, population_size=2, complexity_weight=0.0, age_weight=0.0
    )
    obs = [
        Observation(n, np.zeros(1), TrialState.COMPLETE, (loss,), {"cost.params": 10})
        for n, loss in enumerate([0.0, 5.0, 3.0, 4.0, 1.0])
    ]
    # the 4 youngest are trials 1-4; the best two of them are 4 (loss 1) and 2 (loss 3)
    assert [o.number for o in sampler.population(tuple(obs))] == [4, 2]
    heavy = AutoCTRSampler(
        make_space(), seed=0, population_size=2, performance_weight=0.0, age_weight=0.0
    )
    costed = [
        Observation(n, np.zeros(1), TrialState.COMPLETE, (0.0,), {"cost.params": c})
        for n, c in enumerate([50, 10, 30, 20])
    ]
    assert [o.number for o in heavy.population(tuple(costed))] == [1, 3]


@pytest.mark.parametrize("surrogate", ["lightgbm", "sklearn"])
def test_autoctr_surrogate_prefers_the_planted_optimum(surrogate: str) -> None:
    space = ConfigurationSpace({"x": (0.0, 1.0), "kind": ["good", "bad", "meh"]})
    sampler = AutoCTRSampler(space, seed=0, population_size=5, surrogate=surrogate)
    rng = np.random.RandomState(0)
    vectors = _cs.random_vectors(space, 60, rng)
    configs = [Configuration(space, vector=v) for v in vectors]
    losses = [abs(c["x"] - 0.2) + (0.0 if c["kind"] == "good" else 1.0) for c in configs]
    obs = tuple(
        Observation(i, v, TrialState.COMPLETE, (loss,))
        for i, (v, loss) in enumerate(zip(vectors, losses, strict=True))
    )
    good = Configuration(space, values={"x": 0.2, "kind": "good"}).get_array()
    bad = Configuration(space, values={"x": 0.9, "kind": "bad"}).get_array()
    scores = sampler._score(obs, np.stack([good, bad]), seed=0)
    assert scores[0] > scores[1]


def test_autoctr_marks_early_trials_low_fidelity_and_runs_multi_objective(make_space) -> None:
    space = make_space()
    sampler = AutoCTRSampler(
        space, seed=0, population_size=4, n_candidates=10, low_fidelity=0.25,
        low_fidelity_trials=3,
    )  # fmt: skip
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        config = suggest_configuration(trial, space)
        trial.set_user_attr("cost.params", float(config["emb_dim"]))
        return toy_loss(config), float(config["emb_dim"])

    study.optimize(objective, n_trials=9)
    fidelity = [t.user_attrs.get(USER_ATTR_FIDELITY) for t in study.trials]
    assert fidelity[:3] == [0.25] * 3 and fidelity[3:] == [None] * 6
    assert all(t.state == TrialState.COMPLETE for t in study.trials)
    assert len(study.best_trials) >= 1


# ---------------------------------------------------------------- nbtree
def test_nbtree_splits_where_naive_bayes_alone_fails() -> None:
    rng = np.random.RandomState(0)
    x = rng.randint(0, 2, size=(200, 4))
    y = (x[:, 0] ^ x[:, 1]).astype(np.int64)  # XOR: no single feature tells the class
    tree = NBTree(np.array([2, 2, 2, 2])).fit(x, y)
    assert tree.depth_ >= 1
    accuracy = ((tree.predict_proba(x) > 0.5).astype(int) == y).mean()
    flat = NBTree(np.array([2, 2, 2, 2]), max_depth=0).fit(x, y)
    flat_accuracy = ((flat.predict_proba(x) > 0.5).astype(int) == y).mean()
    assert accuracy > 0.95 and flat_accuracy < 0.7


def test_nbtree_labels_failed_trials_bad_and_top_share_good(make_space) -> None:
    sampler = NBTreeSampler(make_space(), seed=0, good_fraction=0.3)
    labels = sampler.labels(np.array([5.0, 1.0, 3.0, 2.0, 4.0, 0.5, 9.0, 8.0, 7.0, 6.0]), 3)
    assert labels.tolist() == [0, 1, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0, 0]


def test_evolutionary_strategies_beat_random_on_the_toy_objective(make_space) -> None:
    space = make_space(3)
    best = {}
    for name, options in {
        "random": {},
        "evolution": {"population_size": 10, "sample_size": 3},
        "nbtree": {"n_initial": 10, "n_candidates": 30},
    }.items():
        values = []
        for seed in range(5):
            study = create(name, space, seed=seed, **options).create_study()
            study.optimize(toy_objective(space, steps=1), n_trials=60)
            values.append(study.best_value)
        best[name] = float(np.median(values))
    for name in ("evolution", "nbtree"):
        assert best[name] < best["random"], best


def test_smac_starts_with_its_sobol_design_and_workers_skip_what_is_held(make_space) -> None:
    from recsearch.spaces import suggest
    from recsearch.strategies._smac import _sobol_design

    def key_of_trial(trial) -> _cs.ConfigKey:  # type: ignore[no-untyped-def]
        return _cs.key_of(configuration_from_params(trial.params, space).get_array())

    space = make_space()
    strategy = create("smac", space, seed=3, n_initial=6, retrain_after=2, challengers=50)
    design = [_cs.key_of(v) for v in _sobol_design(space, 6, 3)]
    assert len(set(design)) == len(design) >= 4  # forbidden points may drop out
    study = strategy.create_study()
    # Two trials run at once, as two workers would: the second takes the next design point.
    first, second = study.ask(), study.ask()
    for trial in (first, second):
        suggest(trial, space)
    assert [key_of_trial(first), key_of_trial(second)] == design[:2]
    for trial in (first, second):
        study.tell(trial, 0.5)
    study.optimize(toy_objective(space), n_trials=len(design) - 2)
    assert [key_of_trial(t) for t in study.trials] == design
