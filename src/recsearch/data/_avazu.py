"""The Avazu click log (Kaggle CSV format).

Header ``id,click,hour,C1,banner_pos,site_id,...,C21``. The ``id`` column is dropped, ``click``
is the label, ``hour`` (``YYMMDDHH``) becomes two fields, ``hour_of_day`` and ``weekday``; every
other column is a categorical field. Vocabularies are built per field on the training rows;
values seen fewer than ``min_count`` times there map to the OOV index 0. The file is streamed.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal
from typing import NoReturn

import numpy as np
import pandas as pd
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

LABEL = "click"
HOUR = "hour"
DROPPED = ("id",)


def split_hour(hour: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``YYMMDDHH`` integers to ``(hour_of_day, weekday)``; a bad value raises ``ValueError(i)``.

    Dates are parsed once per distinct value (a log spans a few hundred hours).
    """
    distinct, inverse = np.unique(hour, return_inverse=True)
    yy, rest = np.divmod(distinct, 1_000_000)
    mm, rest = np.divmod(rest, 10_000)
    dd, hh = np.divmod(rest, 100)
    dates = pd.to_datetime(
        pd.DataFrame({"year": 2000 + yy, "month": mm, "day": dd}), errors="coerce"
    )
    bad = dates.isna().to_numpy() | (hh > 23) | (distinct < 0)
    if bad.any():
        first_bad = np.isin(inverse, np.flatnonzero(bad))
        raise ValueError(int(np.flatnonzero(first_bad)[0]))
    weekday = dates.dt.day_of_week.to_numpy().astype(np.int64)
    return hh[inverse].astype(np.int64), weekday[inverse]


def avazu(
    path: str | Path,
    *,
    nrows: int | None = None,
    min_count: int = 1,
    split: Literal["random", "temporal"] = "random",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    use_cache: bool = True,
    mmap: bool = False,
) -> Dataset:
    """Load an Avazu CSV file (cached on disk after the first load).

    Args:
        path: The CSV file with its header line.
        nrows: Read only the first ``nrows`` data lines.
        min_count: Minimum training count of a value to get its own index.
        split: ``random`` (seeded) or ``temporal`` (by ``hour``; ties keep file order).
        fractions: Train/valid/test shares.
        seed: Seed of the random split.
        use_cache: Read and write the preprocessed cache.
        mmap: Memory-map the cached arrays instead of reading them.

    Example:
        >>> ds = avazu("train.csv", nrows=100_000)  # doctest: +SKIP
        >>> ds.schema.names[:3]  # doctest: +SKIP
        ('hour_of_day', 'weekday', 'C1')
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
        "avazu",
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
    header = _stream.read_header(p, ",")
    for col in (LABEL, HOUR):
        if col not in header:
            raise DataError(f"{p}: line 1: missing column {col!r}; columns are {header}")
    fields = [c for c in header if c not in (LABEL, HOUR, *DROPPED)]
    if not fields:
        raise DataError(f"{p}: line 1: no field columns besides {LABEL!r} and {HOUR!r}")
    label_at, hour_at = header.index(LABEL), header.index(HOUR)

    def line_check(parts: list[str]) -> str | None:
        problem = _stream.check_binary_label(parts, index=label_at, name=LABEL)
        if problem is None:
            problem = _stream.check_int(parts, index=hour_at, name=HOUR)
        return problem

    def fail(cause: BaseException | str) -> NoReturn:
        _stream.raise_located(
            p, sep=",", n_columns=len(header), skip_header=True, check=line_check,
            cause=cause, max_lines=nrows,
        )  # fmt: skip

    types = dict.fromkeys(header, pa.string())
    types[LABEL] = pa.int64()
    types[HOUR] = pa.int64()
    labels: list[np.ndarray] = []
    hours: list[np.ndarray] = []
    keys: list[list[np.ndarray]] = [[] for _ in fields]
    n = 0
    try:
        for batch in _stream.batches(
            p, sep=",", column_names=None, column_types=types, quote=True
        ):
            if nrows is not None and n + batch.num_rows > nrows:
                batch = batch.slice(0, nrows - n)
            label = _stream.int_values(batch.column(label_at))
            if not np.isin(label, (0, 1)).all():
                fail("label must be 0 or 1")
            hour = _stream.int_values(batch.column(hour_at))
            labels.append(label.astype(np.float32))
            hours.append(hour)
            for j, name in enumerate(fields):
                keys[j].append(_stream.string_keys(batch.column(header.index(name))))
            n += batch.num_rows
            if nrows is not None and n >= nrows:
                break
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        fail(exc)
    if n == 0:
        raise DataError(f"{p}: the file has a header but no data rows")
    hour_all = np.concatenate(hours)
    try:
        hour_of_day, weekday = split_hour(hour_all)
    except ValueError as exc:
        i = int(exc.args[0])
        raise DataError(
            f"{p}: line {i + 2}, column {hour_at + 1} ({HOUR}): expected YYMMDDHH,"
            f" got {'' if hour_all[i] == _stream.MISSING_INT else str(hour_all[i])!r}"
        ) from None
    key_columns = [hour_of_day.view(np.uint64), weekday.view(np.uint64)]
    key_columns += [np.concatenate(parts) for parts in keys]
    del keys
    if split == "temporal":
        indices = temporal_split(hour_all, fractions=fractions)
    elif split == "random":
        indices = random_split(n, fractions=fractions, seed=seed)
    else:
        raise InvalidParameterError(
            f"The 'split' parameter must be 'random' or 'temporal'. Got {split!r} instead."
        )
    codes, sizes = _stream.encode_key_columns(key_columns, indices[0], min_count=min_count)
    names = ["hour_of_day", "weekday", *fields]
    schema_fields: list[tuple[str, FieldKind, int]] = [
        (name, "categorical", size) for name, size in zip(names, sizes, strict=True)
    ]
    return assemble(
        "avazu",
        label_name=LABEL,
        fields=schema_fields,
        categorical=codes,
        numeric=np.zeros((n, 0), dtype=np.float32),
        multi_hot=(),
        label=np.concatenate(labels),
        indices=indices,
        info={"source": str(p), "rows": n, "min_count": int(min_count)},
    )
