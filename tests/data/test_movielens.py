from __future__ import annotations

import datetime as dt
import subprocess
import zipfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

import recsearch.data as rd
from recsearch.data import _movielens
from recsearch.errors import DataError

FIELDS = (
    "user_id", "item_id", "age", "gender", "occupation", "zip_prefix", "release_year", "hour",
    "weekday", "genres",
)  # fmt: skip


def _arrays(ds: rd.Dataset) -> list[np.ndarray]:
    out = []
    for s in (ds.train, ds.valid, ds.test):
        out += [s.categorical, s.label, *s.multi_hot]
    return out


def test_grouplens_and_atomic_formats_agree(tmp_path: Path, ml: SimpleNamespace) -> None:
    tables = ml.tables(400)
    gl = rd.movielens_100k(ml.grouplens(tmp_path / "gl" / "ml-100k", tables))
    at = rd.load("movielens-100k", path=ml.atomic(tmp_path / "atomic", tables))
    assert gl.info["format"] == "grouplens" and at.info["format"] == "atomic"
    assert gl.schema.names == at.schema.names == FIELDS
    assert [f.vocab_size for f in gl.schema] == [f.vocab_size for f in at.schema]
    assert all(np.array_equal(a, b) for a, b in zip(_arrays(gl), _arrays(at), strict=True))
    # the folder above ml-100k works too, and load() takes a folder
    above = rd.movielens_100k(tmp_path / "gl", use_cache=False)
    assert np.array_equal(above.train.categorical, gl.train.categorical)
    assert np.array_equal(rd.load(tmp_path / "gl").test.label, gl.test.label)


def test_label_and_derived_fields(tmp_path: Path, ml: SimpleNamespace) -> None:
    tables = ml.tables(300, seed=2)
    ds = rd.movielens_100k(ml.grouplens(tmp_path / "ml", tables), fractions=(1.0, 0.0, 0.0))
    ratings = tables["ratings"]
    assert len(ds) == len(ratings)
    assert ds.train.label.tolist() == [float(r >= 4) for _, _, r, _ in ratings]
    assert [f.kind for f in ds.schema] == ["categorical"] * 9 + ["multi_hot"]
    assert ds.schema["gender"].vocab_size == 3
    assert ds.schema["genres"].vocab_size <= 20
    col = {name: j for j, name in enumerate(ds.schema.names[:9])}
    hours = [dt.datetime.fromtimestamp(t, dt.UTC).hour for *_, t in ratings]
    weekdays = [dt.datetime.fromtimestamp(t, dt.UTC).weekday() for *_, t in ratings]
    for key, raw in (("hour", hours), ("weekday", weekdays)):
        codes = ds.train.categorical[:, col[key]]
        pairs = set(zip(raw, codes.tolist(), strict=True))
        assert len(pairs) == len(set(raw)) == len(set(codes.tolist()))  # a bijection
    ages = {u: a for u, a, *_ in tables["users"]}
    buckets = [
        min(np.searchsorted([18, 25, 35, 45, 50, 56], ages[u], side="right"), 6)
        for u, *_ in ratings
    ]
    codes = ds.train.categorical[:, col["age"]]
    assert len(set(zip(buckets, codes.tolist(), strict=True))) == len(set(buckets))
    # number of genres per rating equals the item's genre flags
    items = {i: flags for i, _, _, flags in tables["items"]}
    counts = (ds.train.multi_hot[0] > 0).sum(axis=1)
    assert counts.tolist() == [sum(items[i]) for _, i, _, _ in ratings]


def test_no_path_reads_the_cache_folder(_cache_home: Path, ml: SimpleNamespace) -> None:
    ml.atomic(_cache_home / "ml-100k", ml.tables(200))
    ds = rd.load("movielens-100k")
    assert len(ds) == 200 and ds.info["format"] == "atomic"


def test_no_path_and_no_download_fails(_cache_home: Path) -> None:
    with pytest.raises(DataError, match="download=False"):
        rd.movielens_100k(download=False)


