from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import recsearch.data as rd
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError


def _frame(n: int = 200, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "y": rng.integers(0, 2, n),
            "user": rng.choice(["u1", "u2", "u3", "u4"], n, p=[0.5, 0.3, 0.15, 0.05]),
            "item": rng.integers(0, 50, n),
            "price": rng.random(n),
            "tags": ["a|b", "b", "c|a|d", ""] * (n // 4),
            "ts": rng.permutation(n),
        }
    )


def test_from_frame_encodes_by_training_frequency() -> None:
    df = _frame()
    ds = rd.from_frame(df, label="y", categorical=["user", "item"], numeric=["price"], seed=1)
    assert ds.schema.names == ("user", "item", "price")
    user = ds.schema["user"]
    assert user.vocab_size == 5  # four values plus OOV
    # index 1 is the most frequent training value, counts never increase with the index
    assert np.all(np.diff(user.frequencies[1:]) <= 0)
    assert user.frequencies.sum() == len(ds.train)
    # same raw value, same index, across splits
    train_idx, valid_idx, _ = rd.random_split(len(df), seed=1)
    raw = df["user"].to_numpy()
    mapping = dict(zip(raw[train_idx], ds.train.categorical[:, 0], strict=True))
    for value, code in zip(raw[valid_idx], ds.valid.categorical[:, 0], strict=True):
        assert mapping.get(value, 0) == code
    assert np.allclose(ds.train.numeric[:, 0], df["price"].to_numpy()[train_idx])
    assert np.array_equal(ds.train.label, df["y"].to_numpy()[train_idx].astype(np.float32))


def test_values_unseen_in_training_and_rare_values_map_to_oov() -> None:
    df = pd.DataFrame({"y": [0, 1] * 10, "c": ["a"] * 15 + ["b"] * 3 + ["z", "w"]})
    ds = rd.from_frame(
        df.assign(t=range(20)), label="y", categorical=["c"], timestamp="t",
        fractions=(0.9, 0.05, 0.05),
    )  # fmt: skip
    # "w" only appears in the test row: OOV; "z" (valid) too
    assert ds.test.categorical[0, 0] == 0 and ds.valid.categorical[0, 0] == 0
    assert ds.schema["c"].vocab_size == 3
    ds2 = rd.from_frame(
        df.assign(t=range(20)), label="y", categorical=["c"], timestamp="t",
        fractions=(0.9, 0.05, 0.05), min_count=4,
    )  # fmt: skip
    assert ds2.schema["c"].vocab_size == 2  # only "a" kept
    assert set(np.unique(ds2.train.categorical)) == {0, 1}
    assert ds2.schema["c"].frequencies.tolist() == [3, 15]  # train: 15 "a", 3 rare "b"


def test_multi_hot_strings_and_lists() -> None:
    df = _frame(8)
    ds = rd.from_frame(df, label="y", multi_hot=["tags"], fractions=(1.0, 0.0, 0.0))
    tags = ds.schema["tags"]
    assert tags.vocab_size == 5
    m = ds.train.multi_hot[0]
    assert m.shape == (8, 3)
    assert ((m > 0).sum(axis=1)).tolist() == [2, 1, 3, 0] * 2
    assert tags.frequencies[0] == 0 and tags.frequencies.sum() == 12
    lists = df.assign(tags=df["tags"].str.split("|").map(lambda v: [t for t in v if t]))
    ds2 = rd.from_frame(lists, label="y", multi_hot=["tags"], fractions=(1.0, 0.0, 0.0))
    assert np.array_equal(ds2.train.multi_hot[0], m)
    capped = rd.from_frame(
        df, label="y", multi_hot=["tags"], fractions=(1.0, 0.0, 0.0), multi_hot_max_len=2
    )
    assert capped.train.multi_hot[0].shape == (8, 2)


