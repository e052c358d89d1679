"""The Criteo display-advertising click log (Kaggle/Terabyte TSV format).

Each line: the 0/1 label, 13 integer features ``I1..I13`` and 26 hashed categorical features
``C1..C26``, tab-separated, an empty field meaning missing. Preprocessing (the usual one): an
integer ``x > 2`` becomes the token ``floor(log(x) ** 2)``, any other integer is its own token,
missing is a token of its own; every field, integer ones included, is categorical, so the data
set has 39 sparse fields. With ``numeric="keep"`` the integer features stay numeric instead:
``sign(x) * log(1 + |x|)``, missing as 0 (13 numeric and 26 sparse fields). Vocabularies are
built per field on the training rows; values seen fewer than ``min_count`` times there map to the
OOV index 0. The file is streamed in blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pyarrow as pa

from recsearch.data import _clicklog
from recsearch.data import _stream
from recsearch.data.schema import Dataset
from recsearch.data.splits import DEFAULT_FRACTIONS
from recsearch.errors import DataError

INT_FIELDS = tuple(f"I{i}" for i in range(1, 14))
CAT_FIELDS = tuple(f"C{i}" for i in range(1, 27))
COLUMNS = ("label", *INT_FIELDS, *CAT_FIELDS)


def bucketize(values: np.ndarray) -> np.ndarray:
    """Criteo integer tokens: ``floor(log(x)**2)`` for ``x > 2``, else ``x``; missing kept."""
    out = values.copy()
    big = values > 2
    out[big] = np.floor(np.log(values[big].astype(np.float64)) ** 2).astype(np.int64)
    return out


def log_transform(values: np.ndarray) -> np.ndarray:
    """Kept integer features: ``sign(x) * log(1 + |x|)`` as float32, missing as 0."""
    x = values.astype(np.float64)
    x[values == _stream.MISSING_INT] = 0.0
    return (np.sign(x) * np.log1p(np.abs(x))).astype(np.float32)


def _line_check(parts: list[str]) -> str | None:
    problem = _stream.check_binary_label(parts, index=0, name="label")
    if problem is None:
        for j, name in enumerate(INT_FIELDS, start=1):
            problem = _stream.check_int(parts, index=j, name=name)
            if problem is not None:
                break
    return problem


def criteo(
    path: str | Path,
    *,
    nrows: int | None = None,
    min_count: int = 10,
    split: Literal["random", "temporal"] = "random",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    use_cache: bool = True,
    mmap: bool = False,
    numeric: Literal["bucketize", "keep"] = "bucketize",
) -> Dataset:
    """Load a Criteo TSV file (cached on disk after the first load).

    Args:
        path: The TSV file (no header).
        nrows: Read only the first ``nrows`` lines.
        min_count: Minimum training count of a value to get its own index.
        split: ``random`` (seeded) or ``temporal`` (file order, which is time order in Criteo).
        fractions: Train/valid/test shares.
        seed: Seed of the random split.
        use_cache: Read and write the preprocessed cache.
        mmap: Memory-map the cached arrays instead of reading them.
        numeric: ``bucketize`` the integer features into tokens (categorical fields) or
            ``keep`` them numeric (for numeric-feature embeddings, the ``autodis`` space).

    Example:
        >>> ds = criteo("train.txt", nrows=100_000)  # doctest: +SKIP
        >>> len(ds.schema.sparse)  # doctest: +SKIP
        39
    """
    options = _clicklog.Options(nrows, min_count, split, fractions, seed, numeric)
    return _clicklog.load("criteo", path, _build, options, use_cache=use_cache, mmap=mmap)


def _build(p: Path, options: _clicklog.Options) -> Dataset:
    types = {"label": pa.int64(), **dict.fromkeys(INT_FIELDS, pa.int64())}
    types.update(dict.fromkeys(CAT_FIELDS, pa.string()))
    keep = options.numeric == "keep"
    n_int = 0 if keep else len(INT_FIELDS)
    keys: list[list[np.ndarray]] = [[] for _ in range(n_int + len(CAT_FIELDS))]
    kept: list[list[np.ndarray]] = [[] for _ in INT_FIELDS] if keep else []

    def collect(batch: pa.RecordBatch) -> None:
        for j in range(len(INT_FIELDS)):
            values = _stream.int_values(batch.column(1 + j))
            if keep:
                kept[j].append(log_transform(values))
            else:
                keys[j].append(bucketize(values).view(np.uint64))
        for j in range(len(CAT_FIELDS)):
            col = batch.column(1 + len(INT_FIELDS) + j)
            keys[n_int + j].append(_stream.string_keys(col))

    label, n = _clicklog.stream_labelled(
        p, sep="\t", columns=COLUMNS, header=False, column_types=types, quote=False,
        label_at=0, check=_line_check, nrows=options.nrows, collect=collect,
    )  # fmt: skip
    if n == 0:
        raise DataError(f"{p}: no data rows")
    key_columns = [np.concatenate(parts) for parts in keys]
    keys.clear()  # NOTE: the key parts are concatenated; free them
    return _clicklog.finish(
        "criteo",
        p,
        options,
        label_name="label",
        label=label,
        names=CAT_FIELDS if keep else INT_FIELDS + CAT_FIELDS,
        key_columns=key_columns,
        times=None,
        numeric=list(zip(INT_FIELDS, map(np.concatenate, kept), strict=True)) if keep else [],
    )
