"""Vocabulary building and index encoding shared by the tabular loaders.

Values are first turned into 64-bit keys (a hash of the value, or an integer token as is), so
every loader encodes with numpy only. A field's vocabulary is built on the training rows: values
seen at least ``min_count`` times get indices ``1..V-1`` in order of decreasing training count
(ties by first occurrence); everything else, including values never seen in
training, maps to the OOV index 0.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd


def hash_values(values: np.ndarray | pd.Series) -> np.ndarray:
    """Deterministic 64-bit keys of a column's values (strings, numbers, missing)."""
    arr = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if arr.dtype.kind in "iub":
        return arr.astype(np.int64, copy=False).view(np.uint64)
    if arr.dtype.kind not in "OfcmM":
        arr = arr.astype(object)
    return np.asarray(pd.util.hash_array(arr, categorize=True), dtype=np.uint64)


def build_vocab(train_keys: np.ndarray, *, min_count: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Vocabulary of the training keys.

    Returns:
        ``(sorted_keys, index_of_sorted)``: the kept keys in ascending key order and the index
        (``>= 1``) each maps to; ``index_of_sorted`` ranks keys by decreasing training count.
    """
    keys, first, counts = np.unique(train_keys, return_index=True, return_counts=True)
    keep = counts >= max(int(min_count), 1)
    keys, first, counts = keys[keep], first[keep], counts[keep]
    # NOTE: lexsort's last key is primary: count descending, then first training occurrence,
    # so the indices do not depend on how values were keyed (strings or integers).
    order = np.lexsort((first, -counts))
    index_of_sorted = np.empty(keys.shape[0], dtype=np.int64)
    index_of_sorted[order] = np.arange(1, keys.shape[0] + 1, dtype=np.int64)
    return keys, index_of_sorted


def apply_vocab(keys: np.ndarray, vocab: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """Indices of ``keys`` under ``vocab`` (0 for keys outside it), int64."""
    sorted_keys, index_of_sorted = vocab
    if sorted_keys.shape[0] == 0:
        return np.zeros(keys.shape, dtype=np.int64)
    pos = np.searchsorted(sorted_keys, keys)
    np.minimum(pos, sorted_keys.shape[0] - 1, out=pos)
    hit = sorted_keys[pos] == keys
    return np.where(hit, index_of_sorted[pos], 0)


def encode_column(
    keys: np.ndarray, train_index: np.ndarray, *, min_count: int = 1
) -> tuple[np.ndarray, int]:
    """Encode one categorical column: ``(indices, vocab_size)`` with the vocabulary from train.

    Same result as :func:`build_vocab` plus :func:`apply_vocab` up to tie order: equal training
    counts are ordered by first occurrence in the whole column. Uses a hash table (linear time).
    """
    codes, uniques = pd.factorize(keys, sort=False)
    counts = np.bincount(codes[train_index], minlength=uniques.shape[0])
    kept = np.flatnonzero(counts >= max(int(min_count), 1))
    # NOTE: a stable sort on -count keeps first-occurrence order among equal counts.
    ranked = kept[np.argsort(-counts[kept], kind="stable")]
    new_index = np.zeros(uniques.shape[0] + 1, dtype=np.int64)
    new_index[ranked] = np.arange(1, ranked.shape[0] + 1, dtype=np.int64)
    return new_index[codes], int(ranked.shape[0]) + 1


def value_codes(
    row: np.ndarray, keys: np.ndarray, train_mask: np.ndarray, *, min_count: int = 1
) -> tuple[np.ndarray, int]:
    """The index of every exploded value and the vocabulary size, OOV included.

    Index 0: outside the vocabulary that the training rows' values build.
    """
    vocab = build_vocab(keys[train_mask[row]], min_count=min_count)
    return apply_vocab(keys, vocab), int(vocab[0].shape[0]) + 1


def encode_multi_hot(
    row: np.ndarray,
    keys: np.ndarray,
    n_rows: int,
    train_mask: np.ndarray,
    *,
    min_count: int = 1,
    max_len: int | None = None,
) -> tuple[np.ndarray, int, np.ndarray]:
    """Encode exploded multi-hot values into a padded ``(n_rows, L)`` matrix.

    Args:
        row: Row number of each value (non-decreasing).
        keys: Key of each value.
        n_rows: Number of rows.
        train_mask: ``(n_rows,)`` bool, rows whose values build the vocabulary.
        min_count: Minimum training count (counted per value occurrence).
        max_len: Keep at most this many values per row (the first ones); ``None`` keeps all.

    Returns:
        ``(matrix, vocab_size, codes)``: :func:`value_codes`' codes of every value; values outside
        the vocabulary are dropped from the matrix (index 0 is padding).
    """
    codes, size = value_codes(row, keys, train_mask, min_count=min_count)
    keep = codes > 0
    row, idx = row[keep], codes[keep]
    if row.shape[0] == 0:
        return np.zeros((n_rows, 1), dtype=np.int64), size, codes
    starts = np.r_[0, np.flatnonzero(np.diff(row)) + 1]
    lengths = np.diff(np.r_[starts, row.shape[0]])
    position = np.arange(row.shape[0]) - np.repeat(starts, lengths)
    width = int(position.max()) + 1
    if max_len is not None:
        width = min(width, int(max_len))
        sel = position < width
        row, idx, position = row[sel], idx[sel], position[sel]
    out = np.zeros((n_rows, max(width, 1)), dtype=np.int64)
    out[row, position] = idx
    return out, size, codes


def encode_sequence(
    row: np.ndarray,
    keys: np.ndarray,
    n_rows: int,
    train_mask: np.ndarray,
    *,
    min_count: int = 1,
    max_len: int = 50,
) -> tuple[np.ndarray, int, np.ndarray]:
    """Encode exploded, ordered sequence values into a left-padded ``(n_rows, L)`` matrix.

    The most recent ``max_len`` values of each row are kept (the last ones given), oldest first,
    so the last column holds each row's most recent value; values outside the vocabulary are
    dropped and index 0 pads. ``L`` is at most ``max_len`` (1 when every row is empty).

    Args:
        row: Row number of each value (non-decreasing; values of a row in time order).
        keys: Key of each value.
        n_rows: Number of rows.
        train_mask: ``(n_rows,)`` bool, rows whose values build the vocabulary.
        min_count: Minimum training count (counted per value occurrence).
        max_len: Longest kept history.

    Returns:
        ``(matrix, vocab_size, codes)`` as :func:`encode_multi_hot`.
    """
    codes, size = value_codes(row, keys, train_mask, min_count=min_count)
    keep = codes > 0
    row, idx = row[keep], codes[keep]
    if row.shape[0] == 0:
        return np.zeros((n_rows, 1), dtype=np.int64), size, codes
    lengths = np.bincount(row, minlength=n_rows)
    ends = np.cumsum(lengths)
    from_end = np.repeat(ends, lengths) - np.arange(row.shape[0]) - 1  # 0 = most recent
    width = int(min(int(max_len), int(lengths.max())))
    sel = from_end < width
    out = np.zeros((n_rows, max(width, 1)), dtype=np.int64)
    out[row[sel], width - 1 - from_end[sel]] = idx[sel]
    return out, size, codes


def split_tokens(values: pd.Series, sep: str, *, with_values: bool = False) -> Any:
    """Explode a column of ``sep``-joined strings or list-likes into ``(row, key)`` arrays.

    ``with_values`` adds a third array: the tokens themselves (for the vocabularies).
    """
    series = values.reset_index(drop=True)
    is_str = series.map(lambda v: isinstance(v, str))
    if is_str.any() and (is_str | series.isna()).all():
        series = series.where(is_str, "").str.split(sep)
    exploded = series.explode()
    exploded = exploded[exploded.notna()]
    if exploded.shape[0] and exploded.map(lambda v: isinstance(v, str)).all():
        exploded = exploded[exploded.str.len() > 0]
    row = exploded.index.to_numpy(dtype=np.int64)
    if with_values:
        return row, hash_values(exploded.to_numpy()), exploded.to_numpy()
    return row, hash_values(exploded.to_numpy())


def stack_columns(columns: Sequence[np.ndarray], n_rows: int, dtype: type) -> np.ndarray:
    """Columns as an ``(n_rows, len(columns))`` array (``(n_rows, 0)`` when there are none)."""
    if not columns:
        return np.zeros((n_rows, 0), dtype=dtype)
    return np.stack(columns, axis=1).astype(dtype, copy=False)
