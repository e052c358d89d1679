"""Schemas for the space tests: generated (synthetic), MovieLens-like, Criteo-size."""

from __future__ import annotations

import numpy as np
import optuna
import pytest

from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.data.synthetic import synthetic

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _cat(name: str, vocab: int) -> Field:
    freq = np.concatenate([[0], np.sort(np.arange(1, vocab) ** 2)[::-1]]).astype(np.int64)
    return Field(name, "categorical", vocab, freq)


def make_generated_schema() -> Schema:
    """The synthetic generator's schema: 6 categorical, 2 numeric, 1 multi-hot, 1 sequence field."""
    return synthetic(
        400, n_categorical=6, n_numeric=2, n_multi_hot=1, n_sequence=1, max_vocab=60, seed=0
    ).schema


def make_movielens_schema() -> Schema:
    """A MovieLens-100K-like schema built by hand: 11 fields incl. multi-hot genres, a history."""
    fields = (
        _cat("user_id", 944),
        _cat("item_id", 1683),
        _cat("age", 8),
        _cat("gender", 3),
        _cat("occupation", 22),
        _cat("zip_prefix", 100),
        _cat("release_year", 72),
        _cat("weekday", 8),
        Field("genre", "multi_hot", 20, np.arange(20, dtype=np.int64)),
        Field("hour", "numeric", quantiles=np.linspace(-2.0, 2.0, 101)),
        Field("history", "sequence", 1683, np.arange(1683, dtype=np.int64), max_len=20),
    )
    return Schema("click", fields)


def make_criteo_schema() -> Schema:
    """A Criteo-size schema: 39 embedded fields (741 pairs), small vocabularies."""
    return Schema("click", tuple(_cat(f"C{i}", 50) for i in range(39)))


@pytest.fixture(scope="session")
def generated_schema() -> Schema:
    return make_generated_schema()


@pytest.fixture(scope="session")
def movielens_schema() -> Schema:
    return make_movielens_schema()


@pytest.fixture(scope="session")
def criteo_schema() -> Schema:
    return make_criteo_schema()


@pytest.fixture(scope="session", params=["generated", "movielens"])
def schema(request: pytest.FixtureRequest) -> Schema:
    return make_generated_schema() if request.param == "generated" else make_movielens_schema()
