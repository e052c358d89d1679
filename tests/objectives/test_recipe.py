"""The training recipe: minimum steps, the data-size learning rate, budgets, the bar on tiny data,
early stopping on the search metric, and no test split during a search."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from recsearch.data.schema import Dataset
from recsearch.data.schema import Split
from recsearch.data.synthetic import synthetic
from recsearch.errors import InvalidParameterError
from recsearch.objectives import Budget
from recsearch.objectives import Recipe
from recsearch.objectives import train
from recsearch.objectives.evaluation import Monitor
from recsearch.objectives.objective import DEFAULT_BUDGET
from recsearch.objectives.objective import CTRObjective
from recsearch.objectives.recipe import default_lr
from recsearch.objectives.recipe import plan
from recsearch.spaces import compose
from recsearch.spaces import training
from recsearch.spaces.decode import DEEPFM_BASE
from recsearch.spec import HeadSpec
from recsearch.spec import TrainingSpec
from recsearch.spec import baseline

optuna.logging.set_verbosity(optuna.logging.WARNING)


def test_a_small_budget_shrinks_the_batch_then_trains_past_the_budget() -> None:
    # 2,400 rows at batch 1024 would be 3 steps: the batch shrinks to 32 (75 steps an epoch)
    p = plan(Budget(epochs=1.0, eval_every=0.25), TrainingSpec(), 2400)
    assert (p.batch_size, p.budget_rows) == (32, 2400)
    assert p.steps == 100 and p.total_rows == 100 * 32
    assert p.n_evaluations == 4, "as many evaluations as the budget names, stretched"
    # large data: the spec's batch, the budget's rows, no extension
    big = plan(Budget(epochs=1.0), TrainingSpec(batch_size=1024), 2_000_000)
    assert (big.batch_size, big.total_rows, big.n_evaluations) == (1024, 2_000_000, 1)
    # in between: a smaller power-of-two batch reaches the minimum within the budget
    mid = plan(Budget(epochs=1.0), TrainingSpec(batch_size=1024), 80_000)
    assert (mid.batch_size, mid.total_rows) == (512, 80_000) and mid.steps >= 100
    off = plan(Budget(epochs=1.0, recipe=Recipe(min_steps=0)), TrainingSpec(), 2400)
    assert (off.batch_size, off.total_rows) == (1024, 2400)


def test_steps_budget_caps_and_lowers_the_minimum() -> None:
    p = plan(Budget(steps=10), TrainingSpec(batch_size=64), 100_000)
    assert (p.batch_size, p.total_rows, p.steps) == (64, 640, 10)


def test_learning_rate_follows_the_data_size_unless_the_spec_sets_it() -> None:
    assert default_lr("adam", 10**7) == pytest.approx(1e-3)
    assert default_lr("adam", 100) == pytest.approx(1e-2)
    assert default_lr("adam", 250_000) == pytest.approx(2e-3)
    assert default_lr("adagrad", 10**7) == pytest.approx(1e-2)
    assert plan(Budget(), TrainingSpec(), 250_000).lr == pytest.approx(2e-3)
    assert plan(Budget(), TrainingSpec(lr=0.05), 250_000).lr == 0.05


@pytest.mark.parametrize("kwargs", [{"epochs": math.inf}, {"epochs": math.nan},
                                    {"rows": math.inf}, {"rows": 1.5}, {"steps": 0},
                                    {"eval_every": math.inf}, {"epochs": True}])
def test_budget_refuses_infinite_and_malformed_amounts(kwargs) -> None:
    name = next(iter(kwargs))
    with pytest.raises(InvalidParameterError, match=f"'{name}' parameter of Budget must be"):
        Budget(**kwargs)
    with pytest.raises(InvalidParameterError, match="min_steps"):
        Recipe(min_steps=-1)
    with pytest.raises(InvalidParameterError, match="finite epochs"):
        TrainingSpec(epochs=math.inf)


def test_budget_round_trips_through_json() -> None:
    d = Budget(epochs=2.0, eval_every=0.5, recipe=Recipe(min_steps=50)).to_dict()
    assert d["recipe"]["min_steps"] == 50 and d["recipe"]["lr_rule"]["reference_rows"] > 0
    assert Recipe.from_dict(d["recipe"]) == Recipe(min_steps=50)


@pytest.mark.parametrize("name", ["lr", "fm", "deepfm"])
def test_default_recipe_learns_on_3000_synthetic_rows(name) -> None:
    """The bar of issue 12: the README quick start's data at the default budget."""
    ds = synthetic(3000, seed=0)
    result = train(baseline(name, ds.schema), ds, DEFAULT_BUDGET, device="cpu", measure=False)
    assert result.valid_auc > 0.55, result.history
    assert result.epochs_run > 1.0, "the minimum steps trained past the one-epoch budget"
    assert len(result.history) <= DEFAULT_BUDGET.recipe.min_steps


