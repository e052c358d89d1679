"""The retrain stage on small generated data: cells, resume, report, bad input, registry."""

from __future__ import annotations

import os
import signal
from collections import Counter
from pathlib import Path

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState

import recsearch
from _scale_support import mlflow_store
from _scale_support import mlflow_template  # noqa: F401 - fixture
from recsearch.errors import InvalidParameterError
from recsearch.study.retraining import CELL_PARAM
from recsearch.study.settings import StudyMismatchError
from recsearch.study.studies import create_study
from recsearch.study.worker import Interrupted

LOADER = "_retrain_support:clicks_loader"


@pytest.fixture(autouse=True)
def _small(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    import torch

    torch.set_num_threads(1)


def _search(storage: str, *, trials: int = 4, tracking: str | None = None, **kw: object) -> str:
    from recsearch.study.launcher import run

    result = run(storage=storage, study_name="s", dataset=LOADER, space="autofis",
                 strategy="random", n_trials=trials, budget_epochs=1.0, seed=0,
                 dataset_options={"n_rows": 800}, tracking_uri=tracking, **kw)  # fmt: skip
    return result.study.study_name


def _load(storage: str) -> optuna.Study:
    from recsearch.storage import open_storage

    store = open_storage(storage)
    (name,) = [n for n in optuna.get_all_study_names(store) if n.startswith("retrain-s-")]
    return optuna.load_study(study_name=name, storage=store)


def _retrain(storage: str, **kw: object):  # type: ignore[no-untyped-def]
    options = {"top_k": 2, "seeds": 2, "budget_epochs": 2.0, "baselines": ("fm",),
               "tracking_uri": None, "patience": 1, "out": "reports"} | kw  # fmt: skip
    return recsearch.retrain(study="s", storage=storage, **options)


def test_retrain_trains_each_cell_once_and_reports(tmp_path: Path) -> None:
    storage = f"journal:{tmp_path / 'j.log'}"
    _search(storage)
    report = _retrain(storage)
    names = [r.name for r in report.rows]
    kinds = Counter(r.candidate.kind for r in report.rows)
    assert names[:2] == ["found-1", "found-2"] and names[-1] == "fm"
    assert kinds["baseline"] == 1 and kinds["found"] == 2
    assert all(len(r.seeds) == 2 for r in report.rows)
    assert report.winner in names and report.winner != "fm" and report.best_baseline == "fm"
    assert len(report.per_seed_gain) == 2 and np.isfinite(report.gain)
    assert "a weak test" in report.gain_line()
    assert all(Path(p).exists() for p in report.files.values())
    rstudy = _load(storage)
    cells = Counter(t.params[CELL_PARAM] for t in rstudy.trials if t.state == TrialState.COMPLETE)
    assert sorted(cells) == list(range(len(names) * 2)) and set(cells.values()) == {1}
    assert all(t.user_attrs["test_auc"] > 0 for t in rstudy.trials)  # test scored here only
    again = _retrain(storage)  # nothing left to train: the same report
    assert len(_load(storage).trials) == len(
        rstudy.trials
    )
    assert again.row("fm").mean == report.row("fm").mean


def test_an_interrupted_retrain_reruns_only_the_missing_cells(tmp_path: Path) -> None:
    storage = f"journal:{tmp_path / 'j.log'}"
    _search(storage, trials=3)
    done = []

    def stop_after_two(study: optuna.Study, trial: object) -> None:
        done.append(trial)
        if len(done) == 2:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises((Interrupted, KeyboardInterrupt)):
        _retrain(storage, top_k=1, progress=stop_after_two)
    first = _load(storage)
    finished = {t.params[CELL_PARAM] for t in first.trials if t.state == TrialState.COMPLETE}
    assert len(finished) >= 2
    report = _retrain(storage, top_k=1)
    after = _load(storage)
    per_cell = Counter(t.params[CELL_PARAM] for t in after.trials
                       if t.state == TrialState.COMPLETE)  # fmt: skip
    assert set(per_cell.values()) == {1}  # no cell trained twice
    assert len(per_cell) == len(report.rows) * 2


def test_bad_inputs_are_refused_with_a_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    storage = f"journal:{tmp_path / 'j.log'}"
    create_study(storage=storage, study_name="s", dataset=LOADER, space="autofis",
                 strategy="random", n_trials=2, dataset_options={"n_rows": 800},
                 tracking_uri=None, base_first=False)  # fmt: skip
    with pytest.raises(InvalidParameterError, match="no COMPLETE trial"):
        _retrain(storage)
    storage = f"journal:{tmp_path / 'k.log'}"
    _search(storage, trials=2)
    with pytest.raises(InvalidParameterError, match="deepfm"):  # the known names are listed
        _retrain(storage, baselines=("deepfmm",))
    from recsearch import cli

    argv = ["retrain", "--study", "s", "--storage", storage, "--tracking-uri", "none"]
    assert cli.main([*argv, "--baselines", "nope"]) != 0
    err = capsys.readouterr().err.strip()
    assert "nope" in err and "deepfm" in err and len(err.splitlines()) == 1
    with pytest.raises(InvalidParameterError, match="--register-as needs MLflow tracking"):
        _retrain(storage, register_as="m")
    with pytest.raises(StudyMismatchError, match="field user: categorical with 41 values"):
        _retrain(storage, dataset_options={"n_rows": 30})
    report = _retrain(storage, top_k=5, seeds=1, baselines=())
    assert any("above the" in n for n in report.notes)
    assert report.best_baseline is None


def test_tracked_retrain_logs_child_runs_and_registers_the_winner(
    tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    import mlflow
    from mlflow.tracking import MlflowClient

    uri = mlflow_store(mlflow_template, tmp_path)
    storage = f"journal:{tmp_path / 'j.log'}"
    _search(storage, trials=2, tracking=uri)
    report = _retrain(storage, top_k=1, seeds=1, tracking_uri="study", register_as="clicks")
    assert "models:/clicks/1" in (report.registered or "")
    client = MlflowClient(uri)
    rstudy = _load(storage)
    parent = rstudy.user_attrs["mlflow_parent_run_id"]
    children = client.search_runs([client.get_run(parent).info.experiment_id],
                                  f"tags.mlflow.parentRunId = '{parent}'")  # fmt: skip
    assert len(children) == len(report.rows)
    assert any(a.path == "retrain" for a in client.list_artifacts(parent))
    mlflow.set_tracking_uri(uri)
    try:
        from _retrain_support import raw_clicks

        raw = raw_clicks(4, seed=3).drop(columns=["y"])
        p = np.asarray(mlflow.pyfunc.load_model("models:/clicks@champion").predict(raw))
        assert ((p > 0) & (p < 1)).all()
    finally:
        mlflow.set_tracking_uri(None)


def test_a_data_set_that_cannot_be_deployed_keeps_its_tracked_report(
    tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    from recsearch.errors import DataError
    from recsearch.study.launcher import run

    uri = mlflow_store(mlflow_template, tmp_path)
    storage = f"journal:{tmp_path / 'j.log'}"
    run(storage=storage, study_name="s", dataset="synthetic", space="hpo", strategy="random",
        n_trials=2, budget_epochs=0.5, dataset_options={"n_rows": 600}, tracking_uri=uri)
    report = _retrain(storage, top_k=1, seeds=1, budget_epochs=1.0, tracking_uri="study")
    assert "no deployable model" in (report.registered or "")  # synthetic keeps no vocabularies
    assert Path(report.files["markdown"]).is_file() and len(report.rows) >= 2
    with pytest.raises(DataError, match="no vocabularies"):
        _retrain(storage, top_k=1, seeds=1, budget_epochs=1.0, tracking_uri="study",
                 register_as="synthetic-model", out="again")
    assert list(Path("again").rglob("*.md"))  # asked to register: an error, the table kept
