"""Three worker processes share one journal storage: every strategy cooperates through it."""

from __future__ import annotations

import textwrap
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from recsearch.strategies import available
from recsearch.spaces import configuration_from_params
from recsearch.strategies._cs import key_of
from recsearch.testing import make_conditional_space

N_WORKERS = 3
N_TRIALS = 4  # per worker and strategy

WORKER = textwrap.dedent(
    """
    import sys
    import optuna
    from recsearch.errors import ForbiddenConfigurationError
    from recsearch.strategies import available, create
    from recsearch.testing import make_conditional_space, toy_objective
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.ERROR)
    path, seed = sys.argv[1], int(sys.argv[2])
    storage = JournalStorage(JournalFileBackend(path))
    space = make_conditional_space(n_blocks=2)
    fast = {
        "smac": {"n_initial": 4, "retrain_after": 3, "challengers": 100},
        "smac-hb": {"n_initial": 4, "retrain_after": 3, "challengers": 100},
        "smac-gp": {"n_initial": 8, "retrain_after": 6, "challengers": 50},
        "gp": {"n_startup_trials": 10},
        "evolution": {"population_size": 4, "sample_size": 2},
        "autoctr": {"population_size": 4, "n_candidates": 10},
        "nbtree": {"n_initial": 4, "n_candidates": 10},
        "nsga2": {"population_size": 4},
    }
    for name in sorted(available()):
        strategy = create(name, space, seed=seed, **fast.get(name, {}))
        study = strategy.create_study(storage=storage, study_name=name, load_if_exists=True)
        study.optimize(
            toy_objective(space), n_trials=%d, catch=(ForbiddenConfigurationError,)
        )
    """
    % N_TRIALS
)


def test_three_processes_share_one_study_per_strategy(tmp_path: Path, run_workers) -> None:
    path = str(tmp_path / "journal.log")
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    # NOTE: workers share a seed on purpose: per-trial seeding must still keep them apart.
    run_workers(script, [[path, "0"]] * N_WORKERS, timeout=300)
    storage = JournalStorage(JournalFileBackend(path))
    space = make_conditional_space(n_blocks=2)
    for name in available():
        study = optuna.load_study(study_name=name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        assert len(trials) == N_WORKERS * N_TRIALS, name
        done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        if name in {"tpe", "gp", "qmc", "nsga2", "bohb"}:
            assert len(done) >= len(trials) // 2, name  # forbidden draws fail, by design
            continue
        assert len(done) == len(trials), name
        keys = [key_of(configuration_from_params(t.params, space).get_array()) for t in done]
        # NOTE: racing proposals (even one whose twin finished while this worker sampled) are
        # given up by the claim check, so no configuration is trained twice.
        assert len(set(keys)) == len(keys), name
