"""The study runner: settings, storages, resume, failing trials, bad input (in-process, fast)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
from _scale_support import STANDIN
from _scale_support import mlflow_store
from _scale_support import mlflow_template  # noqa: F401 - fixture
from _scale_support import recsearch_cmd
from _scale_support import standin_cli_args
from _scale_support import subprocess_env
from optuna.trial import TrialState

from recsearch import runner
from recsearch.errors import InvalidParameterError
from recsearch.errors import StorageError


@pytest.fixture(autouse=True)
def _cheap(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RECSEARCH_TEST_TRIAL_S", "0.0")
    for var in ("RECSEARCH_TEST_FAIL_EVERY", "RECSEARCH_TEST_OOM_EVERY",
                "RECSEARCH_TEST_BUG_EVERY", "RECSEARCH_TEST_FIELDS"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)


def _run(storage: str, n_trials: int, **kw: object) -> runner.RunResult:
    return runner.run(storage=storage, n_trials=n_trials, tracking_uri=None, **STANDIN, **kw)


# ------------------------------------------------------------------------- settings and storage


def test_create_records_everything_a_worker_needs(tmp_path: Path) -> None:
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study, settings = runner.create_study(
        storage=storage, n_trials=7, budget_epochs=2.5, seed=3, tracking_uri=None,
        dataset_options={"n_rows": 200}, strategy_options={"foo": 1}, **STANDIN,
    )  # fmt: skip
    loaded, recorded = runner.load_study(study_name=study.study_name, storage=storage)
    assert recorded == settings
    attrs = loaded.user_attrs[runner.STUDY_ATTR]
    assert attrs["n_trials"] == 7 and attrs["budget_epochs"] == 2.5 and attrs["seed"] == 3
    assert attrs["dataset_options"] == {"n_rows": 200}
    assert attrs["strategy_options"] == {"foo": 1}
    assert len(attrs["schema_fingerprint"]) == 16
    assert loaded.direction == optuna.study.StudyDirection.MAXIMIZE
    # Creating again with the same settings returns the same study; other settings are refused.
    again, _ = runner.create_study(
        storage=storage, n_trials=7, budget_epochs=2.5, seed=3, tracking_uri=None,
        dataset_options={"n_rows": 200}, strategy_options={"foo": 1}, **STANDIN,
    )  # fmt: skip
    assert again.study_name == study.study_name
    with pytest.raises(runner.StudyMismatchError, match="seed"):
        runner.create_study(
            study_name=study.study_name, storage=storage, n_trials=7, budget_epochs=2.5, seed=4,
            tracking_uri=None, dataset_options={"n_rows": 200},
            strategy_options={"foo": 1}, **STANDIN,
        )  # fmt: skip


def test_schema_fingerprint_changes_with_the_schema() -> None:
    from _scale_support import tiny_dataset

    a = runner.schema_fingerprint(tiny_dataset(n_categorical=3).schema)
    b = runner.schema_fingerprint(tiny_dataset(n_categorical=3, seed=5).schema)
    c = runner.schema_fingerprint(tiny_dataset(n_categorical=4).schema)
    assert a != c
    assert isinstance(b, str) and len(b) == 16


@pytest.mark.parametrize(
    ("url", "match"),
    [
        ("postgress://u:secret@127.0.0.1:5432/db", "unknown scheme 'postgress'"),
        # the driver's own reason, not Optuna's generic wrapper about invalid commit data
        ("postgresql+psycopg://u:secret@127.0.0.1:1/db", "cannot open storage .*refused"),
        ("sqlite:////nonexistent-dir/x/s.db", "cannot open storage"),
        ("journal:/nonexistent-dir/x/s.log", "does not exist"),
    ],
)
def test_bad_storage_urls_fail_in_one_line_without_password(url: str, match: str) -> None:
    with pytest.raises(StorageError, match=match) as info:
        runner.open_storage(url)
    message = str(info.value)
    assert "\n" not in message
    assert "secret" not in message


def test_worker_refuses_missing_storage_or_study_and_writes_nothing(tmp_path: Path) -> None:
    db = tmp_path / "none.db"
    with pytest.raises(StorageError, match="does not exist"):
        runner.run_worker(study_name="x", storage=f"sqlite:///{db}")
    assert not db.exists()
    journal = tmp_path / "j.log"
    with pytest.raises(StorageError, match="does not exist"):
        runner.run_worker(study_name="x", storage=f"journal:{journal}")
    assert not journal.exists()
    runner.create_study(storage=f"journal:{journal}", study_name="real", n_trials=2,
                        tracking_uri=None, **STANDIN)  # fmt: skip
    size = journal.stat().st_size
    with pytest.raises(StorageError, match="no study named 'typo'.*real"):
        runner.run_worker(study_name="typo", storage=f"journal:{journal}")
    assert journal.stat().st_size == size


def test_changed_schema_is_refused_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = f"journal:{tmp_path / 'j.log'}"
    study, _ = runner.create_study(storage=journal, study_name="s", n_trials=2,
                                   tracking_uri=None, **STANDIN)  # fmt: skip
    size = (tmp_path / "j.log").stat().st_size
    monkeypatch.setenv("RECSEARCH_TEST_FIELDS", "6")
    with pytest.raises(runner.StudyMismatchError, match="schema"):
        runner.run_worker(study_name="s", storage=journal)
    with pytest.raises(runner.StudyMismatchError, match="schema"):
        runner.create_study(storage=journal, study_name="s", n_trials=2, tracking_uri=None,
                            **STANDIN)  # fmt: skip
    assert (tmp_path / "j.log").stat().st_size == size


def test_unknown_components_fail_before_the_storage_is_touched(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    bad = {**STANDIN, "objective": "_scale_support:NoSuchObjective"}
    with pytest.raises(InvalidParameterError, match="NoSuchObjective"):
        runner.create_study(storage=f"sqlite:///{db}", n_trials=2, tracking_uri=None, **bad)
    assert not db.exists()


# ------------------------------------------------------------------------- running


@pytest.mark.parametrize("storage_kind", ["journal", "sqlite"])
def test_run_reaches_the_target_and_resume_adds_only_missing_trials(
    tmp_path: Path, storage_kind: str
) -> None:
    storage = (
        f"journal:{tmp_path / 'j.log'}" if storage_kind == "journal"
        else f"sqlite:///{tmp_path / 's.db'}"
    )  # fmt: skip
    first = _run(storage, 4)
    assert first.counts.complete == 4 and first.interrupted is None
    again = _run(storage, 4)
    assert again.study.study_name == first.study.study_name
    assert len(again.study.trials) == 4  # nothing to do: no new trial


def test_failing_trials_are_recorded_and_summarised_and_the_study_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSEARCH_TEST_FAIL_EVERY", "3")
    monkeypatch.setenv("RECSEARCH_TEST_OOM_EVERY", "5")
    monkeypatch.setenv("RECSEARCH_TEST_BUG_EVERY", "7")
    result = _run(f"journal:{tmp_path / 'j.log'}", 6)
    study = result.study
    assert result.counts.complete == 6
    failed = study.get_trials(states=(TrialState.FAIL,))
    assert failed, "fault injection produced no failed trial"
    reasons = {t.number + 1: t.user_attrs["failure"] for t in failed}
    for n, reason in reasons.items():
        if n % 3 == 0:
            assert reason.startswith("non-finite loss")
        elif n % 5 == 0:
            assert reason.startswith("out of memory: MemoryError")
        elif n % 7 == 0:
            assert reason.startswith("ZeroDivisionError: division by zero in user code")
    summary = dict(result.failures)
    assert sum(summary.values()) == len(failed)
    nan_count = sum(1 for n in reasons if n % 3 == 0)
    assert summary["non-finite loss: training loss became nan"] == nan_count


def test_surplus_trial_fails_without_running_the_objective(tmp_path: Path) -> None:
    storage = f"journal:{tmp_path / 'j.log'}"
    first = _run(storage, 2)
    study, settings = runner.load_study(study_name=first.study.study_name, storage=storage)
    calls: list[int] = []
    trial_runner = runner._TrialRunner(lambda t: calls.append(t.number) or 1.0, settings.n_trials)
    study.optimize(trial_runner, n_trials=1, catch=(Exception,))
    assert calls == []
    last = study.trials[-1]
    assert last.state == TrialState.FAIL
    assert last.user_attrs["failure"].startswith(runner.FAILURE_SURPLUS)
    assert runner.failure_summary(study) == []
    assert runner.study_counts(study).complete == 2


def test_dead_local_worker_trial_is_failed_and_retried_once(tmp_path: Path) -> None:
    storage = runner.open_storage(f"journal:{tmp_path / 'j.log'}", heartbeat_interval=1)
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask({"x": optuna.distributions.FloatDistribution(0, 1)})
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    storage.set_trial_system_attr(
        trial._trial_id, runner.SYSTEM_ATTR_WORKER, {"host": runner._HOST, "pid": dead.pid}
    )
    assert runner.fail_stale_trials(study) == [trial.number]
    frozen = study.trials[trial.number]
    assert frozen.state == TrialState.FAIL
    assert frozen.user_attrs["failure"].startswith(runner.FAILURE_WORKER_DIED)
    retry = [t for t in study.trials if t.system_attrs.get("failed_trial") == trial.number]
    assert len(retry) == 1 and retry[0].state == TrialState.WAITING
    assert "failure" not in retry[0].user_attrs
    assert runner.SYSTEM_ATTR_WORKER not in retry[0].system_attrs
    assert retry[0].params == frozen.params
    assert runner.fail_stale_trials(study) == []  # already handled: no second retry


def test_journal_heartbeat_marks_silent_trials_stale(tmp_path: Path) -> None:
    storage = runner.open_storage(
        f"journal:{tmp_path / 'j.log'}", heartbeat_interval=1, grace_period=1
    )
    study = optuna.create_study(storage=storage, study_name="s")
    trial = study.ask()
    storage.record_heartbeat(trial._trial_id)
    assert storage._get_stale_trial_ids(study._study_id) == []
    time.sleep(1.3)
    assert storage._get_stale_trial_ids(study._study_id) == [trial._trial_id]


# ------------------------------------------------------------------------- signals


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_sigint_marks_the_trial_interrupted_and_rerun_completes_exactly(
    tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    tracking = mlflow_store(mlflow_template, tmp_path)
    journal = tmp_path / "j.log"
    cmd = recsearch_cmd(
        "run", *standin_cli_args(), "--trials", "5", "--storage", f"journal:{journal}",
        "--study", "sig", "--tracking-uri", tracking, "--no-progress",
    )  # fmt: skip
    env = subprocess_env(RECSEARCH_TEST_TRIAL_S="1.5")
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=tmp_path)  # fmt: skip

    def running() -> bool:
        if not journal.exists():
            return False
        try:
            study = optuna.load_study(study_name="sig", storage=runner.open_storage(
                f"journal:{journal}", must_exist=True))  # fmt: skip
        except KeyError:
            return False
        counts = runner.study_counts(study)
        return counts.complete >= 1 and counts.running == 1

    try:
        _wait_for(running, 120, "a running trial after one complete trial")
        time.sleep(0.4)  # well inside the 1.5 s trial
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    study, _ = runner.load_study(study_name="sig", storage=f"journal:{journal}")
    interrupted = study.get_trials(states=(TrialState.FAIL,))
    assert len(interrupted) == 1
    assert interrupted[0].user_attrs["failure"].startswith(runner.FAILURE_INTERRUPTED)
    assert not study.get_trials(states=(TrialState.RUNNING,))
    done_before = {t.number for t in study.get_trials(states=(TrialState.COMPLETE,))}

    env = subprocess_env(RECSEARCH_TEST_TRIAL_S="0.0")
    rerun = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=tmp_path,
                           timeout=180)  # fmt: skip
    assert rerun.returncode == 0, rerun.stderr
    study, _ = runner.load_study(study_name="sig", storage=f"journal:{journal}")
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 5
    assert done_before <= {t.number for t in complete}
    assert len(study.trials) == 6  # the interrupted trial plus exactly the missing ones

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    exp = client.get_experiment_by_name("recsearch")
    runs = client.search_runs([exp.experiment_id], max_results=100)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert {r.info.status for r in children} <= {"FINISHED", "FAILED", "KILLED"}
    killed = [r for r in children if r.info.status == "KILLED"]
    assert len(killed) == 1
    assert len([r for r in children if r.info.status == "FINISHED"]) == 5


def test_sigterm_stops_a_worker_cleanly(tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    runner.create_study(storage=f"journal:{journal}", study_name="term", n_trials=50,
                        tracking_uri=None, **STANDIN)  # fmt: skip
    proc = subprocess.Popen(
        recsearch_cmd("worker", "--study", "term", "--storage", f"journal:{journal}"),
        env=subprocess_env(RECSEARCH_TEST_TRIAL_S="2.0"), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )  # fmt: skip
    storage = runner.open_storage(f"journal:{journal}", must_exist=True)
    study = optuna.load_study(study_name="term", storage=storage)
    try:
        _wait_for(lambda: runner.study_counts(study).running == 1, 120, "a running trial")
        time.sleep(0.3)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    (trial,) = study.get_trials()
    assert trial.state == TrialState.FAIL
    assert trial.user_attrs["failure"] == f"{runner.FAILURE_INTERRUPTED} (SIGTERM)"


def test_real_objective_strategy_and_space_run_end_to_end(tmp_path: Path) -> None:
    """The default components: generated data, a preset, a registry strategy, CTRObjective."""
    result = runner.run(
        storage=f"journal:{tmp_path / 'j.log'}", dataset="synthetic",
        dataset_options={"n_rows": 600, "n_categorical": 4, "seed": 1}, space="autofis",
        strategy="random", n_trials=2, budget_epochs=0.25, tracking_uri=None,
    )  # fmt: skip
    assert result.counts.complete == 2, result.failures
    for t in result.study.get_trials(states=(TrialState.COMPLETE,)):
        assert 0.0 <= t.value <= 1.0
        assert t.user_attrs["epochs"] > 0
    settings = result.settings
    assert settings.space == "autofis" and settings.strategy == "random"


def test_a_live_trial_taken_for_dead_does_not_stop_the_worker(tmp_path: Path) -> None:
    result = runner.run(
        storage=f"journal:{tmp_path / 'j.log'}", n_trials=3, tracking_uri=None,
        **{**STANDIN, "objective": "_scale_support:StolenOnceObjective"},
    )  # fmt: skip
    assert result.counts.complete == 3
    assert result.study.trials[0].state == TrialState.FAIL


def test_a_new_study_runs_its_base_first_unless_told_not_to(tmp_path: Path) -> None:
    from recsearch.spaces.presets import BASE_ATTR

    first = _run(f"journal:{tmp_path / 'a.log'}", 3)
    trials = first.study.trials
    assert trials[0].user_attrs.get(BASE_ATTR) is True and len(trials) == 3  # counted
    assert all(BASE_ATTR not in t.user_attrs for t in trials[1:])
    off = _run(f"journal:{tmp_path / 'b.log'}", 2, base_first=False)
    assert all(BASE_ATTR not in t.user_attrs for t in off.study.trials)
