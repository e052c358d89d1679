"""Every registered strategy runs a 30-trial study through CTRObjective on generated data."""

from __future__ import annotations

import pytest
import torch
from optuna.trial import TrialState

from recsearch.data.synthetic import synthetic
from recsearch.objectives.objective import CTRObjective
from recsearch.objectives.trainer import Budget
from recsearch.objectives.trainer import Recipe
from recsearch.spaces import preset
from recsearch.strategies import ConfigSpaceSampler
from recsearch.strategies import available

# NOTE: mechanics at a tiny budget: without the recipe's minimum steps, as before it.
TINY_BUDGET = Budget(epochs=0.5, eval_every=0.25, recipe=Recipe(min_steps=0))

PARAMS = sorted(available())


@pytest.fixture(scope="module")
def dataset():  # type: ignore[no-untyped-def]
    return synthetic(400, n_categorical=4, n_numeric=1, max_vocab=16, seed=0)


@pytest.mark.parametrize("name", PARAMS)
def test_thirty_trial_ctr_study(name: str, dataset, make_strategy) -> None:
    torch.set_num_threads(1)
    space = preset("full", dataset.schema)
    objective = CTRObjective(dataset, space, budget=TINY_BUDGET, device="cpu", seed=0)
    strategy = make_strategy(name, space, seed=0)
    study = strategy.create_study(direction="maximize")
    # NOTE: some configurations legitimately fail (non-finite loss); the study goes on.
    study.optimize(objective, n_trials=30, catch=(Exception,))
    assert len(study.trials) == 30
    done = [t for t in study.trials if t.state in (TrialState.COMPLETE, TrialState.PRUNED)]
    failed = [t for t in study.trials if t.state == TrialState.FAIL]
    failures = [t.user_attrs.get("failure", "") for t in failed]
    assert len(done) >= 15, failures
    if isinstance(strategy.sampler, ConfigSpaceSampler):
        assert not any("forbidden" in f for f in failures), failures
    assert 0.4 < study.best_value <= 1.0
    complete = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert all("cost.params" in t.user_attrs for t in complete)
    if name == "hyperband":
        # the pruner acted on the objective's reports
        assert any(t.state == TrialState.PRUNED for t in study.trials) or all(
            len(t.intermediate_values) == 2 for t in done
        )