def test_monitor_keeps_the_best_by_the_search_metric() -> None:
    m = Monitor("auc", patience=2)
    for step, (a, loss) in enumerate([(0.6, 0.5), (0.7, 0.6), (0.65, 0.4), (0.66, 0.3)], 1):
        m.update(None, float(step), a, loss)
    assert (m.best_auc, m.best_logloss, m.best_step, m.stop) == (0.7, 0.6, 2.0, True)
    m = Monitor("logloss", patience=0)
    for step, (a, loss) in enumerate([(0.6, 0.5), (0.7, 0.6), (0.65, 0.4)], 1):
        m.update(None, float(step), a, loss)
    assert (m.best_logloss, m.best_step, m.stop) == (0.4, 3.0, False)


class _Sealed(Split):
    """A split whose arrays may not be read: the test split of a search."""

    def __getattribute__(self, name: str):
        if name in ("categorical", "numeric", "multi_hot", "label"):
            raise AssertionError("the test split was read during a search")
        return super().__getattribute__(name)


def test_a_search_never_reads_the_test_split() -> None:
    ds = synthetic(800, n_categorical=4, max_vocab=30, seed=1)
    t = ds.test
    sealed = Dataset(ds.name, ds.schema, ds.train, ds.valid,
                     _Sealed(t.categorical, t.numeric, t.multi_hot, t.label), ds.info)
    base = DEEPFM_BASE.replace(head=HeadSpec(widths=(16,)))
    space = compose(train=training(optimizers=("adam", "sgd")))
    budget = Budget(epochs=0.5, eval_every=0.25, recipe=Recipe(min_steps=20))
    objective = CTRObjective(sealed, space, budget=budget, device="cpu", base=base)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=2)
    for trial in study.trials:
        assert trial.state == TrialState.COMPLETE
        assert not [k for k in trial.user_attrs if k.startswith("test_")]
        assert trial.user_attrs["recipe.batch_size"] >= 1 and trial.user_attrs["recipe.lr"] > 0
        assert trial.user_attrs["time.build_s"] >= 0
    with pytest.raises(AssertionError, match="test split was read"):
        objective.evaluate(dict(study.best_trial.params), evaluate_test=True)
    # the retrain stage's call scores the test split
    full = CTRObjective(ds, space, budget=budget, device="cpu", base=base)
    result = full.evaluate(dict(study.best_trial.params), evaluate_test=True, seed=5)
    assert set(result.metrics()) == {"valid_auc", "valid_logloss", "test_auc", "test_logloss"}


def test_latency_is_measured_once_per_architecture(monkeypatch) -> None:
    from recsearch.objectives import trainer as trainer_module

    calls = []
    real = trainer_module.measure_latency
    monkeypatch.setattr(trainer_module, "measure_latency",
                        lambda *a, **k: calls.append(1) or real(*a, **k))
    ds = synthetic(600, n_categorical=3, max_vocab=20, seed=2)
    space = compose(train=training(optimizers=("adam", "sgd")))  # one architecture
    budget = Budget(epochs=0.25, recipe=Recipe(min_steps=5))
    objective = CTRObjective(ds, space, budget=budget, device="cpu",
                             base=DEEPFM_BASE.replace(head=HeadSpec(widths=(8,))))
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0))
    study.optimize(objective, n_trials=3)
    assert len(calls) == 1
    latencies = {t.user_attrs["cost.latency_ms"] for t in study.trials}
    assert len(latencies) == 1 and math.isfinite(latencies.pop())


