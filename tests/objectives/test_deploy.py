"""The deployable model: raw rows in, probabilities out; registry versions and aliases."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from _retrain_support import clicks_dataset
from _retrain_support import raw_clicks
from _scale_support import mlflow_store
from _scale_support import mlflow_template  # noqa: F401 - fixture
from recsearch.errors import DataError
from recsearch.objectives.deploy import log_model
from recsearch.objectives.deploy import register
from recsearch.objectives.final import train_final
from recsearch.spec import baseline


def test_cell_trains_to_early_stopping_and_scores_valid_and_test() -> None:
    ds = clicks_dataset()
    final = train_final(baseline("deepfm"), ds, seed=1, budget_epochs=3, patience=1,
                        keep_model=True, device="cpu")  # fmt: skip
    r, m = final.result, final.metrics()
    assert 0 < m["epochs"] <= 3 and m["best_epoch"] <= m["epochs"]
    assert 0.5 < m["valid_auc"] <= 1 and 0.5 < m["test_auc"] <= 1
    assert np.isfinite(m["test_logloss"]) and r.model is not None
    assert {"cost.params", "cost.flops", "epochs", "test_auc"} <= set(m)
    assert "early stopping on valid" in final.recipe  # auc once the trainer takes monitor=


def test_logged_model_scores_raw_rows_and_registers_new_versions(
    tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    ds = clicks_dataset()
    spec = baseline("fm")
    r = train_final(spec, ds, seed=0, budget_epochs=1, keep_model=True, device="cpu").result
    mlflow.set_tracking_uri(mlflow_store(mlflow_template, tmp_path))
    try:
        with mlflow.start_run():
            info = log_model(r.model, spec, ds)
        first = register(info.model_uri, "clicks-ctr")
        second = register(info.model_uri, "clicks-ctr")
        assert (first.version, first.existed) == (1, False)
        assert (second.version, second.existed) == (2, True)
        assert "new version" in second.describe()
        loaded = mlflow.pyfunc.load_model("models:/clicks-ctr@champion")
        raw = raw_clicks(6, seed=5).drop(columns=["y"])
        raw.loc[0, "user"] = 10_000  # unseen id: the out-of-vocabulary index
        p = np.asarray(loaded.predict(raw))
        assert p.shape == (6,) and ((p > 0) & (p < 1)).all()
        same = np.asarray(mlflow.pyfunc.load_model("models:/clicks-ctr/1").predict(raw))
        assert np.allclose(p, same)
        with pytest.raises(Exception, match="city"):  # MLflow's signature check or ours
            loaded.predict(raw.drop(columns=["city"]))
    finally:
        mlflow.set_tracking_uri(None)


def test_model_of_a_data_set_without_vocabularies_is_refused() -> None:
    from recsearch.data.synthetic import synthetic

    ds = synthetic(300, seed=0)
    r = train_final(baseline("lr"), ds, budget_epochs=1, keep_model=True, device="cpu").result
    with pytest.raises(DataError, match="no vocabularies"):
        log_model(r.model, baseline("lr"), ds)


def test_missing_raw_columns_are_named_by_the_model_itself() -> None:
    from recsearch.data.vocab import encoder_of

    enc = encoder_of(clicks_dataset(300))
    with pytest.raises(DataError, match=r"\['item', 'tags'\]"):
        enc.encode(pd.DataFrame({"user": [1], "city": ["oslo"], "x": [0.0]}))


def test_a_history_model_scores_raw_rows_with_their_history_as_in_training(
    tmp_path: Path, mlflow_template: Path  # noqa: F811
) -> None:
    import torch

    from recsearch.data.frame import DEFAULT_FRACTIONS
    from recsearch.data.frame import from_frame
    from recsearch.data.frame import split_indices
    from recsearch.objectives.batching import to_device

    raw = raw_clicks(600, seed=3)
    rng = np.random.default_rng(3)
    raw["clicks"] = [list(rng.integers(0, 25, int(k))) for k in rng.integers(0, 9, len(raw))]
    ds = from_frame(raw, label="y", categorical=["user", "item", "city"], numeric=["x"],
                    multi_hot=["tags"], sequence=["clicks"], sequence_max_len=5, seed=0,
                    name="clicks-history")  # fmt: skip
    spec = baseline("din", ds.schema)
    model = train_final(spec, ds, seed=0, budget_epochs=1, keep_model=True,
                        device="cpu").result.model  # fmt: skip
    mlflow.set_tracking_uri(mlflow_store(mlflow_template, tmp_path))
    try:
        with mlflow.start_run():
            info = log_model(model, spec, ds)
        loaded = mlflow.pyfunc.load_model(info.model_uri)
    finally:
        mlflow.set_tracking_uri(None)
    # NOTE: the raw rows of the training split, in its order, scored from raw values (the
    # history as lists, longer than max_len for some rows) must match the encoded split.
    train = split_indices(len(raw), split="random", timestamps=None, fractions=DEFAULT_FRACTIONS,
                          seed=0)[0][:50]  # fmt: skip
    rows = raw.drop(columns=["y"]).iloc[train]
    p = np.asarray(loaded.predict(rows))
    with torch.inference_mode():
        model.eval()
        encoded = to_device(ds.train, torch.device("cpu"))
        want = torch.sigmoid(model(encoded)["logit"]).numpy()[:50]
    assert np.allclose(p, want, atol=1e-6)
    newer = rows.assign(clicks=[[*c, 24, 3] for c in rows["clicks"]])  # two newer clicks
    assert not np.allclose(np.asarray(loaded.predict(newer)), p)
