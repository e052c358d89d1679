"""A one-shot strategy in a study: the search trial, its enqueued configurations, then tpe."""

from __future__ import annotations

import json
from pathlib import Path

import optuna
import pytest
from _oneshot_support import fm_base
from _oneshot_support import planted
from optuna.trial import TrialState

from recsearch.errors import InvalidParameterError
from recsearch.objectives import CTRObjective
from recsearch.oneshot.study import DERIVED_ATTR
from recsearch.oneshot.study import ONESHOT_ATTR
from recsearch.oneshot.study import is_search_trial
from recsearch.oneshot.study import listing
from recsearch.oneshot.study import split_name
from recsearch.oneshot.study import wire
from recsearch.spaces import preset


def _study(  # type: ignore[no-untyped-def]
    n_trials: int, *, storage=None, name="s", budget=1.0, strategy="autofis-oneshot"
):
    ds = planted(3000, 5, 0)
    space = preset("autofis", ds.schema)
    objective = CTRObjective(ds, space, budget=0.5, device="cpu", seed=0,
                             base=fm_base(space, batch_size=128))
    strategy, wrapped = wire(strategy, space, objective, seed=0, budget=budget)
    study = strategy.create_study(direction="maximize", storage=storage, study_name=name,
                                  load_if_exists=True)
    study.optimize(wrapped, n_trials=n_trials)
    return study, strategy


def test_the_first_trial_searches_then_its_configurations_then_tpe() -> None:
    study, strategy = _study(8)
    trials = study.trials
    search = trials[0]
    assert is_search_trial(search) and search.state == TrialState.PRUNED
    assert search.params == {}
    summary = json.loads(search.user_attrs[ONESHOT_ATTR])
    assert search.user_attrs["epochs"] == pytest.approx(summary["epoch_equivalents"])
    assert summary["epochs"] == pytest.approx(1.0, abs=0.01)
    derived = [t for t in trials if DERIVED_ATTR in t.user_attrs]
    assert len(derived) == summary["configurations"] >= 2
    assert [t.number for t in derived] == list(range(1, 1 + len(derived)))
    assert all(t.state == TrialState.COMPLETE for t in trials[1:])
    assert not any(is_search_trial(t) for t in trials[1:])
    assert not is_search_trial(study.best_trial)
    assert strategy.meta["oneshot"] == "autofis-oneshot" and strategy.meta["then"] == "tpe"
    assert isinstance(strategy.sampler, optuna.samplers.TPESampler)


def test_an_enqueued_configuration_runs_before_the_search_claims_a_trial() -> None:
    ds = planted(3000, 5, 0)
    space = preset("autofis", ds.schema)
    objective = CTRObjective(ds, space, budget=0.5, device="cpu", seed=0,
                             base=fm_base(space, batch_size=128))
    strategy, wrapped = wire("autofis-oneshot", space, objective, seed=0, budget=0.5)
    study = strategy.create_study(direction="maximize")
    study.enqueue_trial({n: True for n in space})  # e.g. the base configuration first
    study.optimize(wrapped, n_trials=3)
    first, second = study.trials[:2]
    assert first.state == TrialState.COMPLETE and not is_search_trial(first)
    assert is_search_trial(second)


def test_a_resumed_study_does_not_search_again() -> None:
    storage = optuna.storages.InMemoryStorage()
    _study(2, storage=storage)
    study, _ = _study(2, storage=storage)
    assert sum(is_search_trial(t) for t in study.trials) == 1


def test_a_configspace_sampler_after_the_search_ignores_the_search_trial() -> None:
    study, strategy = _study(7, strategy="autofis-oneshot+rl")
    history = strategy.sampler.history(study)
    assert all(o.number != 0 for o in history.observations)
    assert len(history.evaluated) == 6


