from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import recsearch.data as rd
from recsearch.data import _criteo
from recsearch.data import cache
from recsearch.errors import DataError


def _entries(home: Path) -> list[str]:
    d = home / "datasets"
    return sorted(p.name for p in d.iterdir()) if d.exists() else []


@pytest.fixture
def count_builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = _criteo._build

    def counting(*args: object, **kwargs: object) -> rd.Dataset:
        calls.append(1)
        return real(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(_criteo, "_build", counting)
    return calls


def _same(a: rd.Dataset, b: rd.Dataset) -> bool:
    return (
        a.schema.names == b.schema.names
        and [f.vocab_size for f in a.schema] == [f.vocab_size for f in b.schema]
        and all(
            np.array_equal(f.frequencies, g.frequencies)
            for f, g in zip(a.schema, b.schema, strict=True)
        )
        and all(
            np.array_equal(getattr(x, k), getattr(y, k))
            for x, y in ((a.train, b.train), (a.valid, b.valid), (a.test, b.test))
            for k in ("categorical", "numeric", "label")
        )
    )


def test_cache_home_follows_env(_cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert cache.cache_home() == _cache_home
    monkeypatch.delenv("RECSEARCH_HOME")
    assert cache.cache_home() == Path.home() / ".cache" / "recsearch"


def test_second_load_hits_the_cache(
    make_criteo: Callable[..., Path], _cache_home: Path, count_builds: list[int]
) -> None:
    p = make_criteo(200)
    first = rd.criteo(p, min_count=2)
    assert len(count_builds) == 1 and len(_entries(_cache_home)) == 1
    second = rd.criteo(p, min_count=2)
    assert len(count_builds) == 1
    assert _same(first, second)
    assert second.info["rows"] == 200
    mapped = rd.criteo(p, min_count=2, mmap=True)
    assert isinstance(mapped.train.categorical, np.memmap) and _same(first, mapped)
    assert len(count_builds) == 1


def test_option_change_misses(
    make_criteo: Callable[..., Path], _cache_home: Path, count_builds: list[int]
) -> None:
    p = make_criteo(200)
    rd.criteo(p, min_count=2)
    rd.criteo(p, min_count=3)
    rd.criteo(p, min_count=2, seed=5)
    assert len(count_builds) == 3 and len(_entries(_cache_home)) == 3
    rd.criteo(p, min_count=2, use_cache=False)
    assert len(count_builds) == 4 and len(_entries(_cache_home)) == 3


def test_edited_file_misses(
    tmp_path: Path, lines: SimpleNamespace, count_builds: list[int]
) -> None:
    rows = lines.criteo(100)
    p = lines.write(tmp_path / "c.txt", rows)
    a = rd.criteo(p, min_count=1)
    st = os.stat(p)
    # same size, same mtime, different head: the content hash catches it
    flipped = ("0" if rows[0][0] == "1" else "1") + rows[0][1:]
    lines.write(p, [flipped, *rows[1:]])
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert os.stat(p).st_size == st.st_size
    b = rd.criteo(p, min_count=1)
    assert len(count_builds) == 2 and not _same(a, b)
    # only the mtime changes: a miss as well
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    rd.criteo(p, min_count=1)
    assert len(count_builds) == 3


def test_failed_load_leaves_nothing(
    tmp_path: Path, lines: SimpleNamespace, _cache_home: Path
) -> None:
    rows = lines.criteo(100)
    rows[60] = "7" + rows[60][1:]
    p = lines.write(tmp_path / "bad.txt", rows)
    with pytest.raises(DataError, match="line 61"):
        rd.criteo(p)
    assert _entries(_cache_home) == []


def test_failed_write_leaves_no_partial_entry(
    make_criteo: Callable[..., Path], _cache_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    p = make_criteo(50)
    real = cache.save_dataset

    def crash(ds: rd.Dataset, directory: Path) -> None:
        real(ds, directory)
        raise OSError("disk full")

    monkeypatch.setattr(cache, "save_dataset", crash)
    ds = rd.criteo(p, min_count=1)  # an unwritable cache never fails the load
    assert len(ds) == 50
    assert _entries(_cache_home) == []  # neither the entry nor its temporary directory


def test_corrupt_entry_is_rebuilt(
    make_criteo: Callable[..., Path], _cache_home: Path, count_builds: list[int]
) -> None:
    p = make_criteo(80)
    a = rd.criteo(p, min_count=1)
    (entry,) = _entries(_cache_home)
    (_cache_home / "datasets" / entry / "train.categorical.npy").write_bytes(b"garbage")
    b = rd.criteo(p, min_count=1)
    assert len(count_builds) == 2 and _same(a, b)
    assert len(rd.criteo(p, min_count=1)) == 80 and len(count_builds) == 2


def test_round_trip_keeps_multi_hot_and_info(tmp_path: Path) -> None:
    ds = rd.synthetic(300, n_multi_hot=2, n_numeric=1, seed=0)
    cache.save_dataset(ds, tmp_path)
    back = cache.load_dataset(tmp_path)
    assert _same(ds, back)
    assert all(
        np.array_equal(x, y) for x, y in zip(ds.test.multi_hot, back.test.multi_hot, strict=True)
    )
    assert back.info["ground_truth"]["field_weights"] == ds.info["ground_truth"]["field_weights"]
    assert [list(p) for p in ds.info["ground_truth"]["pairs"]] == back.info["ground_truth"][
        "pairs"
    ]


def test_file_loads_are_cached(tmp_path: Path, _cache_home: Path) -> None:
    p = tmp_path / "clicks.csv"
    p.write_text("y,c\n" + "1,a\n0,b\n" * 20)
    a = rd.load(p, label="y", categorical=["c"])
    assert [e.split("-")[0] for e in _entries(_cache_home)] == ["file"]
    b = rd.load(p, label="y", categorical=["c"])
    assert _same(a, b)