def test_fetch_prefers_the_grouplens_zip(
    tmp_path: Path, _cache_home: Path, ml: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    payload = ml.zip(ml.tables(150), tmp_path)
    monkeypatch.setattr(_movielens, "_grouplens_zip", lambda timeout: payload)

    def no_pip(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("pip must not run when GroupLens answers")

    monkeypatch.setattr(_movielens.subprocess, "run", no_pip)
    ds = rd.movielens_100k()
    assert len(ds) == 150 and ds.info["format"] == "grouplens"
    assert sorted(p.name for p in (_cache_home / "ml-100k").iterdir()) == [
        "u.data", "u.item", "u.user"
    ]  # fmt: skip


def test_fetch_falls_back_to_the_recbole_wheel(
    tmp_path: Path, _cache_home: Path, ml: SimpleNamespace, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = ml.atomic(tmp_path / "src", ml.tables(120))

    def offline(timeout: float) -> bytes:
        raise OSError("network unreachable")

    calls: list[list[str]] = []

    def fake_pip(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(cmd)
        dest = Path(cmd[cmd.index("-d") + 1])
        with zipfile.ZipFile(dest / "recbole-1.2.1-py3-none-any.whl", "w") as zf:
            for name in ("ml-100k.inter", "ml-100k.user", "ml-100k.item"):
                zf.write(src / name, f"recbole/dataset_example/ml-100k/{name}")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(_movielens, "_grouplens_zip", offline)
    monkeypatch.setattr(_movielens.subprocess, "run", fake_pip)
    ds = rd.movielens_100k()
    assert len(ds) == 120 and ds.info["format"] == "atomic"
    assert "recbole==1.2.1" in calls[0] and "--no-deps" in calls[0] and "download" in calls[0]
    # a second load needs neither the network nor pip
    monkeypatch.setattr(_movielens, "_grouplens_zip", None)
    monkeypatch.setattr(_movielens.subprocess, "run", None)
    assert len(rd.movielens_100k()) == 120


def test_fetch_failure_leaves_nothing(_cache_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def offline(timeout: float) -> bytes:
        raise OSError("network unreachable")

    def failing_pip(cmd: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.CompletedProcess(cmd, 1, "", "No matching distribution")

    monkeypatch.setattr(_movielens, "_grouplens_zip", offline)
    monkeypatch.setattr(_movielens.subprocess, "run", failing_pip)
    with pytest.raises(DataError, match="could not obtain MovieLens-100K.*No matching"):
        rd.movielens_100k()
    assert not _cache_home.exists() or not any(_cache_home.iterdir())


# --- bad input ---------------------------------------------------------------------------------


def test_folder_without_files(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such folder"):
        rd.movielens_100k(tmp_path / "nowhere")
    (tmp_path / "x").mkdir()
    with pytest.raises(DataError, match="holds neither"):
        rd.movielens_100k(tmp_path / "x")


def test_bad_grouplens_files(tmp_path: Path, ml: SimpleNamespace) -> None:
    folder = ml.grouplens(tmp_path / "ml", ml.tables(50))
    data = (folder / "u.data").read_text().splitlines()
    data[6] = data[6].rsplit("\t", 1)[0]
    (folder / "u.data").write_text("\n".join(data) + "\n")
    with pytest.raises(DataError, match=r"u\.data: line 7: expected 4 columns, found 3"):
        rd.movielens_100k(folder)
    data[6] = "1\t2\tfive\t881250949"
    (folder / "u.data").write_text("\n".join(data) + "\n")
    with pytest.raises(DataError, match=r"u\.data: line 7, column 'rating': expected a number"):
        rd.movielens_100k(folder)
    (folder / "u.data").write_text("")
    with pytest.raises(DataError, match=r"u\.data: the file is empty"):
        rd.movielens_100k(folder)


def test_bad_atomic_header(tmp_path: Path, ml: SimpleNamespace) -> None:
    folder = ml.atomic(tmp_path / "ml", ml.tables(50))
    text = (folder / "ml-100k.user").read_text().replace("gender:token", "sex:token")
    (folder / "ml-100k.user").write_text(text)
    with pytest.raises(DataError, match=r"ml-100k\.user: missing column 'gender'"):
        rd.movielens_100k(folder)


@pytest.mark.slow
def test_real_movielens_100k() -> None:
    """Needs the network (GroupLens or the package registry) or a filled cache."""
    ds = rd.load("movielens-100k")
    assert len(ds) == 100_000 and len(ds.schema) == 10
    rate = float(np.concatenate([ds.train.label, ds.valid.label, ds.test.label]).mean())
    assert 0.54 < rate < 0.56


def test_history_holds_strictly_earlier_items_of_the_user(
    tmp_path: Path, ml: SimpleNamespace
) -> None:
    tables = ml.tables(300, seed=2)
    ds = rd.movielens_100k(
        ml.grouplens(tmp_path / "ml", tables), fractions=(1.0, 0.0, 0.0), history=3
    )
    assert ds.schema["history"].kind == "sequence" and "history" not in ds.schema.sparse_names
    ratings = tables["ratings"]
    seq, genres = ds.train.sequence
    assert ((seq > 0) == (genres > 0)).all()
    assert seq.shape[1] <= 3
    earlier = [sum(1 for u2, _, _, t2 in ratings if u2 == u and t2 < t) for u, _, _, t in ratings]
    assert ((seq > 0).sum(1)).tolist() == [min(3, k) for k in earlier]
    from recsearch.errors import InvalidParameterError

    with pytest.raises(InvalidParameterError, match="history"):
        rd.movielens_100k(ml.grouplens(tmp_path / "ml2", tables), history=-1)