def test_temporal_split_by_timestamp_column() -> None:
    df = _frame()
    ds = rd.from_frame(df, label="y", categorical=["user"], numeric=["ts"], timestamp="ts")
    assert ds.train.numeric[:, 0].max() < ds.valid.numeric[:, 0].min()
    assert ds.valid.numeric[:, 0].max() < ds.test.numeric[:, 0].min()


def test_csv_and_parquet_through_load(tmp_path: Path) -> None:
    df = _frame()
    csv = tmp_path / "clicks.csv"
    df.to_csv(csv, index=False)
    pq = tmp_path / "clicks.parquet"
    df.to_parquet(pq)
    opts = dict(label="y", categorical=["user", "item"], numeric=["price"], multi_hot=["tags"])
    a = rd.load(str(csv), **opts)
    b = rd.load(pq, **opts)
    c = rd.from_frame(df, **opts)
    assert a.name == "clicks.csv"
    for x in (a, b):
        assert x.schema.names == c.schema.names
        assert [f.vocab_size for f in x.schema] == [f.vocab_size for f in c.schema]
        assert np.array_equal(x.train.categorical, c.train.categorical)
        assert np.allclose(x.train.numeric, c.train.numeric)
        assert np.array_equal(x.test.multi_hot[0], c.test.multi_hot[0])


def test_tsv_suffix_and_missing_values(tmp_path: Path) -> None:
    p = tmp_path / "clicks.tsv"
    p.write_text("y\tc\tx\n" + "1\ta\t1.5\n0\t\t\n1\ta\t2\n0\tb\t\n" * 5)
    with pytest.raises(DataError, match=r"tsv: line 3, column 'x': numeric field is empty"):
        rd.load(p, label="y", categorical=["c"], numeric=["x"], use_cache=False)
    ds = rd.load(p, label="y", categorical=["c"], numeric=["x"], fractions=(1.0, 0.0, 0.0),
                 numeric_fill=0)  # fmt: skip
    assert ds.schema["c"].vocab_size == 4  # a, b and the empty value
    assert sorted(np.unique(ds.train.numeric).tolist()) == [0.0, 1.5, 2.0]


def test_parquet_nan_and_csv_nan_follow_one_rule(tmp_path: Path) -> None:
    """Issue 14 #7: a Parquet float NaN became 0 silently while a CSV "NaN" was refused."""
    df = pd.DataFrame({"y": [0, 1] * 10, "c": list("ab") * 10, "x": [1.0, np.nan] + [2.0] * 18})
    df.to_parquet(tmp_path / "n.parquet")
    df.assign(x=df["x"].map(lambda v: "NaN" if np.isnan(v) else str(v))).to_csv(
        tmp_path / "n.csv", index=False
    )
    with pytest.raises(DataError, match=r"n\.parquet: row 1, column 'x': numeric field holds NaN; "
                       r"pass numeric_fill=VALUE"):  # fmt: skip
        rd.load(tmp_path / "n.parquet", label="y", categorical=["c"], numeric=["x"])
    with pytest.raises(DataError, match=r"n\.csv: line 3, column 'x': numeric field holds 'NaN'; "
                       r"pass numeric_fill=VALUE"):  # fmt: skip
        rd.load(tmp_path / "n.csv", label="y", categorical=["c"], numeric=["x"])
    for name in ("n.parquet", "n.csv"):
        ds = rd.load(tmp_path / name, label="y", categorical=["c"], numeric=["x"],
                     numeric_fill=-1, fractions=(1.0, 0.0, 0.0))  # fmt: skip
        assert sorted(np.unique(ds.train.numeric).tolist()) == [-1.0, 1.0, 2.0], name


def test_a_10_mb_csv_field_loads(tmp_path: Path) -> None:
    """Issue 14 #7: `_csv.Error: field larger than field limit` with no file or line."""
    big = "x" * (10 * 1024 * 1024)
    p = tmp_path / "big.csv"
    p.write_text("y,c,d\n" + "".join(f"{i % 2},a{i % 3},{big if i == 7 else 's'}\n"
                                      for i in range(40)))  # fmt: skip
    ds = rd.load(p, label="y", categorical=["c", "d"], use_cache=False)
    assert len(ds) == 40 and ds.schema["d"].vocab_size <= 3


