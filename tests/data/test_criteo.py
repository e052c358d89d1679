from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import recsearch.data as rd
from recsearch.data._criteo import bucketize
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError


def test_bucketize_follows_the_usual_rule() -> None:
    x = np.array([-2, 0, 1, 2, 3, 10, 1000, -(2**62)], dtype=np.int64)
    out = bucketize(x)
    assert out[:4].tolist() == [-2, 0, 1, 2]
    assert out[4:7].tolist() == [math.floor(math.log(v) ** 2) for v in (3, 10, 1000)]
    assert out[7] == -(2**62)  # missing stays a token of its own


def test_loads_39_sparse_fields(make_criteo: Callable[..., Path]) -> None:
    p = make_criteo(400)
    ds = rd.load("criteo", path=p, min_count=1)
    assert len(ds) == 400 and (len(ds.train), len(ds.valid), len(ds.test)) == (320, 40, 40)
    assert len(ds.schema.sparse) == 39 and not ds.schema.numeric
    assert ds.schema.names[:2] == ("I1", "I2") and ds.schema.names[-1] == "C26"
    assert ds.train.categorical.shape == (320, 39) and ds.train.numeric.shape == (320, 0)
    lines = p.read_text().splitlines()
    labels = np.array([float(line.split("\t")[0]) for line in lines], dtype=np.float32)
    train, _, _ = rd.random_split(400, seed=0)
    assert np.array_equal(ds.train.label, labels[train])
    for j, f in enumerate(ds.schema.sparse):
        col = ds.train.categorical[:, j]
        assert col.max() < f.vocab_size
        assert np.array_equal(f.frequencies, np.bincount(col, minlength=f.vocab_size))
    # with min_count=1 every training value is in the vocabulary: no OOV in train
    assert (ds.train.categorical > 0).all()


def test_equal_tokens_share_an_index(tmp_path: Path, lines: SimpleNamespace) -> None:
    rows = lines.criteo(50)
    rows = [r.split("\t") for r in rows]
    # rows 0..2 get I1 = 3, 4 and "" ; floor(log(3)^2)=1 and floor(log(4)^2)=1 share a bucket
    rows[0][1], rows[1][1], rows[2][1] = "3", "4", ""
    rows[3][1] = "1"  # the value itself, token 1, collides with the bucket 1 (usual rule)
    p = lines.write(tmp_path / "c.txt", ["\t".join(r) for r in rows])
    ds = rd.criteo(p, min_count=1, fractions=(1.0, 0.0, 0.0))
    i1 = ds.train.categorical[:, 0]
    assert i1[0] == i1[1] == i1[3] and i1[2] != i1[0]


def test_min_count_maps_rare_values_to_oov(make_criteo: Callable[..., Path]) -> None:
    p = make_criteo(400)
    loose = rd.criteo(p, min_count=1)
    strict = rd.criteo(p, min_count=10)
    for fl, fs in zip(loose.schema.sparse, strict.schema.sparse, strict=True):
        assert fs.vocab_size <= fl.vocab_size
        kept = fl.frequencies[1:] >= 10
        assert fs.vocab_size == 1 + int(kept.sum())
        assert fs.frequencies[0] == fl.frequencies[1:][~kept].sum()
    assert (strict.train.categorical == 0).any()


def test_nrows_and_temporal_split(make_criteo: Callable[..., Path]) -> None:
    p = make_criteo(300)
    head = rd.criteo(p, nrows=100, min_count=1, split="temporal")
    assert len(head) == 100
    labels = [float(line.split("\t")[0]) for line in p.read_text().splitlines()[:100]]
    got = np.concatenate([head.train.label, head.valid.label, head.test.label])
    assert got.tolist() == labels


def test_reproducible(make_criteo: Callable[..., Path]) -> None:
    p = make_criteo(200)
    a = rd.criteo(p, min_count=2, use_cache=False)
    b = rd.criteo(p, min_count=2, use_cache=False)
    assert np.array_equal(a.train.categorical, b.train.categorical)
    assert np.array_equal(a.test.categorical, b.test.categorical)


# --- bad input ---------------------------------------------------------------------------------


def _bad(tmp_path: Path, lines: SimpleNamespace, edit: Callable[[list[list[str]]], None]) -> Path:
    rows = [r.split("\t") for r in lines.criteo(30)]
    edit(rows)
    return lines.write(tmp_path / "bad.txt", ["\t".join(r) for r in rows])


def test_missing_and_empty_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"none\.txt: no such file"):
        rd.criteo(tmp_path / "none.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(DataError, match=r"empty\.txt: the file is empty"):
        rd.criteo(tmp_path / "empty.txt")
    with pytest.raises(InvalidParameterError, match="path="):
        rd.load("criteo")


def test_malformed_line(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _bad(tmp_path, lines, lambda rows: rows[11].pop())
    with pytest.raises(DataError, match=r"bad\.txt: line 12: expected 40 columns, found 39"):
        rd.criteo(p)
    p = _bad(tmp_path, lines, lambda rows: rows[4].append("x"))
    with pytest.raises(DataError, match=r"bad\.txt: line 5: expected 40 columns, found 41"):
        rd.criteo(p)


def test_non_binary_label(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _bad(tmp_path, lines, lambda rows: rows[7].__setitem__(0, "2"))
    with pytest.raises(
        DataError, match=r"bad\.txt: line 8, column 1 \(label\): label must be 0 or 1"
    ):
        rd.criteo(p)


def test_non_integer_in_integer_column(tmp_path: Path, lines: SimpleNamespace) -> None:
    p = _bad(tmp_path, lines, lambda rows: rows[20].__setitem__(3, "abc"))
    with pytest.raises(
        DataError, match=r"bad\.txt: line 21, column 4 \(I3\): expected an integer"
    ):
        rd.criteo(p)


def test_bad_options(make_criteo: Callable[..., Path]) -> None:
    p = make_criteo(20)
    with pytest.raises(InvalidParameterError, match="nrows"):
        rd.criteo(p, nrows=0)
    with pytest.raises(InvalidParameterError, match="min_count"):
        rd.criteo(p, min_count=0)


def test_numeric_keep_keeps_the_integer_features_numeric(
    make_criteo: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSEARCH_HOME", str(tmp_path / "home"))
    p = make_criteo(200)
    buck = rd.criteo(p, min_count=1)
    keep = rd.criteo(p, min_count=1, numeric="keep")
    again = rd.criteo(p, min_count=1, numeric="keep")  # from the cache
    assert [f.name for f in keep.schema.numeric] == [f"I{i}" for i in range(1, 14)]
    assert len(keep.schema.sparse) == 26 and keep.train.numeric.shape == (160, 13)
    assert np.array_equal(keep.train.categorical, buck.train.categorical[:, 13:])
    raw = np.array([[int(v) if v else 0 for v in line.split("\t")[1:14]]
                    for line in p.read_text().splitlines()], dtype=np.float64)
    train, _, _ = rd.random_split(200, seed=0)
    expected = np.sign(raw[train]) * np.log1p(np.abs(raw[train]))
    assert np.allclose(keep.train.numeric, expected, atol=1e-5)
    q = keep.schema["I1"].quantiles
    assert q.shape == (101,) and q[0] == keep.train.numeric[:, 0].min()
    assert np.array_equal(again.schema["I1"].quantiles, q)
    with pytest.raises(InvalidParameterError, match="numeric"):
        rd.criteo(p, numeric="drop")  # type: ignore[arg-type]
