"""The Criteo display-advertising click log (Kaggle/Terabyte TSV format).

Each line: the 0/1 label, 13 integer features ``I1..I13`` and 26 hashed categorical features
``C1..C26``, tab-separated, an empty field meaning missing. Preprocessing (the usual one): an
integer ``x > 2`` becomes the token ``floor(log(x) ** 2)``, any other integer is its own token,
missing is a token of its own; every field, integer ones included, is categorical, so the data
set has 39 sparse fields. Vocabularies are built per field on the training rows; values seen
fewer than ``min_count`` times there map to the OOV index 0. The file is streamed in blocks.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from typing import NoReturn

import numpy as np
import pyarrow as pa

from recsearch.data import _stream
from recsearch.data._assemble import assemble
from recsearch.data.cache import cached
from recsearch.data.schema import Dataset
from recsearch.data.schema import FieldKind
from recsearch.data.splits import DEFAULT_FRACTIONS
from recsearch.data.splits import random_split
from recsearch.data.splits import temporal_split
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError

INT_FIELDS = tuple(f"I{i}" for i in range(1, 14))
CAT_FIELDS = tuple(f"C{i}" for i in range(1, 27))
COLUMNS = ("label", *INT_FIELDS, *CAT_FIELDS)


def bucketize(values: np.ndarray) -> np.ndarray:
    """Criteo integer tokens: ``floor(log(x)**2)`` for ``x > 2``, else ``x``; missing kept."""
    out = values.copy()
    big = values > 2
    out[big] = np.floor(np.log(values[big].astype(np.float64)) ** 2).astype(np.int64)
    return out


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

    Example:
        >>> ds = criteo("train.txt", nrows=100_000)  # doctest: +SKIP
        >>> len(ds.schema.sparse)  # doctest: +SKIP
        39
    """
    p = _stream.check_file(path)
    if nrows is not None and (int(nrows) != nrows or nrows < 1):
        raise InvalidParameterError(f"The 'nrows' parameter must be >= 1. Got {nrows!r} instead.")
    if int(min_count) != min_count or min_count < 1:
        raise InvalidParameterError(
            f"The 'min_count' parameter must be an integer >= 1. Got {min_count!r} instead."
        )
    options = {
        "nrows": nrows,
        "min_count": min_count,
        "split": split,
        "fractions": list(fractions),
        "seed": seed,
    }
    return cached(
        "criteo",
        [p],
        options,
        lambda: _build(
            p, nrows=nrows, min_count=min_count, split=split, fractions=fractions, seed=seed
        ),
        use_cache=use_cache,
        mmap=mmap,
    )


def _build(
    p: Path,
    *,
    nrows: int | None,
    min_count: int,
    split: str,
    fractions: Sequence[float],
    seed: int,
) -> Dataset:
    types = {"label": pa.int64(), **dict.fromkeys(INT_FIELDS, pa.int64())}
    types.update(dict.fromkeys(CAT_FIELDS, pa.string()))
    labels: list[np.ndarray] = []
    keys: list[list[np.ndarray]] = [[] for _ in range(len(INT_FIELDS) + len(CAT_FIELDS))]
    n = 0

    def fail(cause: BaseException | str) -> NoReturn:
        _stream.raise_located(
            p, sep="\t", n_columns=len(COLUMNS), skip_header=False, check=_line_check,
            cause=cause, max_lines=nrows,
        )  # fmt: skip

    try:
        for batch in _stream.batches(
            p, sep="\t", column_names=COLUMNS, column_types=types, quote=False
        ):
            if nrows is not None and n + batch.num_rows > nrows:
                batch = batch.slice(0, nrows - n)
            label = _stream.int_values(batch.column(0))
            if not np.isin(label, (0, 1)).all():
                fail("label must be 0 or 1")
            labels.append(label.astype(np.float32))
            for j in range(len(INT_FIELDS)):
                keys[j].append(bucketize(_stream.int_values(batch.column(1 + j))).view(np.uint64))
            for j in range(len(CAT_FIELDS)):
                col = batch.column(1 + len(INT_FIELDS) + j)
                keys[len(INT_FIELDS) + j].append(_stream.string_keys(col))
            n += batch.num_rows
            if nrows is not None and n >= nrows:
                break
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        fail(exc)
    if n == 0:
        raise DataError(f"{p}: no data rows")
    label_all = np.concatenate(labels)
    key_columns = [np.concatenate(parts) for parts in keys]
    del keys
    if split == "temporal":
        indices = temporal_split(np.arange(n), fractions=fractions)
    elif split == "random":
        indices = random_split(n, fractions=fractions, seed=seed)
    else:
        raise InvalidParameterError(
            f"The 'split' parameter must be 'random' or 'temporal'. Got {split!r} instead."
        )
    codes, sizes = _stream.encode_key_columns(key_columns, indices[0], min_count=min_count)
    fields: list[tuple[str, FieldKind, int]] = [
        (name, "categorical", size)
        for name, size in zip(INT_FIELDS + CAT_FIELDS, sizes, strict=True)
    ]
    return assemble(
        "criteo",
        label_name="label",
        fields=fields,
        categorical=codes,
        numeric=np.zeros((n, 0), dtype=np.float32),
        multi_hot=(),
        label=label_all,
        indices=indices,
        info={"source": str(p), "rows": n, "min_count": int(min_count)},
    )
