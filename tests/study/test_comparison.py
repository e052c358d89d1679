"""A comparison is a set of studies on one storage: SIGINT halfway, rerun, nothing retrained."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import optuna
from _scale_support import postgres_url  # noqa: F401 - fixture
from optuna.trial import TrialState

TESTS = Path(__file__).resolve().parents[1]

SCRIPT = textwrap.dedent(
    """
    import sys
    from _scale_support import SleepObjective, small_space
    from recsearch.compare import run_comparison
    from recsearch.study.worker import Interrupted

    class Logged(SleepObjective):
        def __call__(self, trial):
            with open(sys.argv[2], "a") as log:
                log.write(f"{trial.study.study_name} {trial.number}\\n")
            return super().__call__(trial)

    try:
        report = run_comparison(
            dataset="synthetic", dataset_options={"n_rows": 300, "n_categorical": 3},
            space=small_space(None), strategies=["random", "tpe"], seeds=2, budget=3.0,
            out_dir=sys.argv[1], objective=Logged, track=False, name="cmp",
        )
    except Interrupted as exc:
        sys.exit(128 + exc.signum)
    print(report.to_markdown())
    """
)


def _env() -> dict[str, str]:
    import os

    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    env.update(OMP_NUM_THREADS="1", RECSEARCH_TEST_TRIAL_S="0.4", PYTHONUNBUFFERED="1",
               RECSEARCH_ALLOW_CALLABLES="_scale_support:*")  # the joining worker (issue 14 #3)
    return env


def _completed(journal: Path) -> dict[tuple[str, int], dict[str, object]]:
    from recsearch.storage import open_storage

    storage = open_storage(f"journal:{journal}", must_exist=True)
    out = {}
    for summary in optuna.get_all_study_summaries(storage, include_best_trial=False):
        study = optuna.load_study(study_name=summary.study_name, storage=storage)
        for t in study.get_trials(states=(TrialState.COMPLETE,)):
            out[(summary.study_name, t.number)] = t.params
    return out


def test_interrupted_comparison_resumes_without_training_a_completed_trial_again(
    tmp_path: Path,
) -> None:
    out, log = tmp_path / "report", tmp_path / "calls.log"
    cmd = [sys.executable, "-c", SCRIPT, str(out), str(log)]
    proc = subprocess.Popen(cmd, env=_env(), cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    journal = out / "comparison.journal"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if log.exists() and len(log.read_text().splitlines()) >= 6:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    before = _completed(journal)
    assert 3 <= len(before) < 12
    assert not (out / "results.csv").exists()

    again = subprocess.run(cmd, env=_env(), cwd=tmp_path, capture_output=True, text=True,
                           timeout=180)  # fmt: skip
    assert again.returncode == 0, again.stderr[-2000:]
    after = _completed(journal)
    assert len(after) == 12  # 2 strategies x 2 seeds x 3 one-epoch trials
    assert all(after[k] == v for k, v in before.items())
    calls = log.read_text().splitlines()
    assert len(calls) <= 12 + 1  # at most the interrupted trial ran twice
    assert len(set(calls)) == len(calls)
    report = json.loads((out / "report.json").read_text())
    assert [row["runs"] for row in report["table"]] == [2, 2]
    assert [row["trials_mean"] for row in report["table"]] == [3.0, 3.0]


POSTGRES_SCRIPT = textwrap.dedent(
    """
    import sys
    from recsearch.compare import run_comparison

    report = run_comparison(
        dataset="synthetic", dataset_options={"n_rows": 300, "n_categorical": 3},
        space="_scale_support:small_space", strategies=["random", "tpe"], seeds=2, budget=4.0,
        out_dir=sys.argv[1], objective=__import__("_scale_support").SleepObjective,
        track=False, name="pg", storage=sys.argv[2],
    )
    print(report.to_markdown())
    """
)


def test_two_workers_serve_one_comparison_on_postgres(
    postgres_url: str, tmp_path: Path  # noqa: F811
) -> None:
    from _scale_support import fresh_database
    from _scale_support import recsearch_cmd

    from recsearch.storage import SYSTEM_ATTR_WORKER
    from recsearch.storage import open_storage

    url = fresh_database(postgres_url, "compare_test")
    env = _env()
    main = subprocess.Popen([sys.executable, "-c", POSTGRES_SCRIPT, str(tmp_path / "r"), url],
                            env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    storage = open_storage(url, must_exist=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(optuna.get_all_study_names(storage)) < 4:
        time.sleep(0.2)
    helper = subprocess.run(
        recsearch_cmd("worker", "--comparison", "pg", "--storage", url, "--threads", "1"),
        env=env, cwd=tmp_path, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    out, err = main.communicate(timeout=240)
    assert main.returncode == 0, err[-2000:]
    assert helper.returncode == 0, helper.stderr[-2000:]
    pids = set()
    for name in optuna.get_all_study_names(storage):
        study = optuna.load_study(study_name=name, storage=storage)
        done = study.get_trials(states=(TrialState.COMPLETE,))
        assert len(done) == 4, name  # 4 one-epoch trials in a budget of 4: none trained twice
        pids |= {t.system_attrs[SYSTEM_ATTR_WORKER]["pid"] for t in done}
    assert len(pids) == 2  # both processes trained trials
    assert "| random |" in out and "| tpe |" in out
