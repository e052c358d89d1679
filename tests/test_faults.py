"""Issue 14 #2, #3, #4, #6 and #8: studies that stop, refuse and report as a user expects."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from _scale_support import mlflow_template  # noqa: F401 - fixture
from _scale_support import standin_cli_args
from recsearch import cli
from recsearch import runner
from recsearch.errors import InvalidParameterError


@pytest.fixture(autouse=True)
def _in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECSEARCH_TEST_TRIAL_S", "0.0")
    monkeypatch.syspath_prepend(str(Path(__file__).parent))
    for var in ("RECSEARCH_TEST_FAIL_EVERY", "RECSEARCH_TEST_BUG_EVERY", "RECSEARCH_STORAGE"):
        monkeypatch.delenv(var, raising=False)


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


# --- #2a: an infinite budget is refused up front ---------------------------------------------


@pytest.mark.parametrize("value", ["inf", "Infinity", "-inf", "nan", "0"])
def test_cli_refuses_a_budget_that_is_not_a_finite_positive_number(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["run", *standin_cli_args(), "--trials", "2", f"--budget-epochs={value}",
                  "--tracking-uri", "none"])  # fmt: skip
    assert info.value.code == cli.EXIT_USAGE
    assert "expected a finite positive number" in capsys.readouterr().err
    assert not Path("recsearch-journal.log").exists()  # nothing written


@pytest.mark.parametrize("value", [math.inf, math.nan, 0.0])
def test_python_budget_and_settings_refuse_an_infinite_budget(value: float) -> None:
    from recsearch.objectives.trainer import Budget

    with pytest.raises(InvalidParameterError, match="finite number > 0"):
        Budget(epochs=value)
    with pytest.raises(InvalidParameterError, match="finite (number|integer) > 0"):
        Budget(rows=value)  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterError, match="finite number > 0"):
        runner.create_study(dataset="synthetic", space="hpo", strategy="random", n_trials=1,
                            budget_epochs=value, storage="journal:j.log")  # fmt: skip


# --- #8: best --json on a study without a complete trial -------------------------------------


def test_best_json_without_a_complete_trial_is_a_json_object(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _main(capsys, "create", *standin_cli_args(), "--trials", "2", "--storage",
                         "journal:j.log", "--study", "s", "--tracking-uri", "none")  # fmt: skip
    assert code == 0, err
    code, out, err = _main(capsys, "best", "--study", "s", "--storage", "journal:j.log", "--json")
    assert code == 0, err
    answer = json.loads(out)
    assert answer["best"] is None and answer["study"] == "s"
    assert "no trial is complete" in answer["message"]
    assert answer["trials"]["complete"] == 0


# --- #2b: a study whose every trial fails stops by itself ------------------------------------


def test_an_always_failing_study_stops_with_the_last_reason_and_a_rerun_counts_afresh(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSEARCH_TEST_BUG_EVERY", "1")
    args = ["run", *standin_cli_args(), "--trials", "2", "--storage", "journal:j.log",
            "--study", "s", "--tracking-uri", "none", "--no-progress"]  # fmt: skip
    code, _, err = _main(capsys, *args)
    assert code == cli.EXIT_ERROR
    assert "stopped after 10 consecutive failed trials" in err
    assert "division by zero in user code" in err
    study, _ = runner.load_study(study_name="s", storage="journal:j.log")
    assert len(study.trials) == 10  # max(10, trials)
    code, _, err = _main(capsys, *args, "--max-failures", "3")
    assert code == cli.EXIT_ERROR and "stopped after 3 consecutive" in err
    assert len(runner.load_study(study_name="s", storage="journal:j.log")[0].trials) == 13
    monkeypatch.delenv("RECSEARCH_TEST_BUG_EVERY")  # the cause is fixed
    code, out, err = _main(capsys, *args, "--max-failures", "3")
    assert code == 0, err
    assert "2 complete" in out


def test_only_errors_nonfinite_and_memory_count_and_a_success_resets() -> None:
    import optuna

    from recsearch.study.failures import record_failure
    from recsearch.study.limits import FailureLimitError
    from recsearch.study.limits import check_failure_limit
    from recsearch.study.limits import failure_streak

    study = optuna.create_study()

    def trial(kind: str | None) -> None:
        t = study.ask()
        if kind is None:
            study.tell(t, 0.5)
            return
        record_failure(t, kind, f"{kind}: text {t.number}")  # type: ignore[arg-type]
        study.tell(t, state=optuna.trial.TrialState.FAIL)

    for kind in ("error", None, "nonfinite", "forbidden", "surplus", "memory", "interrupted",
                 "worker_died", "error"):  # fmt: skip
        trial(kind)
    streak = failure_streak(study)
    assert streak.count == 3 and streak.last is not None and streak.last.number == 8
    check_failure_limit(study, 4)
    with pytest.raises(FailureLimitError, match=r"after 3 consecutive .* #8, failed with: error"):
        check_failure_limit(study, 3)
    check_failure_limit(study, 0)  # off


# --- #8: workers capped at the trials left, warned above the core count ----------------------


def test_workers_are_capped_at_the_trials_left(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = _main(capsys, "run", *standin_cli_args(), "--trials", "1", "--workers",
                           "64", "--tracking-uri", "none", "--no-progress")  # fmt: skip
    assert code == 0, err
    assert "64 workers asked for, 1 trials left: starting 1" in err
    assert "1 complete" in out


def test_more_workers_than_cores_are_warned_about(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from recsearch.study import launcher

    study, settings = runner.create_study(**_standin_kwargs(), n_trials=10,
                                          storage="journal:j.log")  # fmt: skip
    monkeypatch.setattr(launcher, "cores", lambda: 2)
    assert launcher.cap_workers(3, study, settings) == 3
    assert "3 workers on 2 cores" in capsys.readouterr().err


def _standin_kwargs() -> dict[str, str]:
    from _scale_support import STANDIN

    return dict(STANDIN)


# --- #3: a worker never runs code that only the storage names --------------------------------


def test_hostile_settings_run_nothing(tmp_path: Path) -> None:
    import subprocess

    from _scale_support import recsearch_cmd
    from _scale_support import subprocess_env
    from recsearch.study.settings import STUDY_ATTR

    study, _ = runner.create_study(**_standin_kwargs(), n_trials=2, storage="journal:j.log",
                                   study_name="s", tracking_uri=None)  # fmt: skip
    hostile = {**study.user_attrs[STUDY_ATTR], "dataset": "os:system",
               "dataset_options": {"command": f"id > {tmp_path / 'PWNED'}"}}  # fmt: skip
    study.set_user_attr(STUDY_ATTR, hostile)  # what anyone who can write the database can do
    env = subprocess_env()
    env.pop("RECSEARCH_ALLOW_CALLABLES")
    worker = subprocess.run(recsearch_cmd("worker", "--study", "s", "--storage", "journal:j.log"),
                            env=env, capture_output=True, text=True, timeout=300)  # fmt: skip
    assert worker.returncode == cli.EXIT_ERROR
    assert not (tmp_path / "PWNED").exists()
    assert "dataset 'os:system' is named only by the study's stored settings" in worker.stderr
    assert "--allow-callable os:system or RECSEARCH_ALLOW_CALLABLES=os:system" in worker.stderr
    assert len(worker.stderr.strip().splitlines()) == 1


def test_callables_are_allowed_by_the_own_command_line_or_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from recsearch.study import callables

    monkeypatch.setattr(callables, "_GIVEN", set())
    monkeypatch.delenv(callables.ALLOW_ENV, raising=False)
    with pytest.raises(callables.CallableNotAllowedError):
        callables.check_allowed("my_pkg.data:load", "dataset")
    monkeypatch.setenv(callables.ALLOW_ENV, "other:x, my_pkg.data:*")
    callables.check_allowed("my_pkg.data:load", "dataset")
    assert not callables.allowed("my_pkg:load")
    monkeypatch.delenv(callables.ALLOW_ENV)
    callables.allow("my_pkg:load", "synthetic", None)  # e.g. --allow-callable my_pkg:load
    assert callables.allowed("my_pkg:load") and callables.allow_env() == {
        callables.ALLOW_ENV: "my_pkg:load"
    }


# --- #4: Ctrl-C after training never throws away the finished trial --------------------------


def test_sigint_while_a_finished_trial_is_stored_keeps_it_complete() -> None:
    import os
    import signal

    import optuna

    from recsearch.storage import open_storage

    runner.create_study(**_standin_kwargs(), n_trials=3, storage="journal:j.log",
                        study_name="s", tracking_uri=None)  # fmt: skip
    store = open_storage("journal:j.log", must_exist=True)
    real = store.set_trial_state_values

    def ctrl_c_while_told(trial_id, state, values=None):  # type: ignore[no-untyped-def]
        if state == optuna.trial.TrialState.COMPLETE:
            os.kill(os.getpid(), signal.SIGINT)  # arrives now, inside Optuna's tell
        return real(trial_id, state, values)

    store.set_trial_state_values = ctrl_c_while_told  # type: ignore[method-assign]
    result = runner.run_worker(study_name="s", storage=store)
    assert result.interrupted == signal.SIGINT
    study, _ = runner.load_study(study_name="s", storage="journal:j.log")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE]
    attrs = study.trials[0].user_attrs
    assert "valid_auc" in attrs and "failure" not in attrs


def test_a_signal_whose_interrupt_a_finalizer_swallowed_still_stops_the_worker() -> None:
    import os
    import signal

    import optuna

    from recsearch.study import worker

    runner.create_study(**_standin_kwargs(), n_trials=3, storage="journal:j.log",
                        study_name="s", tracking_uri=None)  # fmt: skip

    class CtrlCInFinalizer:
        def __del__(self) -> None:
            os.kill(os.getpid(), signal.SIGINT)
            for _ in range(10_000):  # the handler runs here: Python prints and drops its raise
                pass

    real = worker.TrialRunner._refuse

    def refuse_then_free(self, trial):  # type: ignore[no-untyped-def]
        real(self, trial)
        CtrlCInFinalizer()  # freed at once, as the trial starts: Interrupted raised in __del__

    worker.TrialRunner._refuse = refuse_then_free  # type: ignore[method-assign]
    try:
        result = runner.run_worker(study_name="s", storage="journal:j.log")
    finally:
        worker.TrialRunner._refuse = real  # type: ignore[method-assign]
    assert result.interrupted == signal.SIGINT
    study, _ = runner.load_study(study_name="s", storage="journal:j.log")
    assert [t.state for t in study.trials] == [optuna.trial.TrialState.COMPLETE]


def test_a_wrapper_objective_that_raises_leaves_its_reason_in_mlflow(
    tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    import optuna
    from mlflow.tracking import MlflowClient

    from _scale_support import mlflow_store
    from recsearch.study.failures import recording_failures
    from recsearch.trackers import MLflowTracker

    tracking = mlflow_store(mlflow_template, tmp_path)
    tracker = MLflowTracker(tracking, experiment="wrapped")

    def objective(trial: optuna.Trial) -> float:  # the README flow, around a user's own code
        trial.suggest_float("x", 0, 1)
        raise KeyError("feature 'age' missing in this shard")

    study = optuna.create_study()
    tracker.start_study(study)
    study.optimize(recording_failures(objective), n_trials=1, callbacks=[tracker],
                   catch=(Exception,))  # fmt: skip
    tracker.end_study(study)
    assert "feature 'age' missing" in study.trials[0].user_attrs["failure"]
    client = MlflowClient(tracking_uri=tracking)
    experiment = client.get_experiment_by_name("wrapped")
    tags = [r.data.tags.get("failure") for r in client.search_runs([experiment.experiment_id])]
    assert any(t and "feature 'age' missing" in t for t in tags), tags


# --- #6: an unreachable tracking server is named at once; an outage never stops training ----


def test_an_unreachable_tracking_server_is_one_line_at_once(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, _, err = _main(capsys, "run", *standin_cli_args(), "--trials", "1",
                         "--tracking-uri", "postgresql+psycopg://u:pw@127.0.0.1:1/mlflow",
                         "--no-progress")  # fmt: skip
    assert code == cli.EXIT_ERROR
    assert err.strip() == (
        "recsearch run: error: tracking URI 'postgresql+psycopg://u:***@127.0.0.1:1/mlflow': "
        "cannot connect to 127.0.0.1:1 (Connection refused, after at most 5 s); start the MLflow "
        "server, or run with --tracking-uri none"
    )
    assert not Path("recsearch-journal.log").exists()


def test_a_tracking_outage_mid_study_keeps_training_and_names_the_untracked_trials(
    tmp_path: Path,
    mlflow_template: Path,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from mlflow.tracking import MlflowClient

    from _scale_support import mlflow_store

    tracking = mlflow_store(mlflow_template, tmp_path)
    calls = {"n": 0}
    real = MlflowClient.log_batch

    def log_batch(self, run_id, *args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 2:  # the server goes away after the first trial
            raise ConnectionError("Connection refused")
        return real(self, run_id, *args, **kwargs)

    monkeypatch.setattr(MlflowClient, "log_batch", log_batch)
    code, out, err = _main(capsys, "run", *standin_cli_args(), "--trials", "4",
                           "--storage", "journal:j.log", "--study", "s",
                           "--tracking-uri", tracking, "--no-progress")  # fmt: skip
    assert code == 0, err
    assert "4 complete" in out
    line = next(x for x in out.splitlines() if x.startswith("not tracked in MLflow"))
    assert "#3" in line and "their results are in the study" in line
