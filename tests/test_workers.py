"""Many `recsearch worker` processes on one PostgreSQL study; one is SIGKILLed mid-trial."""

from __future__ import annotations

import subprocess
import time
from datetime import datetime
from pathlib import Path

import optuna
import pytest
from _scale_support import fresh_database
from _scale_support import mlflow_store
from _scale_support import mlflow_template  # noqa: F401 - fixture
from _scale_support import postgres_url  # noqa: F401 - fixture
from _scale_support import recsearch_cmd
from _scale_support import standin_cli_args
from _scale_support import subprocess_env
from optuna.trial import TrialState

from recsearch import runner

N_TRIALS = 30


def _wait_for(predicate, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_three_postgres_workers_survive_a_sigkill(
    postgres_url: str, mlflow_template: Path, tmp_path: Path  # noqa: F811
) -> None:
    url = fresh_database(postgres_url, "kill_test")
    tracking = mlflow_store(mlflow_template, tmp_path)
    created = subprocess.run(
        recsearch_cmd("create", *standin_cli_args(), "--trials", str(N_TRIALS), "--storage", url,
                      "--study", "kill", "--tracking-uri", tracking),
        env=subprocess_env(), capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    env = subprocess_env(RECSEARCH_TEST_TRIAL_S="0.8")
    workers = [
        subprocess.Popen(
            recsearch_cmd("worker", "--study", "kill", "--storage", url, "--heartbeat", "1",
                          "--grace", "20", "--worker-index", str(i), "--threads", "1"),
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
        )  # fmt: skip
        for i in range(3)
    ]
    storage = runner.open_storage(url, must_exist=True)
    study = optuna.load_study(study_name="kill", storage=storage)
    victim = workers[0]
    killed_number: list[int] = []

    def victim_mid_trial() -> bool:
        trials = study.get_trials(deepcopy=False)
        if sum(t.state == TrialState.COMPLETE for t in trials) < 4:
            return False
        for t in trials:
            owner = t.system_attrs.get(runner.SYSTEM_ATTR_WORKER) or {}
            if t.state != TrialState.RUNNING or owner.get("pid") != victim.pid:
                continue
            # Only a trial that sampled its configuration (so its retry must reuse it) and
            # started just now: the kill must land well inside its 0.8 s of training.
            age = (datetime.now() - t.datetime_start).total_seconds() if t.datetime_start else 9
            if t.params and age < 0.5:
                killed_number.append(t.number)
                return True
        return False

    try:
        _wait_for(victim_mid_trial, 150, "the first worker in the middle of a trial")
        victim.kill()
        victim.wait()
        complete_before = {
            t.number: t.params for t in study.get_trials(states=(TrialState.COMPLETE,))
        }
        outputs = [w.communicate(timeout=240) for w in workers[1:]]
    finally:
        for w in workers:
            if w.poll() is None:
                w.kill()
                w.wait()
    for w, (out, err) in zip(workers[1:], outputs, strict=True):
        assert w.returncode == 0, err[-2000:]

    trials = optuna.load_study(study_name="kill", storage=storage).get_trials()
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert len(complete) == N_TRIALS, [(t.number, t.state, t.user_attrs) for t in trials]
    assert not [t for t in trials if t.state in (TrialState.RUNNING, TrialState.WAITING)]
    # No completed trial lost.
    after = {t.number: t.params for t in complete}
    assert all(after.get(n) == p for n, p in complete_before.items())
    # The killed trial failed as a dead worker's trial and was retried once, with its params.
    (dead,) = [t for t in trials if t.number == killed_number[0]]
    assert dead.state == TrialState.FAIL, (dead.state, dead.user_attrs)
    assert dead.user_attrs["failure"].startswith(runner.FAILURE_WORKER_DIED), dead.user_attrs
    retries = [t for t in trials if t.system_attrs.get("failed_trial") == dead.number]
    assert len(retries) == 1, [(t.number, t.state, t.system_attrs) for t in trials if t.state
                               != TrialState.COMPLETE]  # fmt: skip
    assert retries[0].state == TrialState.COMPLETE and retries[0].params == dead.params
    assert "failure" not in retries[0].user_attrs
    # No two workers trained the same configuration.
    keys = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(keys)) == len(keys)

    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking)
    exp = client.get_experiment_by_name("recsearch")
    runs = client.search_runs([exp.experiment_id], max_results=500)
    children = [r for r in runs if "mlflow.parentRunId" in r.data.tags]
    assert children
    assert all(r.info.status in ("FINISHED", "FAILED", "KILLED") for r in children), [
        (r.info.run_name, r.info.status) for r in children if r.info.status == "RUNNING"
    ]
    assert len({r.data.tags["mlflow.parentRunId"] for r in children}) == 1
    statuses = sorted((r.data.tags.get("optuna.trial_number"), r.info.status) for r in children)
    assert sum(r.info.status == "FINISHED" for r in children) == N_TRIALS, statuses
    assert sum(r.info.status == "KILLED" for r in children) == 1, statuses


def test_local_run_with_three_processes_hits_the_target_exactly(tmp_path: Path) -> None:
    journal = tmp_path / "j.log"
    proc = subprocess.run(
        recsearch_cmd("run", *standin_cli_args(), "--trials", "12", "--workers", "3",
                      "--storage", f"journal:{journal}", "--study", "local",
                      "--tracking-uri", "none", "--no-progress"),
        env=subprocess_env(RECSEARCH_TEST_TRIAL_S="0.3"), capture_output=True, text=True,
        cwd=tmp_path, timeout=240,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    study, _ = runner.load_study(study_name="local", storage=f"journal:{journal}")
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(complete) == 12
    pids = {t.system_attrs[runner.SYSTEM_ATTR_WORKER]["pid"] for t in complete}
    assert len(pids) >= 2, "the trials did not spread over several worker processes"
    keys = [tuple(sorted(t.params.items())) for t in complete]
    assert len(set(keys)) == len(keys)
    assert "12 complete" in proc.stdout


@pytest.mark.parametrize("storage", ["postgres-down", "unknown-study"])
def test_worker_bad_storage_is_one_line(
    storage: str, postgres_url: str, tmp_path: Path  # noqa: F811
) -> None:
    if storage == "postgres-down":
        url = "postgresql+psycopg://u:pw@127.0.0.1:1/none"
    else:
        url = fresh_database(postgres_url, "empty_test")
    proc = subprocess.run(
        recsearch_cmd("worker", "--study", "nope", "--storage", url),
        env=subprocess_env(), capture_output=True, text=True, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr and ":pw@" not in proc.stderr
    if storage == "unknown-study":
        # Nothing written: the empty database still has no Optuna tables.
        import sqlalchemy as sa

        engine = sa.create_engine(url)
        assert sa.inspect(engine).get_table_names() == []
        engine.dispose()
