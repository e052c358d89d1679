"""User-supplied sequence columns: wrong cell types and unsorted timestamps name file, line, column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from recsearch.data.frame import from_frame
from recsearch.data.frame import read_file
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError

HIST = [["a", "b", "c"], [], ["c", "a"], ["b"]] * 10
TIMES = [[1, 2, 2], [], [5, 9], [7]] * 10


def _frame(times: list[list[object]] = TIMES) -> pd.DataFrame:
    return pd.DataFrame(
        {"y": [0, 1] * 20, "u": list("wxyz") * 10, "h": HIST, "h_ts": [list(t) for t in times]}
    )


def _csv(tmp_path: Path, df: pd.DataFrame) -> Path:
    p = tmp_path / "clicks.csv"
    df.assign(
        h=["|".join(map(str, v)) for v in df["h"]], h_ts=["|".join(map(str, v)) for v in df["h_ts"]]
    ).to_csv(p, index=False)
    return p


def _read(p: Path) -> object:
    return read_file(p, label="y", categorical=["u"], sequence=["h"],
                     sequence_time={"h": "h_ts"}, use_cache=False)  # fmt: skip


def test_sorted_timestamps_load_and_leave_the_encoding_unchanged(tmp_path: Path) -> None:
    df = _frame()
    plain = from_frame(df, label="y", categorical=["u"], sequence=["h"])
    timed = from_frame(df, label="y", categorical=["u"], sequence=["h"],
                       sequence_time={"h": "h_ts"})  # fmt: skip
    assert timed.schema.names == plain.schema.names  # the timestamps are no field
    assert np.array_equal(timed.train.sequence[0], plain.train.sequence[0])
    assert len(_read(_csv(tmp_path, df))) == len(df)  # type: ignore[arg-type]
    dates = [[f"2024-01-0{d}" for d in sorted(v)] for v in [[1, 2, 3], [], [4, 5], [6]] * 10]
    from_frame(_frame(dates), label="y", categorical=["u"], sequence=["h"],
               sequence_time={"h": "h_ts"})  # fmt: skip


def test_unsorted_timestamps_name_file_line_and_column(tmp_path: Path) -> None:
    times = [list(t) for t in TIMES]
    times[6] = [9, 5]  # the 7th data row: line 8 of the CSV (the header is line 1)
    p = _csv(tmp_path, _frame(times))
    with pytest.raises(DataError, match=r"clicks\.csv: line 8, column 'h_ts'.*not sorted.*entry 2"):
        _read(p)
    q = tmp_path / "clicks.parquet"
    _frame(times).to_parquet(q)
    with pytest.raises(DataError, match=r"clicks\.parquet: row 6, column 'h_ts'.*not sorted"):
        _read(q)


def test_timestamps_must_match_the_items_and_be_times(tmp_path: Path) -> None:
    short = [list(t) for t in TIMES]
    short[2] = [5]
    with pytest.raises(DataError, match=r"line 4, column 'h_ts': 1 timestamps for the 2 items"):
        _read(_csv(tmp_path, _frame(short)))
    text = [list(t) for t in TIMES]
    text[3] = ["soon"]
    with pytest.raises(DataError, match=r"line 5, column 'h_ts'.*numbers or dates"):
        _read(_csv(tmp_path, _frame(text)))
    with pytest.raises(InvalidParameterError, match="not among the sequence fields"):
        from_frame(_frame(), label="y", categorical=["u"], sequence=["h"],
                   sequence_time={"u": "h_ts"})  # fmt: skip
    with pytest.raises(DataError, match="missing timestamp column 'when'"):
        from_frame(_frame(), label="y", categorical=["u"], sequence=["h"],
                   sequence_time={"h": "when"})  # fmt: skip


def test_a_sequence_cell_of_the_wrong_type_names_file_row_and_column(tmp_path: Path) -> None:
    q = tmp_path / "bad.parquet"
    _frame().assign(h=list(range(40))).to_parquet(q)
    with pytest.raises(DataError, match=r"bad\.parquet: row 0, column 'h'.*sequence field"):
        _read(q)
    times = _frame().assign(h_ts=[3] * 40)
    with pytest.raises(DataError, match=r"row 0, column 'h_ts'"):
        from_frame(times, label="y", categorical=["u"], sequence=["h"],
                   sequence_time={"h": "h_ts"})  # fmt: skip