def test_names_and_listing() -> None:
    assert split_name("autofis-oneshot+smac") == ("autofis-oneshot", "smac")
    assert split_name("random") is None
    table = listing()
    assert "Spaces: autofis, sif" in table["autofis-oneshot"]
    assert "Spaces: autodim" in table["autodim-oneshot"]
    with pytest.raises(InvalidParameterError, match="autofis-oneshot"):
        wire("autopi-oneshot", None, None)  # type: ignore[arg-type]


def test_run_and_compare_take_a_one_shot_strategy(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from recsearch import cli
    from recsearch import runner
    from recsearch.compare import run_comparison

    monkeypatch.chdir(tmp_path)
    storage = f"journal:{tmp_path / 'studies.log'}"
    code = cli.main(["run", "--dataset", "synthetic", "--dataset-option", "n_rows=1500",
                     "--dataset-option", "n_categorical=4", "--space", "autofis",
                     "--strategy", "autofis-oneshot", "--trials", "4", "--budget-epochs", "0.5",
                     "--strategy-option", "oneshot.budget=0.5",
                     "--strategy-option", "n_startup_trials=3",
                     "--storage", storage, "--study", "s", "--tracking-uri", "none"])  # fmt: skip
    out, err = capsys.readouterr()
    assert code == 0, err
    study, _ = runner.load_study(study_name="s", storage=storage)
    # NOTE: the study may run its base configuration first (enqueued at creation); the first
    # trial not enqueued with parameters is the search.
    searches = [t for t in study.trials if is_search_trial(t)]
    assert len(searches) == 1 and searches[0].state == TrialState.PRUNED
    search = searches[0]
    before = study.trials[: search.number]
    assert all(t.state == TrialState.COMPLETE and t.params for t in before)
    assert all(DERIVED_ATTR in t.user_attrs for t in study.trials[search.number + 1 :])
    assert json.loads(search.user_attrs[ONESHOT_ATTR])["epochs"] == pytest.approx(0.5, abs=0.01)
    assert not is_search_trial(study.best_trial)
    assert cli.main(["strategies"]) == 0
    listed = capsys.readouterr().out
    assert "autofis-oneshot" in listed and "Spaces: autofis, sif" in listed
    report = run_comparison(
        dataset="synthetic", dataset_options={"n_rows": 1500, "n_categorical": 4},
        space="autofis", strategies=["random", "autofis-oneshot"], seeds=1, budget=3.0,
        budget_epochs_per_trial=0.5, out_dir=tmp_path / "rep", track=False,
    )
    runs = {r.strategy: r for r in report.runs}
    oneshot_run = runs["autofis-oneshot"]
    pruned = [t for t in oneshot_run.trials if t.state == "PRUNED"]
    assert len(pruned) == 1 and pruned[0].epochs > 0  # the search trial, charged
    assert oneshot_run.epochs == pytest.approx(runs["random"].epochs, abs=1.5)
    assert "autofis-oneshot" in report.to_markdown()
    written = (tmp_path / "rep" / "results.md").read_text()
    assert "supernet search, charged at its epochs times" in written


def test_the_retrain_never_takes_the_search_trial_and_says_which_configurations_it_derived() -> (
    None
):
    from recsearch.study.retraining import select_candidates

    study, _ = _study(6)
    ds = planted(3000, 5, 0)
    space = preset("autofis", ds.schema)
    cands, notes, _ = select_candidates(
        study, space=space, dataset=ds, top_k=10, baselines=[], recipe="r", base=False
    )
    search = next(t for t in study.trials if is_search_trial(t))
    assert search.number not in {c.trial_number for c in cands}
    derived = {t.number for t in study.trials if DERIVED_ATTR in t.user_attrs}
    said = [n for n in notes if "derived by the autofis-oneshot search (trial 0, " in n]
    named = {c.trial_number for c in cands if any(n.startswith(f"{c.name} (") for n in said)}
    assert derived and named == {c.trial_number for c in cands} & derived
    assert len(said) == len(named)
