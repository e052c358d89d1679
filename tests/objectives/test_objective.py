"""CTRObjective: suggest, decode, train, report, prune, record; and every preset trains."""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import optuna
import pytest
from ConfigSpace import ConfigurationSpace
from ConfigSpace import ForbiddenEqualsClause
from optuna.trial import TrialState

from recsearch.data.schema import Dataset
from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.data.schema import Split
from recsearch.data.synthetic import synthetic
from recsearch.errors import InvalidParameterError
from recsearch.hooks import ObjectiveHook
from recsearch.objectives.objective import CTRObjective
from recsearch.objectives.trainer import Budget
from recsearch.objectives.trainer import Recipe
from recsearch.objectives.trainer import TrainResult
from recsearch.spaces import available
from recsearch.spaces import compose
from recsearch.spaces import decode
from recsearch.spaces import preset
from recsearch.spaces import training
from recsearch.spaces.decode import DEEPFM_BASE
from recsearch.spec import ModelSpec
from recsearch.spec import TrainingSpec

optuna.logging.set_verbosity(optuna.logging.WARNING)

NO_MIN = Recipe(min_steps=0)
"""Mechanics at tiny budgets: the recipe's minimum steps off, so a budget trains what it names."""
QUARTER = Budget(epochs=0.25, eval_every=0.25, recipe=NO_MIN)
HALF = Budget(epochs=0.5, eval_every=0.25, recipe=NO_MIN)

SMALL_BASE = DEEPFM_BASE.replace(
    training=TrainingSpec(batch_size=256, patience=0), head=DEEPFM_BASE.head.__class__((32,))
)


@pytest.fixture(scope="module")
def data() -> Dataset:
    return synthetic(
        1000, n_categorical=5, n_numeric=2, n_multi_hot=1, n_sequence=1, max_vocab=40, seed=0
    )


def make_movielens_like(n_rows: int = 600, *, seed: int = 0) -> Dataset:
    """Random data of a hand-built MovieLens-like schema (10 fields incl. multi-hot genre)."""
    rng = np.random.default_rng(seed)
    vocabs = {"user_id": 60, "item_id": 80, "age": 8, "gender": 3, "occupation": 22,
              "zip_prefix": 30, "release_year": 20, "weekday": 8}
    fields = [Field(n, "categorical", v, np.ones(v, dtype=np.int64)) for n, v in vocabs.items()]
    cat = np.stack([rng.integers(0, v, n_rows) for v in vocabs.values()], axis=1)
    num = rng.standard_normal((n_rows, 1)).astype(np.float32)
    history = np.where(rng.random((n_rows, 6)) < 0.5, rng.integers(1, 80, (n_rows, 6)), 0)
    fields += [Field("genre", "multi_hot", 20, np.ones(20, dtype=np.int64)),
               Field("hour", "numeric", quantiles=np.quantile(num[:, 0], np.linspace(0, 1, 101))),
               Field("history", "sequence", 80, np.ones(80, dtype=np.int64), max_len=6)]
    schema = Schema("click", tuple(fields))
    genre = np.where(rng.random((n_rows, 3)) < 0.6, rng.integers(1, 20, (n_rows, 3)), 0)
    logit = (cat[:, 3] == 1) * 1.5 - 0.7 + num[:, 0]
    label = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    full = Split(cat.astype(np.int64), num, (genre.astype(np.int64),), label,
                 (history.astype(np.int64),))
    a, b = int(0.7 * n_rows), int(0.85 * n_rows)
    idx = np.arange(n_rows)
    return Dataset("ml-like", schema, full.take(idx[:a]), full.take(idx[a:b]), full.take(idx[b:]))


class Recorder:
    """An ObjectiveHook that records every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, int, Any]] = []

    def trial_started(self, trial: optuna.Trial, params: Any) -> None:
        self.calls.append(("started", trial.number, dict(params)))

    def step_reported(self, trial: optuna.Trial, step: int, metrics: Any) -> None:
        self.calls.append(("step", trial.number, (step, dict(metrics))))

    def trial_ended(self, trial: optuna.Trial, metrics: Any, failure: str | None) -> None:
        self.calls.append(("ended", trial.number, (dict(metrics), failure)))


def _pretrained(name: str, space: ConfigurationSpace, data: Dataset) -> Any:
    """A source model's state for autoft (a fresh base model stands in for a trained one)."""
    if name != "autoft":
        return None
    from recsearch.objectives import build_model
    from recsearch.spaces import default_base

    return build_model(default_base(space), data.schema).state_dict()


