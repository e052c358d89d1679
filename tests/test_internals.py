"""Each dependency internal recsearch uses (recsearch._internals) still behaves as relied on.

A failure here names the hook an upgrade changed; pyproject.toml bounds the versions checked.
"""

from __future__ import annotations

import importlib

import numpy as np
import optuna
import pytest
from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace
from ConfigSpace import EqualsCondition
from ConfigSpace import Float

from recsearch import _internals


def test_optuna_study_and_trial_ids_reach_the_storage() -> None:
    study = optuna.create_study()
    trial = study.ask()
    storage = _internals.storage_of(study)
    assert storage.get_trial(_internals.trial_id_of(trial)).number == trial.number
    assert storage.get_study_name_from_id(_internals.study_id_of(study)) == study.study_name
    frozen = study.trials[0]
    assert _internals.trial_id_of(frozen) == _internals.trial_id_of(trial)


def test_optuna_enqueued_params_live_in_the_fixed_params_system_attr() -> None:
    study = optuna.create_study()
    study.enqueue_trial({"cell": 3})
    trial = study.ask()
    attrs = _internals.storage_of(study).get_trial_system_attrs(_internals.trial_id_of(trial))
    assert attrs[_internals.FIXED_PARAMS_ATTR] == {"cell": 3}, (
        "Optuna no longer keeps enqueued params in the 'fixed_params' system attribute"
    )


def test_optuna_heartbeat_storages_list_their_stale_trials(tmp_path: object) -> None:
    from recsearch.storage import open_storage

    storage = open_storage("sqlite:///:memory:", heartbeat_interval=1)
    assert isinstance(storage, _internals.BaseHeartbeat)
    study = optuna.create_study(storage=storage)
    study.ask()
    assert _internals.stale_trial_ids(storage, _internals.study_id_of(study)) == []


def test_configspace_conditions_and_vector_distributions() -> None:
    cs = ConfigurationSpace(seed=0)
    arch, lr = Categorical("arch", ["a", "b"]), Float("lr", (1e-4, 1e-1), log=True)
    cs.add([arch, lr, EqualsCondition(lr, arch, "a")])
    (node,) = _internals.minimum_conditions(cs)
    matrix = np.array([[0.0, 1.0], [0.5, 0.5]])  # arch=a then arch=b
    assert node.condition.satisfied_by_vector_array(matrix).tolist() == [True, False]
    sample = _internals.vector_dist(lr).sample_vector(n=4, seed=np.random.RandomState(0))
    assert sample.shape == (4,) and ((sample >= 0) & (sample <= 1)).all()


@pytest.mark.parametrize(("module", "cls", "method"), _internals.SMAC_HOOKS)
def test_smac_private_methods_still_exist(module: str, cls: str, method: str) -> None:
    owner = getattr(importlib.import_module(module), cls)
    assert callable(getattr(owner, method, None)), f"SMAC3 {cls}.{method} is gone"


def test_smac_maximizer_keeps_its_local_search() -> None:
    from smac.acquisition.maximizer import LocalAndSortedRandomSearch

    cs = ConfigurationSpace(seed=0)
    cs.add([Float("x", (0.0, 1.0))])
    maximizer = LocalAndSortedRandomSearch(cs, acquisition_function=None, challengers=4, seed=0)
    assert hasattr(maximizer._local_search, "_get_initial_points")


def test_private_optuna_attributes_are_read_only_through_internals() -> None:
    # NOTE: one accessor each in recsearch._internals, tested above; a new direct use would
    # break silently with an Optuna release.
    import re
    from pathlib import Path

    import recsearch

    root = Path(recsearch.__file__).parent
    private = re.compile(
        r"\.(_storage|_study_id|_trial_id|_pruners|_get_bracket_id|_try_initialization"
        r"|_min_resource|_reduction_factor|_min_early_stopping_rate)\b"
    )
    found = [
        f"{path.relative_to(root)}:{n}"
        for path in sorted(root.rglob("*.py")) if path.name != "_internals.py"
        for n, line in enumerate(path.read_text().splitlines(), 1) if private.search(line)
    ]
    assert found == []


def test_optuna_hyperband_brackets_and_halving_settings() -> None:
    from recsearch._internals import halving_settings
    from recsearch._internals import hyperband_bracket

    pruner = optuna.pruners.HyperbandPruner(min_resource=1, max_resource=9, reduction_factor=3)
    assert halving_settings(pruner) == (1, 3, 0)
    study = optuna.create_study(pruner=pruner)
    trial = study.ask()
    bracket = hyperband_bracket(pruner, study, trial)
    assert isinstance(bracket, optuna.pruners.SuccessiveHalvingPruner)
    low, eta, rate = halving_settings(bracket)
    assert (low, eta) == (1, 3) and 0 <= rate <= 2
    auto = optuna.pruners.HyperbandPruner()  # max_resource="auto": no brackets yet
    assert hyperband_bracket(auto, optuna.create_study(pruner=auto), trial) is None