def test_non_utf8_bytes_name_line_and_column_from_one(tmp_path: Path) -> None:
    p = tmp_path / "latin.csv"
    p.write_bytes(b"y,c,d\n" + b"0,a,b\n1,a,b\n" * 10 + b"1,b,caf\xe9\n0,a,b\n")
    with pytest.raises(DataError, match=r"latin\.csv: line 22, column 3 \(character 8 of the "
                       r"line\): byte 0xe9 is not UTF-8; .* encoding="):  # fmt: skip
        rd.load(p, label="y", categorical=["c", "d"], use_cache=False)
    ds = rd.load(p, label="y", categorical=["c", "d"], encoding="latin-1", use_cache=False)
    assert len(ds) == 22


# --- bad input ---------------------------------------------------------------------------------


def _csv(tmp_path: Path, text: str, name: str = "bad.csv") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"nope\.csv: no such file"):
        rd.load(tmp_path / "nope.csv", label="y", categorical=["c"])
    with pytest.raises(DataError, match="no such file"):
        rd.read_file(tmp_path / "nope.csv", label="y", categorical=["c"])


def test_unknown_name_is_a_missing_file() -> None:
    with pytest.raises(DataError, match="not a data set name"):
        rd.load("movielens-1m")


def test_empty_file_and_header_only(tmp_path: Path) -> None:
    with pytest.raises(DataError, match=r"empty\.csv: the file is empty"):
        rd.load(_csv(tmp_path, "", "empty.csv"), label="y", categorical=["c"])
    with pytest.raises(DataError, match=r"head\.csv: .*no data rows"):
        rd.load(_csv(tmp_path, "y,c\n", "head.csv"), label="y", categorical=["c"])


def test_missing_label_and_field_columns(tmp_path: Path) -> None:
    p = _csv(tmp_path, "y,c\n1,a\n0,b\n")
    with pytest.raises(DataError, match=r"bad\.csv: missing label column 'click'"):
        rd.load(p, label="click", categorical=["c"])
    with pytest.raises(DataError, match=r"bad\.csv: missing numeric column 'price'"):
        rd.load(p, label="y", categorical=["c"], numeric=["price"])
    with pytest.raises(DataError, match="missing timestamp column 't'"):
        rd.from_frame(
            pd.DataFrame({"y": [1], "c": ["a"]}), label="y", categorical=["c"], timestamp="t"
        )


def test_non_binary_label_names_line_and_column(tmp_path: Path) -> None:
    p = _csv(tmp_path, "y,c\n1,a\n0,b\n2,c\n")
    with pytest.raises(
        DataError, match=r"bad\.csv: line 4, column 'y': label must be 0 or 1, got '2'"
    ):
        rd.load(p, label="y", categorical=["c"])
    with pytest.raises(DataError, match=r"row 1, column 'y'"):
        rd.from_frame(pd.DataFrame({"y": [1, -1], "c": ["a", "b"]}), label="y", categorical=["c"])


def test_malformed_lines_name_the_line(tmp_path: Path) -> None:
    long = _csv(tmp_path, "y,c\n1,a\n0,b,extra\n", "long.csv")
    with pytest.raises(DataError, match=r"long\.csv: .*line 3: expected 2 columns, found 3"):
        rd.load(long, label="y", categorical=["c"])
    short = _csv(tmp_path, "y,c,d\n1,a,x\n0,b,y\n1,c\n", "short.csv")
    with pytest.raises(DataError, match=r"short\.csv: line 4: expected 3 columns, found 2"):
        rd.load(short, label="y", categorical=["c", "d"])


