"""The retrain stage on data with a behaviour history: DIN beside DeepFM, which reads none."""

from __future__ import annotations

import json

import optuna

from recsearch import spaces
from recsearch.data import synthetic
from recsearch.hooks import USER_ATTR_SPEC
from recsearch.study.retraining import select_candidates


def _study(space: object, spec: dict[str, object]) -> optuna.Study:
    study = optuna.create_study(direction="maximize")
    study.add_trial(optuna.trial.create_trial(
        params={}, distributions={}, value=0.7, user_attrs={USER_ATTR_SPEC: json.dumps(spec)}
    ))  # fmt: skip
    return study


def test_din_is_a_baseline_and_the_notes_say_which_models_read_no_history() -> None:
    ds = synthetic(n_rows=300, n_sequence=1)
    space = spaces.preset("ameir", ds.schema)
    found = spaces.decode(space.get_default_configuration(), ds.schema).to_dict()
    found["head"] = {**found["head"], "widths": [7]}  # not the base: both are retrained
    cands, notes, _ = select_candidates(_study(space, found), space=space, dataset=ds, top_k=1,
                                        baselines=("deepfm", "din"), recipe="r")  # fmt: skip
    assert [c.name for c in cands] == ["found-1", "base", "deepfm", "din"]
    (note,) = [n for n in notes if n.startswith("no history")]
    assert "deepfm" in note and "din" not in note and "found-1" not in note and "s0" in note
    # the same baselines on data without a history: no such note
    plain = synthetic(n_rows=300)
    hpo = spaces.preset("hpo", plain.schema)
    spec = spaces.decode(hpo.get_default_configuration(), plain.schema).to_dict()
    _, notes, _ = select_candidates(_study(hpo, spec), space=hpo, dataset=plain, top_k=1,
                                    baselines=("deepfm",), recipe="r")  # fmt: skip
    assert not [n for n in notes if n.startswith("no history")]
