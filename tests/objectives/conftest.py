from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
import torch

from recsearch.data.schema import Dataset
from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.data.schema import Split


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def build_dataset(
    n_rows: int = 2000,
    *,
    seed: int = 0,
    n_categorical: int = 4,
    n_numeric: int = 2,
    n_multi_hot: int = 1,
    vocab: int = 12,
    max_len: int = 3,
    signal: float = 2.0,
) -> Dataset:
    """Seeded tiny data with planted signal: main effects of the first fields plus one pair.

    Split 80/10/10; field frequencies are counted on the training rows.
    """
    rng = np.random.default_rng(seed)
    cat = rng.integers(0, vocab, size=(n_rows, n_categorical), dtype=np.int64)
    num = rng.standard_normal((n_rows, n_numeric)).astype(np.float32)
    mh = tuple(
        np.where(
            rng.random((n_rows, max_len)) < 0.7,
            rng.integers(1, vocab, size=(n_rows, max_len)),
            0,
        ).astype(np.int64)
        for _ in range(n_multi_hot)
    )
    logit = np.zeros(n_rows)
    if n_categorical:
        effect = rng.standard_normal((n_categorical, vocab))
        logit += effect[0, cat[:, 0]] * signal
        if n_categorical > 1:
            same = (cat[:, 0] % 2) == (cat[:, 1] % 2)
            logit += np.where(same, signal / 2, -signal / 2)
    if n_numeric:
        logit += signal / 2 * num[:, 0]
    for m in mh:
        logit += signal / 2 * ((m == 1).any(1) * 2.0 - 1.0)
    label = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(np.float32)
    n_train = int(0.8 * n_rows)
    n_valid = int(0.1 * n_rows)
    parts = [slice(0, n_train), slice(n_train, n_train + n_valid), slice(n_train + n_valid, None)]
    splits = [Split(cat[s], num[s], tuple(m[s] for m in mh), label[s]) for s in parts]
    fields = []
    for j in range(n_categorical):
        freq = np.bincount(cat[:n_train, j], minlength=vocab).astype(np.int64)
        fields.append(Field(f"c{j}", "categorical", vocab, freq))
    for j in range(n_numeric):
        fields.append(Field(f"n{j}", "numeric"))
    for j, m in enumerate(mh):
        freq = np.bincount(m[:n_train].ravel(), minlength=vocab).astype(np.int64)
        fields.append(Field(f"m{j}", "multi_hot", vocab, freq))
    return Dataset("tiny", Schema("label", tuple(fields)), *splits)


@pytest.fixture
def make_dataset() -> Callable[..., Dataset]:
    return build_dataset


def build_sequence_dataset(n_rows: int = 2000, *, seed: int = 0) -> Dataset:
    """Two categorical fields, one numeric and a history of up to 5 items; the label: item 1
    is in the history (with probability 0.9), a signal only the history carries."""
    import pandas as pd

    from recsearch.data.frame import from_frame

    rng = np.random.default_rng(seed)
    hist = [list(rng.integers(1, 12, rng.integers(0, 6))) for _ in range(n_rows)]
    flip = rng.random(n_rows) < 0.1
    y = [int((1 in h) != f) for h, f in zip(hist, flip, strict=True)]
    df = pd.DataFrame({"y": y, "u": rng.integers(0, 20, n_rows), "i": rng.integers(0, 30, n_rows),
                       "x": rng.standard_normal(n_rows), "h": hist})
    return from_frame(df, label="y", categorical=["u", "i"], numeric=["x"], sequence=["h"],
                      sequence_max_len=5, seed=seed)


@pytest.fixture
def make_sequence_dataset() -> Callable[..., Dataset]:
    return build_sequence_dataset