def test_non_numeric_value_in_numeric_field(tmp_path: Path) -> None:
    p = _csv(tmp_path, "y,x\n1,1.0\n0,abc\n")
    with pytest.raises(DataError, match=r"line 3, column 'x'"):
        rd.load(p, label="y", numeric=["x"])


def test_field_named_twice(tmp_path: Path) -> None:
    p = _csv(tmp_path, "y,c\n1,a\n0,b\n")
    with pytest.raises(DataError, match="field 'c' is named twice"):
        rd.load(p, label="y", categorical=["c"], numeric=["c"])
    with pytest.raises(DataError, match="field 'c' is named twice"):
        rd.load(p, label="y", categorical=["c", "c"])
    with pytest.raises(DataError, match="field 'y' is named twice"):
        rd.load(p, label="y", categorical=["y"])


def test_bad_options() -> None:
    df = _frame(20)
    with pytest.raises(InvalidParameterError, match="sequence of column names"):
        rd.from_frame(df, label="y", categorical="user")
    with pytest.raises(InvalidParameterError, match="min_count"):
        rd.from_frame(df, label="y", categorical=["user"], min_count=0)
    with pytest.raises(InvalidParameterError, match="temporal split needs"):
        rd.from_frame(df, label="y", categorical=["user"], split="temporal")
    with pytest.raises(DataError, match="no fields"):
        rd.from_frame(df, label="y")


def test_load_rejects_unknown_or_missing_options(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match=r"load\('synthetic'\).*'rows'.*n_rows"):
        rd.load("synthetic", rows=10)
    p = _csv(tmp_path, "y,c\n1,a\n")
    with pytest.raises(InvalidParameterError, match="missing a required argument: 'label'"):
        rd.load(p, categorical=["c"])


def test_sequence_columns_keep_order_and_the_most_recent(tmp_path) -> None:
    from recsearch.data.frame import from_frame
    from recsearch.data.frame import read_file
    from recsearch.errors import DataError

    hist = [["a", "b", "c"], [], ["c", "a"], ["b"]] * 25
    df = pd.DataFrame({"y": [0, 1] * 50, "u": list("wxyz") * 25, "h": hist})
    ds = from_frame(df, label="y", categorical=["u"], sequence=["h"], sequence_max_len=2,
                    fractions=(1.0, 0.0, 0.0))
    assert ds.schema["h"].kind == "sequence" and ds.schema.sparse_names == ("u",)
    (seq,) = ds.train.sequence
    assert seq.shape == (100, 2)
    # Each row's history by its own user value (u and h repeat together with period 4).
    by_u: dict[int, set[tuple[int, int]]] = {}
    for c, r in zip(ds.train.categorical[:, 0], seq, strict=True):
        by_u.setdefault(int(c), set()).add(tuple(int(v) for v in r))
    assert all(len(v) == 1 for v in by_u.values()), "one history per user value"
    got = sorted(next(iter(v)) for v in by_u.values())
    b = next(r for r in got if r[0] == 0 and r[1] > 0)[1]  # 'z': [pad, b]
    assert (0, 0) in got and (0, b) in got
    c, a = next(r for r in got if r[0] not in (0, b))  # "y": [c, a]
    assert (b, c) in got, "the two most recent of a, b, c, oldest first"
    del a
    # CSV: '|'-joined strings, the same encoding.
    p = tmp_path / "s.csv"
    df.assign(h=["|".join(h) for h in hist]).to_csv(p, index=False)
    csv = read_file(p, label="y", categorical=["u"], sequence=["h"], sequence_max_len=2,
                    fractions=(1.0, 0.0, 0.0), use_cache=False)
    assert np.array_equal(csv.train.sequence[0], seq)
    bad = df.assign(h=[3.5] + hist[1:])
    with pytest.raises(DataError, match=r"row 0, column 'h'.*sequence"):
        from_frame(bad, label="y", categorical=["u"], sequence=["h"])
