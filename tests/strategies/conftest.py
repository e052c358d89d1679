from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import optuna
import pytest
from ConfigSpace import ConfigurationSpace

from recsearch.strategies import Strategy
from recsearch.strategies import available
from recsearch.strategies import create
from recsearch.testing import make_conditional_space

# NOTE: small model budgets keep every strategy's model-based path exercised but fast.
FAST_OPTIONS: dict[str, dict[str, Any]] = {
    "smac": {"n_initial": 4, "retrain_after": 4, "challengers": 200},
    "smac-hb": {"n_initial": 4, "retrain_after": 4, "challengers": 200, "max_resource": 3},
    "smac-gp": {"n_initial": 8, "retrain_after": 8, "challengers": 100},
    "gp": {"n_startup_trials": 10},
    "evolution": {"population_size": 5, "sample_size": 3},
    "autoctr": {"population_size": 5, "n_candidates": 20},
    "nbtree": {"n_initial": 5, "n_candidates": 20},
    "nsga2": {"population_size": 5},
    "hyperband": {"max_resource": 3},
    "bohb": {"max_resource": 3},
}

NAMES = sorted(available())


@pytest.fixture(autouse=True)
def _quiet_optuna() -> None:
    optuna.logging.set_verbosity(optuna.logging.ERROR)


@pytest.fixture
def make_space() -> Callable[..., ConfigurationSpace]:
    def make(n_blocks: int = 2) -> ConfigurationSpace:
        return make_conditional_space(n_blocks=n_blocks)

    return make


def build_strategy(name: str, space: ConfigurationSpace, seed: int = 0, **extra: Any) -> Strategy:
    options = dict(FAST_OPTIONS.get(name, {}))
    options.update(extra)
    return create(name, space, seed=seed, **options)


@pytest.fixture
def make_strategy() -> Callable[..., Strategy]:
    return build_strategy


@pytest.fixture
def fast_options() -> dict[str, dict[str, Any]]:
    """:data:`FAST_OPTIONS`, for tests that hand options to worker processes."""
    return FAST_OPTIONS


@pytest.fixture
def run_workers() -> Callable[..., None]:
    """Run ``script`` in one process per argument list at once (one thread each); all exit 0."""

    def run(script: Path, argvs: Sequence[Sequence[str]], *, timeout: float = 600) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE"}
        procs = [
            subprocess.Popen(
                [sys.executable, str(script), *argv],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for argv in argvs
        ]
        for proc in procs:
            _, err = proc.communicate(timeout=timeout)
            assert proc.returncode == 0, err[-3000:]

    return run
