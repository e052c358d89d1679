"""A one-shot strategy in a study: the search trial, its enqueued configurations, then tpe."""

from __future__ import annotations

import json

import optuna
import pytest
from conftest import fm_base
from conftest import planted
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


def _study(n_trials: int, *, storage=None, name="s", budget=1.0, strategy="autofis-oneshot"):  # type: ignore[no-untyped-def]
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
        wire("autogroup-oneshot", None, None)  # type: ignore[arg-type]
