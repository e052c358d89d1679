"""Turn full-length encoded arrays plus split indices into a :class:`Dataset`."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from typing import Any

import numpy as np

from recsearch.data.schema import QUANTILE_POINTS
from recsearch.data.schema import Dataset
from recsearch.data.schema import Field
from recsearch.data.schema import FieldKind
from recsearch.data.schema import Schema
from recsearch.data.schema import Split


def count_frequencies(values: np.ndarray, vocab_size: int) -> np.ndarray:
    """Count of each index in ``values`` (any shape), length ``vocab_size``, int64."""
    return np.bincount(values.ravel(), minlength=vocab_size).astype(np.int64, copy=False)


def numeric_quantiles(values: np.ndarray) -> np.ndarray:
    """The :data:`QUANTILE_POINTS` quantiles of the finite ``values`` (empty when none is)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return np.zeros(0, dtype=np.float64)
    return np.quantile(finite.astype(np.float64), np.linspace(0.0, 1.0, QUANTILE_POINTS))


def assemble(
    name: str,
    *,
    label_name: str,
    fields: Sequence[tuple[str, FieldKind, int]],
    categorical: np.ndarray,
    numeric: np.ndarray,
    multi_hot: Sequence[np.ndarray],
    label: np.ndarray,
    sequence: Sequence[np.ndarray] = (),
    indices: tuple[np.ndarray, np.ndarray, np.ndarray],
    info: Mapping[str, Any] | None = None,
) -> Dataset:
    """Split encoded arrays and count field frequencies on the training rows.

    Args:
        name: Data set name.
        label_name: Label column name.
        fields: ``(name, kind, vocab_size)`` per field in column order; the categorical and
            multi-hot entries must match the columns of ``categorical`` and ``multi_hot``.
        categorical: ``(n, C)`` int64 indices.
        numeric: ``(n, N)`` float32 values.
        multi_hot: ``(n, L)`` int64 padded matrices.
        sequence: ``(n, L)`` int64 left-padded histories (oldest first).
        label: ``(n,)`` 0/1 labels.
        indices: Train, valid and test row indices.
        info: Loader facts stored on the data set.
    """
    categorical = np.ascontiguousarray(categorical, dtype=np.int64)
    numeric = np.ascontiguousarray(numeric, dtype=np.float32)
    multi_hot = tuple(np.ascontiguousarray(m, dtype=np.int64) for m in multi_hot)
    sequence = tuple(np.ascontiguousarray(m, dtype=np.int64) for m in sequence)
    label = np.ascontiguousarray(label, dtype=np.float32)
    splits = tuple(
        Split(
            categorical[idx], numeric[idx], tuple(m[idx] for m in multi_hot), label[idx],
            tuple(m[idx] for m in sequence),
        )
        for idx in indices
    )
    train = splits[0]
    out: list[Field] = []
    ci = mi = ni = si = 0
    for fname, kind, vocab in fields:
        if kind == "categorical":
            freq = count_frequencies(train.categorical[:, ci], vocab)
            ci += 1
        elif kind == "multi_hot":
            freq = count_frequencies(train.multi_hot[mi], vocab)
            freq[0] = 0  # NOTE: index 0 doubles as padding in multi-hot rows; padding is no value.
            mi += 1
        elif kind == "sequence":
            freq = count_frequencies(train.sequence[si], vocab)
            freq[0] = 0  # NOTE: index 0 pads.
            width = int(train.sequence[si].shape[1])
            si += 1
            out.append(Field(fname, kind, int(vocab), freq, max_len=width))
            continue
        else:
            freq = np.zeros(0, dtype=np.int64)
            vocab = 1
            out.append(Field(fname, kind, 1, freq, numeric_quantiles(train.numeric[:, ni])))
            ni += 1
            continue
        out.append(Field(fname, kind, int(vocab), freq))
    schema = Schema(label_name, tuple(out))
    return Dataset(name, schema, splits[0], splits[1], splits[2], dict(info or {}))
