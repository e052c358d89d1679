from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import recsearch.data as rd
from recsearch.errors import DataError


def test_loads_fields_and_splits_hour(make_avazu: Callable[..., Path]) -> None:
    p = make_avazu(300)
    ds = rd.load("avazu", path=p)
    assert ds.schema.label == "click"
    names = ds.schema.names
    assert names[:3] == ("hour_of_day", "weekday", "C1")
    assert "id" not in names and "hour" not in names and "click" not in names
    assert len(names) == 23 and all(f.kind == "categorical" for f in ds.schema)
    assert ds.schema["weekday"].vocab_size == 4  # three days plus OOV
    assert ds.schema["hour_of_day"].vocab_size <= 25

    rows = [line.split(",") for line in p.read_text().splitlines()[1:]]
    hours = np.array([int(r[2][-2:]) for r in rows])
    days = np.array(
        [dt.date(2000 + int(r[2][:2]), int(r[2][2:4]), int(r[2][4:6])).weekday() for r in rows]
    )
    train, _, _ = rd.random_split(300, seed=0)
    # equal hours share an index, different hours do not
    codes = ds.train.categorical[:, 0]
    for h in np.unique(hours[train]):
        assert len(np.unique(codes[hours[train] == h])) == 1
    assert len(np.unique(codes)) == len(np.unique(hours[train]))
    wd = ds.train.categorical[:, 1]
    for d in np.unique(days[train]):
        assert len(np.unique(wd[days[train] == d])) == 1
    assert np.array_equal(ds.train.label, np.array([float(r[1]) for r in rows])[train])


def test_temporal_split_and_nrows(make_avazu: Callable[..., Path]) -> None:
    p = make_avazu(300)
    ds = rd.avazu(p, split="temporal", nrows=200)
    assert len(ds) == 200
    rows = [line.split(",") for line in p.read_text().splitlines()[1:201]]
    order = np.argsort([int(r[2]) for r in rows], kind="stable")
    labels = np.array([float(r[1]) for r in rows])[order]
    assert np.array_equal(np.concatenate([ds.train.label, ds.valid.label, ds.test.label]), labels)


def test_min_count(make_avazu: Callable[..., Path]) -> None:
    p = make_avazu(300)
    ds = rd.avazu(p, min_count=5)
    site = ds.schema["site_id"]
    assert (site.frequencies[1:] >= 5).all() and site.frequencies[0] > 0


# --- bad input ---------------------------------------------------------------------------------


def _write(
    tmp_path: Path, lines: SimpleNamespace, edit: Callable[[list[list[str]]], None]
) -> Path:
    rows = [line.split(",") for line in lines.avazu(30)]
    edit(rows)
    return lines.write(tmp_path / "bad.csv", [",".join(r) for r in rows])


def test_missing_label_column(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _write(tmp_path, lines, lambda rows: rows[0].__setitem__(1, "clicked"))
    with pytest.raises(DataError, match=r"bad\.csv: line 1: missing column 'click'"):
        rd.avazu(p)


def test_column_named_twice(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _write(tmp_path, lines, lambda rows: rows[0].__setitem__(4, "C1"))
    with pytest.raises(DataError, match=r"bad\.csv: line 1, column 5: column 'C1' is named twice"):
        rd.avazu(p)


def test_malformed_line(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _write(tmp_path, lines, lambda rows: rows[9].pop())
    with pytest.raises(DataError, match=r"bad\.csv: line 10: expected 24 columns, found 23"):
        rd.avazu(p)


def test_non_binary_label(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _write(tmp_path, lines, lambda rows: rows[5].__setitem__(1, "yes"))
    with pytest.raises(DataError, match=r"bad\.csv: line 6, column 2 \(click\): label must be"):
        rd.avazu(p)


def test_bad_hour(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _write(tmp_path, lines, lambda rows: rows[3].__setitem__(2, "14103299"))
    with pytest.raises(DataError, match=r"bad\.csv: line 4, column 3 \(hour\): expected YYMMDDHH"):
        rd.avazu(p)


def test_header_only_and_empty(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = lines.write(tmp_path / "head.csv", lines.avazu(0))
    with pytest.raises(DataError, match=r"head\.csv: the file has a header but no data rows"):
        rd.avazu(p)
    (tmp_path / "empty.csv").write_text("")
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        rd.avazu(tmp_path / "empty.csv")