@pytest.mark.parametrize("name", sorted(available()))
def test_twenty_configurations_per_preset_train(name: str, data: Dataset) -> None:
    space = preset(name, data.schema, seed=11)
    objective = CTRObjective(data, space, device="cpu", seed=0,
                             pretrained=_pretrained(name, space, data))
    for config in space.sample_configuration(20):
        spec = decode(config, data.schema)
        result = objective.evaluate(config, Budget(epochs=0.3, eval_every=0.3, recipe=NO_MIN))
        assert isinstance(result, TrainResult)
        assert 0.0 <= result.valid_auc <= 1.0 and math.isfinite(result.valid_logloss)
        assert spec.name == name


@pytest.mark.parametrize("name", sorted(available()))
def test_presets_train_on_a_movielens_like_schema(name: str) -> None:
    data = make_movielens_like()
    space = preset(name, data.schema, seed=12)
    objective = CTRObjective(data, space, device="cpu", seed=0,
                             pretrained=_pretrained(name, space, data))
    for config in space.sample_configuration(4):
        result = objective.evaluate(config, Budget(epochs=0.3, eval_every=0.3, recipe=NO_MIN))
        assert math.isfinite(result.valid_logloss)


def test_hyperband_prunes_some_trials_and_completes_others(data: Dataset) -> None:
    space = compose(train=training(optimizers=("adam", "sgd")))
    recorder = Recorder()
    objective = CTRObjective(
        data, space, budget=Budget(epochs=2.0, eval_every=0.25, recipe=NO_MIN), device="cpu",
        base=SMALL_BASE, hooks=(recorder,),
    )
    study = optuna.create_study(
        direction=objective.direction,
        sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.HyperbandPruner(min_resource=1, max_resource=8,
                                              reduction_factor=3),
    )
    study.optimize(objective, n_trials=16, catch=(Exception,))
    states = [t.state for t in study.trials]
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    for t in study.trials:
        steps = sorted(t.intermediate_values)
        assert steps == list(range(1, len(steps) + 1)), "steps are 1-based evaluation indices"
        if t.state == TrialState.PRUNED:
            assert len(steps) < 8
            assert t.user_attrs["epochs"] == pytest.approx(0.25 * len(steps))
        if t.state == TrialState.COMPLETE:
            assert t.user_attrs["epochs"] == pytest.approx(2.0)
            assert t.value == pytest.approx(t.user_attrs["valid_auc"])
    ended = [c for c in recorder.calls if c[0] == "ended"]
    assert len(ended) == 16 and all(c[2][1] is None for c in ended)


def test_user_attributes_and_hooks_of_a_complete_trial(data: Dataset) -> None:
    space = preset("autodim", data.schema)
    recorder = Recorder()
    objective = CTRObjective(data, space, budget=HALF,
                             device="cpu", base=SMALL_BASE, hooks=(recorder,))
    study = optuna.create_study(direction=objective.direction)
    study.optimize(objective, n_trials=1)
    t = study.trials[0]
    assert t.state == TrialState.COMPLETE
    assert not [k for k in t.user_attrs if k.startswith("test_")], "a search never tests"
    for key in ("valid_auc", "valid_logloss", "cost.params",
                "cost.embedding_bytes", "cost.flops", "cost.latency_ms", "epochs", "spec"):
        assert key in t.user_attrs, key
    assert "failure" not in t.user_attrs
    spec = ModelSpec.from_dict(json.loads(t.user_attrs["spec"]))
    from recsearch.spaces import configuration_from_trial

    assert spec == decode(configuration_from_trial(t, space), data.schema, base=SMALL_BASE)
    assert t.user_attrs["cost.params"] > 0
    kinds = [c[0] for c in recorder.calls]
    assert kinds == ["started", "step", "step", "ended"]
    assert recorder.calls[0][2] == t.params
    assert [c[2][0] for c in recorder.calls if c[0] == "step"] == [1, 2]
    assert recorder.calls[-1][2][0]["valid_auc"] == t.user_attrs["valid_auc"]


