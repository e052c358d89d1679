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
    env.update(OMP_NUM_THREADS="1", RECSEARCH_TEST_TRIAL_S="0.4", PYTHONUNBUFFERED="1")
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
