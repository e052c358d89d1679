"""Checks of user-supplied sequence columns: cell types and, when given, their timestamps.

A sequence cell is a list of ids, oldest first (Parquet lists, frames), or a ``sep``-joined
string (CSV). ``from_frame(sequence_time={"clicks": "click_ts"})`` names a column of per-item
timestamps for a sequence column: the same shape of cell, as many entries as the items, numbers
or dates, non-decreasing. Every violation is a :class:`recsearch.errors.DataError` naming the
source, the line (CSV: the file line) or row (frames, Parquet) and the column.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence

import numpy as np
import pandas as pd

from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError


def _where(i: int, first_line: int | None) -> str:
    return f"line {first_line + i}" if first_line is not None else f"row {i}"


def check_sequence_cells(
    values: pd.Series, *, source: str, column: str, first_line: int | None
) -> None:
    """Raise :class:`DataError` at the first cell neither a list-like, a string nor empty."""
    for i, v in enumerate(values.to_numpy()):
        if v is None or isinstance(v, str | list | tuple | np.ndarray):
            continue
        if isinstance(v, float) and np.isnan(v):
            continue
        raise DataError(
            f"{source}: {_where(i, first_line)}, column {column!r}: a sequence field holds {v!r} "
            f"({type(v).__name__}); give a list of ids, oldest first, or an '|'-joined string"
        )


def check_time_columns(
    sequence_time: Mapping[str, str], *, sequence: Sequence[str], available: Sequence[str],
    source: str,
) -> None:  # fmt: skip
    """Raise for a ``sequence_time`` key that is no sequence field or a column that is absent."""
    if not isinstance(sequence_time, Mapping):
        raise InvalidParameterError(
            "The 'sequence_time' parameter must map sequence columns to their timestamp "
            f"columns, like {{'clicks': 'click_ts'}}. Got {sequence_time!r} instead."
        )
    for seq, col in sequence_time.items():
        if seq not in sequence:
            raise InvalidParameterError(
                f"sequence_time names {seq!r}, which is not among the sequence fields "
                f"{list(sequence)}"
            )
        if col not in available:
            raise DataError(
                f"{source}: missing timestamp column {col!r} of sequence {seq!r}; columns are "
                f"{sorted(map(str, available))}"
            )


def _cells(values: pd.Series, sep: str) -> list[list[object]]:
    out: list[list[object]] = []
    for v in values.to_numpy():
        if isinstance(v, str):
            out.append([t for t in v.split(sep) if t != ""])
        elif isinstance(v, list | tuple | np.ndarray):
            out.append([t for t in v if t is not None and not (isinstance(t, float) and t != t)])
        else:
            out.append([])
    return out


def _as_times(tokens: list[object]) -> np.ndarray:
    """Numbers, or dates (as epoch units) when the first token is no number; NaN: neither."""
    values = pd.Series(tokens, dtype=object)
    numbers = pd.to_numeric(values, errors="coerce")
    if not np.isnan(numbers.iloc[0]):
        return numbers.to_numpy(dtype=np.float64)
    dates = pd.to_datetime(values, errors="coerce", utc=True, format="mixed")
    out = np.full(len(values), np.nan)
    ok = dates.notna().to_numpy()
    out[ok] = dates[ok].astype("int64").to_numpy(dtype=np.float64)
    return out


def check_sequence_times(
    items: pd.Series,
    times: pd.Series,
    *,
    sep: str,
    source: str,
    column: str,
    time_column: str,
    first_line: int | None,
) -> None:
    """Raise :class:`DataError` at the first row whose timestamps do not fit its items.

    Each row's timestamps must be numbers or dates (the column's first one decides which), as
    many as its items, and non-decreasing (a sequence is oldest first).
    """
    check_sequence_cells(times, source=source, column=time_column, first_line=first_line)
    ts_cells = _cells(times, sep)
    counts = np.array([len(c) for c in ts_cells], dtype=np.int64)
    n_items = np.array([len(c) for c in _cells(items, sep)], dtype=np.int64)

    def fail(i: int, why: str) -> DataError:
        return DataError(f"{source}: {_where(i, first_line)}, column {time_column!r}: {why}")

    wrong = np.flatnonzero(counts != n_items)
    if wrong.size:
        i = int(wrong[0])
        raise fail(i, f"{counts[i]} timestamps for the {n_items[i]} items of sequence {column!r}")
    flat = [t for c in ts_cells for t in c]
    if not flat:
        return
    row = np.repeat(np.arange(len(ts_cells)), counts)
    t = _as_times(flat)
    bad = np.flatnonzero(np.isnan(t))
    if bad.size:
        i = int(row[bad[0]])
        raise fail(i, f"the timestamps of sequence {column!r} must be numbers or dates, got "
                      f"{ts_cells[i]!r}")  # fmt: skip
    down = np.flatnonzero((row[1:] == row[:-1]) & (t[1:] < t[:-1]))
    if down.size:
        i = int(row[down[0]])
        k = int(down[0]) - int(np.searchsorted(row, i))  # entry within the row, 0-based
        cell = ts_cells[i]
        raise fail(i, f"the timestamps of sequence {column!r} are not sorted (entry {k + 2}, "
                      f"{str(cell[k + 1])!r}, is earlier than entry {k + 1}, {str(cell[k])!r}); a "
                      "sequence is oldest first")  # fmt: skip
