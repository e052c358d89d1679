"""Fidelity studies: every (configuration, budget) cell trained once, resumable, rank report."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState

from recsearch.errors import InvalidParameterError
from recsearch.objectives.recipe import Recipe
from recsearch.study.fidelity import ATTR_BUDGET
from recsearch.study.fidelity import ATTR_FULL
from recsearch.study.fidelity import fidelity
from recsearch.study.fidelity import fidelity_report

OPTIONS = {"n_rows": 600, "n_categorical": 3, "max_vocab": 12, "seed": 0}


def test_fidelity_trains_each_cell_once_resumes_and_reports(tmp_path) -> None:
    storage = f"sqlite:///{tmp_path / 'f.db'}"
    png = tmp_path / "fidelity.png"
    kwargs = dict(configs=3, budgets=(0.25, 0.5), full_budget=1.0, dataset_options=OPTIONS,
                  storage=storage, study_name="fid", threads=1, recipe=Recipe(min_steps=4))
    report = fidelity("synthetic", "hpo", png=png, **kwargs)
    study = optuna.load_study(study_name="fid", storage=storage)
    trials = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(trials) == 3 * 3
    assert sorted({t.user_attrs[ATTR_BUDGET] for t in trials}) == [0.25, 0.5, 1.0]
    assert sum(bool(t.user_attrs[ATTR_FULL]) for t in trials) == 3
    assert not [k for t in trials for k in t.user_attrs if k.startswith("test_")]
    assert report.n_configs == 3 and set(report.spearman) == {0.25, 0.5}
    assert all(-1.0 <= v <= 1.0 for v in report.spearman.values())
    assert all(v >= 0.0 for v in report.top3_regret.values())
    assert png.stat().st_size > 1000 and report.png == str(png)
    assert "spearman" in report.table()
    # the rerun trains nothing: every cell has a COMPLETE trial
    again = fidelity("synthetic", "hpo", **kwargs)
    assert len(optuna.load_study(study_name="fid", storage=storage).trials) == len(trials)
    assert again.spearman == report.spearman
    assert fidelity_report(study).kendall == report.kendall


def test_fidelity_refuses_bad_budgets() -> None:
    with pytest.raises(InvalidParameterError, match="finite budgets"):
        fidelity("synthetic", "hpo", configs=3, budgets=(math.inf,))


def test_cli_fidelity_is_wired_to_the_function(tmp_path, monkeypatch, capsys) -> None:
    import recsearch
    from recsearch import cli
    from recsearch.study import fidelity as module

    assert recsearch.fidelity is fidelity
    seen = {}

    def fake(dataset, space, **kwargs):
        seen.update(dataset=dataset, space=space, **kwargs)
        return module.FidelityReport((0.5,), 2.0, 3, {0.5: 1.0}, {0.5: 1.0}, {0.5: 0.0},
                                     {"0.5": {}, "full": {}}, {"0.5": 1.5, "full": 6.0})

    monkeypatch.setattr(module, "fidelity", fake)
    rc = cli.main(["fidelity", "--dataset", "synthetic", "--space", "aim", "--configs", "4",
                   "--budgets", "0.5", "--full-budget", "2", "--out", str(tmp_path)])
    assert rc == 0 and seen["configs"] == 4 and seen["budgets"] == (0.5,)
    assert "spearman" in capsys.readouterr().out
    assert (tmp_path / "fidelity.json").exists()
    capsys.readouterr()
    with pytest.raises(SystemExit):
        cli.main(["fidelity", "--dataset", "synthetic", "--space", "aim", "--budgets", "inf"])
    assert "finite positive" in capsys.readouterr().err
