"""The study package: settings identity, failure kinds, queue-only studies, budget stops."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import optuna
import pytest
from optuna.trial import TrialState

from recsearch.study import failures
from recsearch.study.settings import StudyMismatchError
from recsearch.study.settings import StudySettings
from recsearch.study.settings import default_study_name
from recsearch.study.studies import create_study
from recsearch.study.studies import enqueue_missing
from recsearch.study.studies import load_study
from recsearch.study.studies import study_counts
from recsearch.study.worker import run_worker

TINY = {"n_rows": 300, "n_categorical": 3, "n_numeric": 1, "max_vocab": 20, "seed": 0}


def cell_objective(dataset: Any, space: Any, *, settings: StudySettings, **kw: Any) -> Any:
    """A queue-only objective: the value of a cell is looked up in the kind options."""
    values = settings.kind_options["values"]

    def objective(trial: optuna.Trial) -> float:
        cell = trial.suggest_int("cell", 0, len(values) - 1)
        trial.set_user_attr("epochs", 1.0)
        return float(values[cell])

    return objective


def counting_objective(dataset: Any, space: Any, **kw: Any) -> Any:
    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        trial.set_user_attr("epochs", 0.75)
        return x

    return objective


def test_old_settings_load_as_search_and_keep_their_name() -> None:
    s = StudySettings("synthetic", "autofis", "tpe", 20, dataset_options={"n_rows": 100})
    old = {k: v for k, v in s.to_dict().items() if k not in ("kind", "kind_options",
                                                             "budget_total", "schema", "recipe",
                                                             "pretrained")}
    loaded = StudySettings.from_dict(old)
    assert loaded.kind == "search" and not loaded.queue_only
    # The identity (and so the default name) of a study stored before `kind` existed.
    ident = {k: v for k, v in old.items()
             if k not in ("tracking_uri", "experiment", "version", "schema_fingerprint")}
    digest = hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:8]
    assert default_study_name(loaded) == f"synthetic-autofis-tpe-s0-{digest}"
    other = StudySettings("synthetic", "autofis", "tpe", 20, kind="retrain",
                          kind_options={"cells": 3})
    assert default_study_name(other).startswith("retrain-")
    assert other.identity()["kind_options"] == {"cells": 3}


def test_failure_kinds_have_one_writer_and_old_texts_are_classified() -> None:
    study = optuna.create_study()
    trial = study.ask()
    failures.record_failure(trial, "memory", "out of memory: MemoryError: 12 GiB")
    failures.record_failure(trial, "error", "ValueError: later", keep_text=True)
    frozen = study.trials[0]
    assert frozen.user_attrs == {"failure": "out of memory: MemoryError: 12 GiB",
                                 "failure_kind": "memory"}
    assert failures.failure_kind({"failure": "surplus: the study already has its trials"}) == (
        "surplus")
    assert failures.failure_kind({"failure": "interrupted (SIGINT)"}) == "interrupted"
    assert failures.failure_kind({"failure": "KeyError: 'x'"}) == "error"
    assert failures.failure_kind({}) is None
    with pytest.raises(ValueError, match="unknown failure kind"):
        failures.record_failure(trial, "oops", "x")  # type: ignore[arg-type]


def test_queue_only_study_runs_its_cells_once_and_stops(tmp_path: Path) -> None:
    storage = f"journal:{tmp_path / 'j.log'}"
    kw: dict[str, Any] = dict(
        storage=storage, study_name="cells", dataset="synthetic", dataset_options=TINY,
        space="hpo", strategy="random", n_trials=3, objective="test_study:cell_objective",
        kind="retrain", kind_options={"values": [0.1, 0.7, 0.4]}, tracking_uri=None,
    )
    study, settings = create_study(**kw)
    assert settings.queue_only and settings.schema["fields"]
    assert enqueue_missing(study, [{"cell": i} for i in range(3)]) == [0, 1, 2]
    result = run_worker(study_name="cells", storage=storage)
    assert result.ran == 3 and result.counts.complete == 3
    assert sorted(t.value for t in study.get_trials()) == [0.1, 0.4, 0.7]
    # A rerun enqueues nothing; a new cell is run alone; nothing runs without a queue.
    assert enqueue_missing(study, [{"cell": i} for i in range(3)]) == []
    assert run_worker(study_name="cells", storage=storage).ran == 0
    with pytest.raises(StudyMismatchError, match="kind_options"):
        create_study(**{**kw, "kind_options": {"values": [0.0]}})


def test_budget_total_stops_a_search_on_epoch_equivalents(tmp_path: Path) -> None:
    storage = f"journal:{tmp_path / 'j.log'}"
    create_study(storage=storage, study_name="b", dataset="synthetic", dataset_options=TINY,
                 space="hpo", strategy="random", n_trials=100, budget_total=3.0,
                 objective="test_study:counting_objective", tracking_uri=None)
    result = run_worker(study_name="b", storage=storage)
    # 0.75 epochs a trial: the fourth trial reaches 3.0.
    study, _ = load_study(study_name="b", storage=storage)
    assert result.counts == study_counts(study)
    assert result.counts.complete == 4 and result.ran == 4
    assert all(t.state == TrialState.COMPLETE for t in study.trials)


def test_a_trial_started_while_another_runs_on_the_last_budget_does_not_run(
    tmp_path: Path,
) -> None:
    from recsearch.study.worker import TrialRunner

    storage = f"journal:{tmp_path / 'j.log'}"
    study, settings = create_study(
        storage=storage, study_name="r", dataset="synthetic", dataset_options=TINY, space="hpo",
        strategy="random", n_trials=100, budget_total=2.0, tracking_uri=None,
    )  # fmt: skip
    done = study.ask()
    done.set_user_attr("epochs", 1.0)
    study.tell(done, 0.7)
    study.ask()  # another worker's trial: running, its epoch not spent yet
    ran: list[int] = []
    runner = TrialRunner(lambda t: ran.append(t.number) or 0.5, 100, settings)
    study.optimize(runner, n_trials=1, catch=(Exception,))
    last = study.trials[-1]
    assert ran == [] and last.state == TrialState.FAIL
    assert failures.failure_kind(last) == "budget" and "1 trials running" in last.user_attrs[
        "failure"]
