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

import numpy as np
import pandas as pd
import pyarrow as pa

from recsearch.data import _clicklog
from recsearch.data import _stream
from recsearch.data.schema import Dataset
from recsearch.data.splits import DEFAULT_FRACTIONS
from recsearch.errors import DataError

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
    options = _clicklog.Options(nrows, min_count, split, fractions, seed)
    return _clicklog.load("avazu", path, _build, options, use_cache=use_cache, mmap=mmap)


def _build(p: Path, options: _clicklog.Options) -> Dataset:
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

    types = dict.fromkeys(header, pa.string())
    types[LABEL] = pa.int64()
    types[HOUR] = pa.int64()
    hours: list[np.ndarray] = []
    keys: list[list[np.ndarray]] = [[] for _ in fields]

    def collect(batch: pa.RecordBatch) -> None:
        hours.append(_stream.int_values(batch.column(hour_at)))
        for j, name in enumerate(fields):
            keys[j].append(_stream.string_keys(batch.column(header.index(name))))

    label, n = _clicklog.stream_labelled(
        p, sep=",", columns=header, header=True, column_types=types, quote=True,
        label_at=label_at, check=line_check, nrows=options.nrows, collect=collect,
    )  # fmt: skip
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
    keys.clear()  # NOTE: the key parts are concatenated; free them
    return _clicklog.finish(
        "avazu",
        p,
        options,
        label_name=LABEL,
        label=label,
        names=["hour_of_day", "weekday", *fields],
        key_columns=key_columns,
        times=hour_all,
    )
