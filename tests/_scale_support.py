"""Shared pieces of the CLI, runner and worker tests: a PostgreSQL cluster and cheap stand-ins.

The stand-ins are referenced as ``_scale_support:NAME`` from study settings, so worker
subprocesses import this module: they run with ``PYTHONPATH`` set to the tests folder
(:func:`subprocess_env`).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import optuna
import pytest
from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Float
from ConfigSpace import Integer

from recsearch.errors import NonFiniteLossError
from recsearch.hooks import USER_ATTR_EPOCHS
from recsearch.hooks import USER_ATTR_FAILURE
from recsearch.testing import StandInObjective

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent
POSTGRES_SH = ROOT / "scripts" / "postgres.sh"


def subprocess_env(**extra: str) -> dict[str, str]:
    """Environment for CLI subprocesses: one torch thread, stand-ins importable."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")]).rstrip(
        os.pathsep
    )
    env["OMP_NUM_THREADS"] = "1"
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    env["PYTHONUNBUFFERED"] = "1"
    env["RECSEARCH_ALLOW_CALLABLES"] = "_scale_support:*"  # the stand-ins (issue 14 #3)
    env.update(extra)
    return env


def recsearch_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "recsearch", *args]


# --------------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A private PostgreSQL cluster started by scripts/postgres.sh for the whole session."""
    proc = subprocess.run(
        ["bash", str(POSTGRES_SH), "start"], capture_output=True, text=True, timeout=600
    )
    if proc.returncode == 3:
        pytest.skip(f"PostgreSQL cannot be installed here: {proc.stderr.strip()[-300:]}")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    pgdir = lines[0].split("=", 1)[1]
    try:
        yield lines[-1]
    finally:
        subprocess.run(["bash", str(POSTGRES_SH), "stop", pgdir], capture_output=True, timeout=120)


def fresh_database(url: str, name: str) -> str:
    """Create database ``name`` in the cluster of ``url`` and return its URL."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


# --------------------------------------------------------------------------------- stand-ins


def tiny_dataset(n_rows: int = 300, seed: int = 0, n_categorical: int = 4) -> Any:
    """Seeded generated data (the schema is what the tests need).

    ``RECSEARCH_TEST_FIELDS`` overrides the number of categorical fields: a data set whose
    schema changed since the study was created.
    """
    from recsearch.data import synthetic

    n_categorical = int(os.environ.get("RECSEARCH_TEST_FIELDS", n_categorical))
    return synthetic(n_rows, n_categorical=n_categorical, n_numeric=1, max_vocab=20, seed=seed)


STANDIN = {
    "dataset": "_scale_support:tiny_dataset",
    "space": "_scale_support:small_space",
    "strategy": "_scale_support:random_strategy",
    "objective": "_scale_support:SleepObjective",
}
"""Settings of a cheap study made of stand-ins (create_study keyword arguments)."""


def standin_cli_args() -> list[str]:
    return [
        "--dataset", STANDIN["dataset"],
        "--space", STANDIN["space"],
        "--strategy", STANDIN["strategy"],
        "--objective", STANDIN["objective"],
    ]  # fmt: skip


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An initialised (migrated) empty MLflow SQLite store; copy it instead of migrating again."""
    from mlflow.tracking import MlflowClient

    if _TEMPLATE:  # NOTE: imported by several test modules; migrate once per session
        return _TEMPLATE[0]
    path = tmp_path_factory.mktemp("mlflow-template") / "mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    _TEMPLATE.append(path)
    return path


_TEMPLATE: list[Path] = []


def mlflow_store(template: Path, directory: Path) -> str:
    """A copy of the template store in ``directory``; returns its tracking URI."""
    import shutil

    target = directory / "mlflow.db"
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def small_space(schema: Any) -> ConfigurationSpace:
    """Three hyperparameters, enough for samplers to differ."""
    cs = ConfigurationSpace(seed=0)
    cs.add(
        [
            Float("x", (-2.0, 2.0), default=0.0),
            Integer("k", (1, 64), log=True, default=8),
            Categorical("c", ["a", "b", "c"], default="a"),
        ]
    )
    return cs


def random_strategy(space: ConfigurationSpace, *, seed: int | None = None, **options: Any) -> Any:
    """Optuna's random sampler: independent of the strategies package."""
    return optuna.samplers.RandomSampler(seed=seed)


class SleepObjective(StandInObjective):
    """A cheap objective with the CTRObjective signature.

    Each trial sleeps ``RECSEARCH_TEST_TRIAL_S`` seconds (in small steps, reporting each), so a
    test can kill a worker mid-trial. Fault injection by environment:
    ``RECSEARCH_TEST_FAIL_EVERY=n`` makes every n-th trial raise NonFiniteLossError;
    ``RECSEARCH_TEST_OOM_EVERY=n`` makes every n-th trial raise MemoryError;
    ``RECSEARCH_TEST_BUG_EVERY=n`` makes every n-th trial raise a plain ZeroDivisionError.
    """

    def __call__(self, trial: optuna.Trial) -> float:
        from recsearch.spaces import suggest

        config = suggest(trial, self.space)
        params = dict(config)
        for hook in self.hooks:
            hook.trial_started(trial, params)
        duration = float(os.environ.get("RECSEARCH_TEST_TRIAL_S", "0.05"))
        steps = 5
        value = 0.5 + 0.1 * math.tanh(-((params["x"] - 0.7) ** 2)) + 0.01 * math.log(params["k"])
        for step in range(steps):
            time.sleep(duration / steps)
            for hook in self.hooks:
                hook.step_reported(trial, step, {"valid_auc": value * (step + 1) / steps})
        n = trial.number + 1
        for var, exc in (
            ("RECSEARCH_TEST_FAIL_EVERY", NonFiniteLossError("training loss became nan")),
            ("RECSEARCH_TEST_OOM_EVERY", MemoryError("cannot allocate 12 GiB")),
            ("RECSEARCH_TEST_BUG_EVERY", ZeroDivisionError("division by zero in user code")),
        ):
            every = int(os.environ.get(var, "0"))
            if every and n % every == 0:
                if isinstance(exc, NonFiniteLossError):
                    trial.set_user_attr(USER_ATTR_FAILURE, f"non-finite loss: {exc}")
                for hook in self.hooks:
                    hook.trial_ended(trial, {}, str(exc))
                raise exc
        trial.set_user_attr("valid_auc", value)
        trial.set_user_attr(USER_ATTR_EPOCHS, self.budget)
        for hook in self.hooks:
            hook.trial_ended(trial, {"valid_auc": value}, None)
        return value


def completed_params(study: optuna.Study) -> list[Mapping[str, Any]]:
    return [
        t.params for t in study.get_trials(states=(optuna.trial.TrialState.COMPLETE,))
    ]


class StolenOnceObjective(SleepObjective):
    """Trial 0 is failed by "another worker" (a false stale verdict) while it still runs."""

    def __call__(self, trial: optuna.Trial) -> float:
        value = super().__call__(trial)
        if trial.number == 0:
            storage = trial.storage
            storage.set_trial_user_attr(trial._trial_id, USER_ATTR_FAILURE, "worker died: test")
            storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
        return value