def test_a_search_study_stores_its_recipe_and_its_workers_use_it() -> None:
    import dataclasses

    from recsearch.spaces import preset
    from recsearch.study.components import build_objective
    from recsearch.study.settings import StudySettings
    from recsearch.study.settings import make_settings

    settings = make_settings(dataset="synthetic", space="hpo", strategy="random", n_trials=2,
                             tracking_uri=None)
    assert settings.recipe == Recipe().to_dict() and "recipe" in settings.identity()
    with pytest.raises(InvalidParameterError, match="finite"):
        make_settings(dataset="synthetic", space="hpo", strategy="random", n_trials=2,
                      budget_epochs=math.inf, tracking_uri=None)
    ds = synthetic(300, n_categorical=3, max_vocab=10, seed=0)
    space = preset("hpo", ds.schema)
    stored = dataclasses.replace(settings, recipe=Recipe(min_steps=7).to_dict())
    objective = build_objective(stored, ds, space)
    assert objective._budget().recipe == Recipe(min_steps=7)
    assert objective._budget().epochs == settings.budget_epochs
    # a study stored before the recipe field: the code's default recipe
    old = StudySettings.from_dict({k: v for k, v in settings.to_dict().items() if k != "recipe"})
    assert build_objective(old, ds, space)._budget().recipe == Recipe()


def test_rows_fidelity_retrains_promoted_trials_on_larger_subsamples() -> None:
    ds = synthetic(1200, n_categorical=4, max_vocab=20, seed=3)
    recipe = Recipe(min_steps=0, fidelity="rows")
    space = compose(train=training(optimizers=("adam", "sgd")))
    objective = CTRObjective(ds, space, budget=Budget(epochs=1.0, eval_every=0.5),
                             device="cpu", base=DEEPFM_BASE.replace(head=HeadSpec(widths=(8,))),
                             recipe=recipe)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0),
        pruner=optuna.pruners.HyperbandPruner(),
    )
    study.optimize(objective, n_trials=12, catch=(Exception,))
    n = len(ds.train)
    cost = [round(f * n) / n for f in recipe.rungs]  # epoch-equivalents of each rung
    states = {t.state for t in study.trials}
    assert TrialState.PRUNED in states and TrialState.COMPLETE in states
    pruner = study.pruner
    firsts = set()
    for t in study.trials:
        steps = sorted(t.intermediate_values)
        last = t.user_attrs["recipe.rung"]
        # Hyperband's bracket s first decides at step 3**s: a trial starts on that rung's rows
        # (the first trial, before Hyperband has brackets, trains the full data only)
        first = 2 if t.number == 0 else pruner._get_bracket_id(study, t)
        firsts.add(first)
        assert steps == [1, 3, 9][first:last + 1], "one report per rung, in smallest-rung units"
        assert t.user_attrs["epochs"] == pytest.approx(sum(cost[first:last + 1]))
        if t.state == TrialState.COMPLETE:
            assert last == 2
    assert firsts == {0, 1, 2}
    assert study.trials[0].user_attrs["epochs"] == pytest.approx(1.0), "no rung trained for nothing"
    # without a pruner that can stop a trial the smaller rungs are skipped
    plain = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    plain.optimize(objective, n_trials=1)
    assert plain.trials[0].user_attrs["epochs"] == pytest.approx(1.0)
    assert "recipe.rung" not in plain.trials[0].user_attrs
    # one seeded subsample per rung: every trial's rung 0 saw the same rows
    sub, fraction = objective._subsample(recipe.rungs[0])
    again, _ = objective._subsample(recipe.rungs[0])
    assert (sub.train.label == again.train.label).all() and fraction == cost[0]