def test_forbidden_configuration_fails_the_trial_before_training(data: Dataset) -> None:
    space = compose(train=training(optimizers=("adam", "sgd")))
    space.add(ForbiddenEqualsClause(space["train.optimizer"], "sgd"))
    recorder = Recorder()
    objective = CTRObjective(data, space, budget=QUARTER, device="cpu", base=SMALL_BASE,
                             hooks=(recorder,))
    study = optuna.create_study(direction="maximize")
    study.enqueue_trial({"train.optimizer": "sgd"})
    study.optimize(objective, n_trials=1, catch=(Exception,))
    t = study.trials[0]
    assert t.state == TrialState.FAIL
    assert t.user_attrs["failure"].startswith("forbidden configuration")
    assert "spec" not in t.user_attrs and t.user_attrs["epochs"] == 0.0
    assert [c[0] for c in recorder.calls] == ["ended"]
    assert recorder.calls[0][2][1] == t.user_attrs["failure"]


def test_training_error_fails_the_trial_with_its_reason(data: Dataset) -> None:
    objective = CTRObjective(data, preset("hpo", data.schema), budget=QUARTER, device="cpu",
                             memory_cap=16)
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=2, catch=(Exception,))
    for t in study.trials:
        assert t.state == TrialState.FAIL
        assert t.user_attrs["failure"].startswith("MemoryCapError: ")
    with pytest.raises(Exception, match="memory cap"):
        study.optimize(objective, n_trials=1)


def test_fidelity_trains_on_a_fraction_of_the_rows(data: Dataset) -> None:
    space = compose(train=training(optimizers=("adam",)))
    objective = CTRObjective(data, space, budget=Budget(epochs=1.0, eval_every=0.5, recipe=NO_MIN),
                             device="cpu", base=SMALL_BASE)
    study = optuna.create_study(direction="maximize")

    def low_fidelity(trial: optuna.Trial) -> float:
        trial.set_user_attr("fidelity", 0.25)
        return objective(trial)  # type: ignore[return-value]

    study.optimize(low_fidelity, n_trials=1)
    study.optimize(objective, n_trials=1)
    low, full = study.trials
    n = len(data.train)
    assert low.user_attrs["epochs"] == pytest.approx(round(0.25 * n) / n)
    assert full.user_attrs["epochs"] == pytest.approx(1.0)


def test_multi_objective_returns_metric_and_cost(data: Dataset) -> None:
    objective = CTRObjective(data, preset("autodim", data.schema), metric="logloss",
                             cost="params", budget=QUARTER, device="cpu", base=SMALL_BASE)
    assert objective.directions == ["minimize", "minimize"]
    study = optuna.create_study(directions=objective.directions)
    study.optimize(objective, n_trials=2)
    for t in study.trials:
        assert t.values == [pytest.approx(t.user_attrs["valid_logloss"]),
                            t.user_attrs["cost.params"]]


def test_bad_arguments_name_the_parameter(data: Dataset) -> None:
    space = preset("hpo", data.schema)
    with pytest.raises(InvalidParameterError, match="'metric'"):
        _ = CTRObjective(data, space, metric="ndcg").directions  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'cost'"):
        _ = CTRObjective(data, space, cost="watts").directions  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="'budget'"):
        CTRObjective(data, space, budget=-1, device="cpu").evaluate(
            space.get_default_configuration()
        )
    with pytest.raises(InvalidParameterError, match="'space'"):
        _ = CTRObjective(data, ConfigurationSpace, device="cpu").directions  # type: ignore


def test_init_stores_arguments_unchanged(data: Dataset) -> None:
    space = preset("hpo", data.schema)
    hooks: tuple[ObjectiveHook, ...] = (Recorder(),)
    obj = CTRObjective(data, space, metric="logloss", budget=0.5, hooks=hooks)
    assert obj.space is space and obj.hooks is hooks and obj.budget == 0.5
    assert obj.direction == "minimize"


def test_autoft_without_a_pretrained_state_fails_before_any_trial(data: Dataset) -> None:
    objective = CTRObjective(data, preset("autoft", data.schema), device="cpu")
    with pytest.raises(InvalidParameterError, match="pretrained"):
        objective.directions  # noqa: B018 - the study is created from it, before any trial
