"""Three worker processes train CTRObjective trials into one SQLite study per strategy.

The journal-file test next door checks cooperation on a continuous toy space; this one runs the
real objective (tiny budgets) for every registered name on the laptop storage, SQLite, so that
samplers, pruners and the objective's user attributes all cross process boundaries.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import optuna
from optuna.trial import TrialState

from recsearch.storage import open_storage
from recsearch.strategies import available

N_WORKERS = 3
N_TRIALS = 10  # per worker and strategy: 30 per study

WORKER = textwrap.dedent(
    """
    import json, sys
    import optuna, torch
    from recsearch.data.synthetic import synthetic
    from recsearch.objectives.objective import CTRObjective
    from recsearch.objectives.trainer import Budget, Recipe
    from recsearch.storage import open_storage
    from recsearch.spaces import preset
    from recsearch.strategies import available, create

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    url, seed, n_trials, fast = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    fast = json.loads(fast)
    storage = open_storage(url)
    dataset = synthetic(400, n_categorical=4, n_numeric=1, max_vocab=16, seed=0)
    space = preset("full", dataset.schema)
    for name in sorted(available()):
        objective = CTRObjective(
            dataset, space, budget=Budget(epochs=0.5, eval_every=0.25, recipe=Recipe(min_steps=0)),
            device="cpu", seed=seed
        )
        strategy = create(name, space, seed=seed, **fast.get(name, {}))
        study = strategy.create_study(
            storage=storage, study_name=name, direction="maximize", load_if_exists=True
        )

        def tagged(trial, objective=objective):
            trial.set_user_attr("test.worker", seed)
            return objective(trial)

        study.optimize(tagged, n_trials=n_trials, catch=(Exception,))
    """
)


def test_three_processes_train_into_one_sqlite_study_per_strategy(
    tmp_path: Path, fast_options: dict[str, dict[str, object]], run_workers
) -> None:
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    # Create every study up front so that the workers only load them (no creation race).
    storage = open_storage(url)
    for name in available():
        optuna.create_study(storage=storage, study_name=name, direction="maximize")
    fast = json.dumps(fast_options)
    run_workers(script, [[url, str(seed), str(N_TRIALS), fast] for seed in range(N_WORKERS)])
    for name in available():
        study = optuna.load_study(study_name=name, storage=storage)
        trials = study.get_trials(deepcopy=False)
        assert len(trials) == N_WORKERS * N_TRIALS, name
        assert all(t.state.is_finished() for t in trials), name
        done = [t for t in trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
        assert len(done) >= len(trials) // 2, (name, [t.user_attrs.get("failure") for t in trials])
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        assert complete, name
        assert all(0.0 <= t.value <= 1.0 and "cost.params" in t.user_attrs for t in complete)
        # every worker contributed trials to the shared study
        assert {t.user_attrs["test.worker"] for t in trials} == set(range(N_WORKERS)), name
