"""Vocabularies and raw-row transforms: raw rows map to the indices the loader gave them."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import recsearch.data as rd
from recsearch.data._movielens import GENRES
from recsearch.data.vocab import Encoder
from recsearch.data.vocab import encoder_of
from recsearch.errors import DataError


def _frame(n: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "y": rng.integers(0, 2, n),
        "u": rng.integers(0, 40, n),  # integers: raw 7, 7.0 and "7" must agree
        "city": rng.choice(["oslo", "rome", "lima", "nome"], n),
        "x": rng.normal(size=n),
        "tags": ["|".join(rng.choice(list("abcde"), 2, replace=False)) for _ in range(n)],
        "t": np.arange(n),
    })  # fmt: skip


def test_encoder_maps_raw_rows_to_the_loaders_indices_and_unseen_to_oov() -> None:
    df = _frame()
    ds = rd.from_frame(df, label="y", categorical=["u", "city"], numeric=["x"],
                       multi_hot=["tags"], timestamp="t")  # fmt: skip
    enc = encoder_of(ds)
    assert enc is not None and enc.transform == "fields"
    train = df.iloc[: len(ds.train)]  # temporal split on t = row order
    out = enc.encode(train.drop(columns=["y"]))
    assert np.array_equal(out["categorical"], ds.train.categorical)
    assert np.allclose(out["numeric"], ds.train.numeric)
    width = ds.train.multi_hot[0].shape[1]
    assert np.array_equal(out["multi_hot"][0][:, :width], ds.train.multi_hot[0])
    # each index's value is the raw value behind it
    vocab = enc.vocabularies["city"]
    assert sorted(vocab) == sorted(set(train["city"]))
    raw = pd.DataFrame({"u": [7.0, "7", 10_000], "city": ["rome", "rome", "paris"],
                        "x": [0.0, 1.0, 2.0], "tags": ["a|zz", ["b"], None]})  # fmt: skip
    coded = enc.encode(raw)
    assert coded["categorical"][0, 0] == coded["categorical"][1, 0] > 0
    assert coded["categorical"][2].tolist() == [0, 0]  # unseen id and city: OOV
    assert coded["multi_hot"][0][2].tolist() == [0, 0]
    assert coded["multi_hot"][0][0, 1] == 0  # unseen tag dropped


def test_missing_columns_are_named() -> None:
    ds = rd.from_frame(_frame(), label="y", categorical=["u", "city"], numeric=["x"])
    with pytest.raises(DataError, match=r"\['city', 'x'\]"):
        encoder_of(ds).encode(pd.DataFrame({"u": [1]}))


def test_encoder_survives_the_cache_and_json(tmp_path: Path) -> None:
    path = tmp_path / "clicks.csv"
    _frame().to_csv(path, index=False)
    first = rd.read_file(path, label="y", categorical=["u", "city"], multi_hot=["tags"])
    again = rd.read_file(path, label="y", categorical=["u", "city"], multi_hot=["tags"])
    assert encoder_of(again) == encoder_of(first)
    assert Encoder.from_dict(encoder_of(first).to_dict()) == encoder_of(first)


def test_movielens_raw_rows_become_the_loaders_fields(
    tmp_path: Path, ml: SimpleNamespace
) -> None:
    tables = ml.tables(300, seed=1)
    ds = rd.movielens_100k(ml.grouplens(tmp_path / "ml-100k", tables), split="temporal")
    enc = encoder_of(ds)
    assert enc.transform == "movielens-100k"
    users = {u[0]: u for u in tables["users"]}
    items = {i[0]: i for i in tables["items"]}
    rows = []
    for u, i, _, t in sorted(tables["ratings"], key=lambda r: r[3]):  # temporal: train first
        _, age, gender, occupation, zip_code = users[u]
        _, _, year, flags = items[i]
        rows.append({"user_id": u, "item_id": i, "timestamp": t, "age": age, "gender": gender,
                     "occupation": occupation, "zip_code": zip_code,
                     "release_date": f"01-Jan-{year}" if year else "",
                     **dict(zip(GENRES, flags, strict=True))})  # fmt: skip
    raw = pd.DataFrame(rows[: len(ds.train)])
    out = enc.encode(raw)
    assert np.array_equal(out["categorical"], ds.train.categorical)
    width = ds.train.multi_hot[0].shape[1]
    assert np.array_equal(out["multi_hot"][0][:, :width], ds.train.multi_hot[0])
    with pytest.raises(DataError, match="zip_code.*release_date or release_year"):
        enc.encode(raw.drop(columns=["zip_code", "release_date"]))