def test_cli_fidelity_rows_reaches_the_study_recipe() -> None:
    import dataclasses

    from recsearch import cli
    from recsearch.study.settings import StudySettings
    from recsearch.study.settings import make_settings

    args = cli.build_parser().parse_args(
        ["create", "--dataset", "synthetic", "--space", "hpo", "--strategy", "hyperband",
         "--fidelity", "rows"])
    kwargs = cli._create_kwargs(args)
    assert kwargs["recipe"] == {"fidelity": "rows"}
    fields = {f.name for f in dataclasses.fields(StudySettings)}
    settings = make_settings(**{k: v for k, v in kwargs.items() if k in fields})
    assert Recipe.from_dict(settings.recipe) == Recipe(fidelity="rows")
    plain = cli._create_kwargs(cli.build_parser().parse_args(
        ["create", "--dataset", "synthetic", "--space", "hpo", "--strategy", "hyperband"]))
    assert plain["recipe"] is None


def test_a_subsample_costs_its_fraction_of_a_trial_minimum_steps_included() -> None:
    # 960 training rows: a full trial is stretched to 100 steps of 32 rows (3.3 epochs); a
    # ninth of the rows must not be stretched to the same 100 steps (which would cost as much)
    ds = synthetic(1200, n_categorical=4, max_vocab=20, seed=3)
    objective = CTRObjective(ds, compose(train=training(optimizers=("adam",))), budget=1.0,
                             device="cpu", base=DEEPFM_BASE.replace(head=HeadSpec(widths=(8,))))
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.NopPruner())
    study.enqueue_trial({}, user_attrs={"fidelity": 1 / 9}, skip_if_exists=False)
    study.optimize(objective, n_trials=2)
    low, full = (t.user_attrs["epochs"] for t in study.trials)
    assert full > 3.0, "the recipe stretches a full trial to its minimum steps"
    assert 0 < low < 1.5 * full / 9, "not stretched to the full minimum of 100 steps"


@pytest.mark.parametrize("halving", ["successive", "hyperband"])
def test_rows_fidelity_prunes_hyperband_strategies_by_successive_halving(halving) -> None:
    from recsearch.study.components import build_strategy
    from recsearch.study.settings import make_settings

    space = compose(train=training(optimizers=("adam",)))

    def pruner(strategy: str, recipe: dict | None) -> optuna.pruners.BasePruner:
        settings = make_settings(dataset="synthetic", space="hpo", strategy=strategy,
                                 n_trials=5, recipe=recipe)  # fmt: skip
        return build_strategy(settings, space, seed=0).pruner

    rows = {"fidelity": "rows", "halving": halving}
    expected = {"successive": optuna.pruners.SuccessiveHalvingPruner,
                "hyperband": optuna.pruners.HyperbandPruner}[halving]  # fmt: skip
    for name in ("hyperband", "bohb"):
        assert type(pruner(name, rows)) is expected
        assert type(pruner(name, None)) is optuna.pruners.HyperbandPruner, "epochs: unchanged"
    assert type(pruner("random", rows)) is optuna.pruners.NopPruner
    # successive halving decides from the smallest rung on: no trial skips it
    sha = optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    from recsearch.objectives.objective import first_rung

    assert first_rung(sha, None, [1, 3, 9]) == 0
    with pytest.raises(InvalidParameterError, match="'halving'"):
        Recipe(halving="asha")  # type: ignore[arg-type]


def test_halving_is_part_of_the_identity_of_rows_studies_only() -> None:
    assert "halving" not in Recipe().to_dict(), "epochs studies keep the identity they had"
    rows = Recipe(fidelity="rows", halving="hyperband")
    assert Recipe.from_dict(rows.to_dict()) == rows
    assert Recipe.from_dict({"fidelity": "rows"}).halving == "successive"
