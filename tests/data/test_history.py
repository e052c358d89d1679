"""MovieLens behaviour histories: item ids and their genres, strictly earlier, never ratings."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

import recsearch.data as rd
from recsearch.data import _movielens


def _frame(n: int = 400, *, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    genres = [["Drama"], ["Comedy", "Romance"], ["War", "Action"], []]
    items = rng.integers(1, 30, n)
    return pd.DataFrame(
        {
            "user_id": rng.integers(1, 8, n),
            "item_id": items,
            "timestamp": rng.integers(0, 40, n),  # few values: many ties
            "genres": [genres[i % len(genres)] for i in items],
        }
    )


def test_history_entries_are_strictly_earlier_ratings_of_the_same_user() -> None:
    df = _frame()
    users, ts = df["user_id"].to_numpy(), df["timestamp"].to_numpy()
    rows = _movielens.history_rows(df, 5)
    assert sum(len(r) for r in rows) > 0
    for r, hist in enumerate(rows):
        assert (users[hist] == users[r]).all()
        assert (ts[hist] < ts[r]).all()  # no entry at or after the row's time
        assert (np.diff(ts[hist]) >= 0).all()  # oldest first
        ties = np.diff(ts[hist]) == 0
        assert (np.diff(hist)[ties] > 0).all()  # equal times keep file order
        earlier = np.flatnonzero((users == users[r]) & (ts < ts[r]))
        assert len(hist) == min(5, len(earlier))
        # the most recent ones: nothing left out is later than what was kept
        if len(hist) < len(earlier):
            assert ts[np.setdiff1d(earlier, hist)].max() <= ts[hist].min()


def test_history_genres_are_the_genres_of_the_history_items() -> None:
    df = _frame(seed=1)
    items, genres = _movielens.histories(df, 4)
    token = dict(zip(df["item_id"], map(_movielens.genre_token, df["genres"]), strict=False))
    assert [len(g) for g in genres] == [len(i) for i in items]
    assert all(g == [token[i] for i in hist] for hist, g in zip(items, genres, strict=True))
    assert _movielens.genre_token([]) == "unknown"
    assert _movielens.genre_token(["War", "Action"]) == "Action+War"


@pytest.mark.parametrize("split", ["random", "temporal"])
def test_ratings_never_enter_the_histories(
    tmp_path: Path, ml: SimpleNamespace, split: str
) -> None:
    tables = ml.tables(300, seed=3)
    flipped = {**tables, "ratings": [(u, i, 6 - r, t) for u, i, r, t in tables["ratings"]]}
    a = rd.movielens_100k(ml.grouplens(tmp_path / "a", tables), split=split, history=4)
    b = rd.movielens_100k(ml.grouplens(tmp_path / "b", flipped), split=split, history=4)
    assert a.schema.names[-2:] == ("history", "history_genres")
    assert not np.array_equal(a.train.label, b.train.label)
    for sa, sb in ((a.train, b.train), (a.valid, b.valid), (a.test, b.test)):
        assert len(sa.sequence) == 2
        for ma, mb in zip(sa.sequence, sb.sequence, strict=True):
            np.testing.assert_array_equal(ma, mb)


def test_items_outside_the_vocabulary_leave_both_sequences(
    tmp_path: Path, ml: SimpleNamespace
) -> None:
    tables = ml.tables(300, n_items=120, seed=4)
    folder = ml.grouplens(tmp_path / "ml", tables)
    full = rd.movielens_100k(folder, split="temporal", history=6)
    rare = rd.movielens_100k(folder, split="temporal", history=6, min_count=3)
    kept = [(s.sequence[0] > 0).sum() for s in (full.test, rare.test)]
    assert kept[1] < kept[0]  # rare items were dropped ...
    for s in (rare.train, rare.valid, rare.test):
        items, genres = s.sequence
        np.testing.assert_array_equal(items > 0, genres > 0)  # ... from both, aligned
