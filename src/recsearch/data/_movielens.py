"""MovieLens-100K as a CTR data set (label: rating >= 4).

Reads either the GroupLens ``ml-100k`` folder (``u.data``, ``u.user``, ``u.item``) or RecBole's
atomic files (``ml-100k.inter``, ``ml-100k.user``, ``ml-100k.item``: tab-separated with typed
headers such as ``user_id:token``). Both give the same ten fields: ``user_id``, ``item_id``,
``age`` (bucketed: <18, 18-24, 25-34, 35-44, 45-49, 50-55, 56+), ``gender``, ``occupation``,
``zip_prefix`` (the first ``zip_prefix_len`` characters), ``release_year``, ``genres``
(multi-hot), and the ``hour`` and ``weekday`` (UTC) of the rating.

With ``history=K`` two sequence fields follow: ``history`` holds the item ids the user rated
strictly before the row's timestamp, the most recent ``K``, oldest first (ties in time keep file
order), and ``history_genres`` holds, position by position, the genres of those items, each
item's genre set as one token (``"Comedy+Romance"``, genre names sorted and joined with ``+``).
The two are aligned: a history item outside the training vocabulary (seen in fewer than
``min_count`` training histories) is dropped from both. Ratings never enter either, so no other
row's label leaks into a row; with the random split a history may still hold items rated after
the training rows of other users, so the ``temporal`` split is the realistic setting.

Without a path the files are looked up in ``<cache home>/ml-100k`` (see
:func:`recsearch.data.cache.cache_home`); if absent they are fetched: first the GroupLens zip,
then, when that is unreachable, the atomic files shipped in the ``recbole==1.2.1`` wheel
(``pip download`` only; recbole is never installed or imported).
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import urllib.request
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from recsearch.data import _stream
from recsearch.data.cache import cache_home
from recsearch.data.cache import cached
from recsearch.data.frame import SplitKind
from recsearch.data.frame import from_frame
from recsearch.data.frame import split_indices
from recsearch.data.schema import Dataset
from recsearch.data.splits import DEFAULT_FRACTIONS
from recsearch.data.vocab import ENCODER_INFO
from recsearch.data.vocab import normalize
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError

GROUPLENS_URL = "https://files.grouplens.org/datasets/movielens/ml-100k.zip"
RECBOLE_REQUIREMENT = "recbole==1.2.1"
_RECBOLE_DIR = "recbole/dataset_example/ml-100k/"
GENRES = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
    "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance",
    "Sci-Fi", "Thriller", "War", "Western",
)  # fmt: skip
_AGE_EDGES = (18, 25, 35, 45, 50, 56)
_AGE_LABELS = ("<18", "18-24", "25-34", "35-44", "45-49", "50-55", "56+")
_GROUPLENS = ("u.data", "u.user", "u.item")
_ATOMIC = ("ml-100k.inter", "ml-100k.user", "ml-100k.item")
#: Raw columns a row needs (derive_fields); several names: any one of them.
RAW_COLUMNS = (
    ("user_id",), ("item_id",), ("timestamp",), ("age",), ("gender",), ("occupation",),
    ("zip_code",), ("release_date", "release_year"), ("genres", *GENRES),
)  # fmt: skip
#: Field names in schema order (categorical fields first, then the multi-hot ``genres``).
FIELDS = (
    "user_id", "item_id", "age", "gender", "occupation", "zip_prefix", "release_year",
    "hour", "weekday", "genres",
)  # fmt: skip
#: The sequence fields ``history=K`` adds, in schema order (module docstring).
HISTORY_FIELDS = ("history", "history_genres")


def _find(folder: Path) -> tuple[str, tuple[Path, Path, Path]] | None:
    for d in (folder, folder / "ml-100k"):
        if all((d / f).is_file() for f in _GROUPLENS):
            return "grouplens", tuple(d / f for f in _GROUPLENS)  # type: ignore[return-value]
        if all((d / f).is_file() for f in _ATOMIC):
            return "atomic", tuple(d / f for f in _ATOMIC)  # type: ignore[return-value]
    return None


def _int_column(df: pd.DataFrame, col: str, path: Path, first_line: int) -> np.ndarray:
    values = pd.to_numeric(df[col], errors="coerce")
    bad = values.isna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DataError(
            f"{path}: line {first_line + i}, column {col!r}: expected a number,"
            f" got {df[col].iloc[i]!r}"
        )
    return np.asarray(values.to_numpy())


def _read_grouplens(
    files: tuple[Path, Path, Path],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    data_p, user_p, item_p = files
    data = _stream.read_strings(
        data_p, sep="\t", column_names=("user_id", "item_id", "rating", "timestamp"), quote=False
    )
    users = _stream.read_strings(
        user_p,
        sep="|",
        column_names=("user_id", "age", "gender", "occupation", "zip_code"),
        quote=False,
    )
    item_cols = ("item_id", "title", "release_date", "video_release_date", "url", *GENRES)
    items = _stream.read_strings(
        item_p, sep="|", column_names=item_cols, quote=False, encoding="latin-1"
    )
    flags = items[list(GENRES)].to_numpy() == "1"
    items = pd.DataFrame(
        {
            "item_id": items["item_id"],
            "release_date": items["release_date"],
            "genres": [[g for g, f in zip(GENRES, row, strict=True) if f] for row in flags],
        }
    )
    return data, users, items


def _read_atomic(
    files: tuple[Path, Path, Path],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    frames = []
    need = (
        ("user_id", "item_id", "rating", "timestamp"),
        ("user_id", "age", "gender", "occupation", "zip_code"),
        ("item_id", "release_year", "class"),
    )
    for path, wanted in zip(files, need, strict=True):
        df = _stream.read_strings(path, sep="\t", quote=False)
        df.columns = [str(c).split(":", 1)[0] for c in df.columns]
        for col in wanted:
            if col not in df.columns:
                raise DataError(
                    f"{path}: missing column {col!r} (typed header like '{col}:token');"
                    f" columns are {list(df.columns)}"
                )
        frames.append(df[list(wanted)])
    data, users, items = frames
    items = items.assign(genres=items["class"].str.split()).drop(columns="class")
    return data, users, items


def _raw(kind: str, files: tuple[Path, Path, Path]) -> tuple[pd.DataFrame, np.ndarray]:
    """The joined raw columns (:data:`RAW_COLUMNS`) of every rating, and the ratings."""
    data, users, items = (_read_grouplens if kind == "grouplens" else _read_atomic)(files)
    rating = _int_column(data, "rating", files[0], 1 if kind == "grouplens" else 2)
    ts = _int_column(data, "timestamp", files[0], 1 if kind == "grouplens" else 2)
    for df, p in ((users, files[1]), (items, files[2])):
        dup = df["user_id" if "user_id" in df.columns else "item_id"].duplicated().to_numpy()
        if dup.any():
            raise DataError(f"{p}: id {df.iloc[int(np.flatnonzero(dup)[0]), 0]!r} appears twice")
    raw = data[["user_id", "item_id"]].merge(users, on="user_id", how="left")
    raw = raw.merge(items, on="item_id", how="left")
    raw["timestamp"] = ts
    return raw, rating


def _frame(kind: str, files: tuple[Path, Path, Path], zip_prefix_len: int) -> pd.DataFrame:
    raw, rating = _raw(kind, files)
    frame = derive_fields(raw, zip_prefix_len=zip_prefix_len)
    frame["timestamp"] = raw["timestamp"].to_numpy()
    frame["label"] = (rating >= 4).astype(np.int64)
    return frame


def movielens_100k_rows(n: int = 5, path: str | Path | None = None) -> pd.DataFrame:
    """The first ``n`` ratings as raw rows: what a deployed MovieLens model scores.

    The columns are :data:`RAW_COLUMNS` (``user_id``, ``item_id``, ``timestamp``, ``age``,
    ``gender``, ``occupation``, ``zip_code``, ``release_date`` or ``release_year``, ``genres``);
    no rating. Reads ``path`` or the cache folder (see :func:`movielens_100k`).

    Example:
        >>> model.predict(movielens_100k_rows(5))  # doctest: +SKIP
    """
    folder = cache_home() / "ml-100k" if path is None else Path(path)
    found = _find(folder)
    if found is None:
        raise DataError(f"{folder}: no MovieLens-100K files (run movielens_100k() once)")
    raw, _ = _raw(*found)
    return raw.head(int(n)).reset_index(drop=True)


def _as_id(text: str) -> int | str:
    return int(text) if text.isdigit() else text


def example_rows(vocabularies: dict[str, Sequence[str]], n: int = 5) -> pd.DataFrame:
    """``n`` raw rows (:data:`RAW_COLUMNS`, genre flags) built from known field values."""
    def pick(name: str, i: int, fallback: str) -> str:
        values = [v for v in vocabularies.get(name, ()) if v] or [fallback]
        return values[i % len(values)]

    ages = {"<18": 16, "18-24": 21, "25-34": 30, "35-44": 40, "45-49": 47, "50-55": 52, "56+": 60}
    rows = []
    for i in range(int(n)):
        genre = pick("genres", i, "Drama")
        rows.append({
            "user_id": _as_id(pick("user_id", i, "1")),
            "item_id": _as_id(pick("item_id", i, "1")),
            "timestamp": 874_965_758 + 3_600 * i,
            "age": ages.get(pick("age", i, "25-34"), 30),
            "gender": pick("gender", i, "M"),
            "occupation": pick("occupation", i, "other"),
            "zip_code": (pick("zip_prefix", i, "55") + "00000")[:5],
            "release_date": f"01-Jan-{pick('release_year', i, '1995')}",
            **{g: int(g == genre) for g in GENRES},
        })  # fmt: skip
    return pd.DataFrame(rows)


def _text(column: pd.Series) -> pd.Series:
    return column.map(normalize)


def derive_fields(raw: pd.DataFrame, *, zip_prefix_len: int = 2) -> pd.DataFrame:
    """The ten fields of raw MovieLens rows (the joined ``u.data``/``u.user``/``u.item`` columns).

    The loader and a deployed model both call this, so raw rows become fields the same way:
    ``age`` bucketed, ``zip_prefix`` the first ``zip_prefix_len`` characters of ``zip_code``,
    ``release_year`` the last four characters of ``release_date`` (or ``release_year`` as is),
    ``genres`` a list (or the genre flag columns, ``1`` meaning set), ``hour`` and ``weekday``
    (UTC) of the ``timestamp`` (seconds). :data:`RAW_COLUMNS` lists what a row needs.

    Example:
        >>> row = pd.DataFrame({"user_id": [1], "item_id": [5], "timestamp": [874965758],
        ...     "age": [24], "gender": ["M"], "occupation": ["technician"], "zip_code": ["85711"],
        ...     "release_date": ["01-Jan-1995"], "Comedy": [1]})
        >>> derive_fields(row).loc[0, ["age", "zip_prefix", "release_year"]].tolist()
        ['18-24', '85', '1995']
    """
    age = pd.to_numeric(raw["age"], errors="coerce").to_numpy(dtype=np.float64)
    bucket = np.searchsorted(np.array(_AGE_EDGES), age, side="right")
    labels = np.array(_AGE_LABELS, dtype=object)[np.minimum(bucket, 6)]
    if "release_date" in raw.columns:
        year = _text(raw["release_date"]).str[-4:]
    else:
        year = _text(raw["release_year"])
    if "genres" in raw.columns:
        genres = raw["genres"].map(lambda g: list(g) if isinstance(g, list | tuple) else [])
    else:
        flags = [
            raw[g].map(lambda v: normalize(v) in ("1", "True")).to_numpy()
            if g in raw.columns else np.zeros(len(raw), dtype=bool)
            for g in GENRES
        ]  # fmt: skip
        genres = pd.Series([[g for g, f in zip(GENRES, row, strict=True) if f]
                            for row in zip(*flags, strict=True)] if len(raw) else [])
    ts = pd.to_numeric(raw["timestamp"], errors="coerce").fillna(0).astype(np.int64)
    when = pd.to_datetime(ts.to_numpy(), unit="s", utc=True)
    return pd.DataFrame(
        {
            "user_id": _text(raw["user_id"]),
            "item_id": _text(raw["item_id"]),
            "age": np.where(np.isnan(age), "", labels),
            "gender": _text(raw["gender"]),
            "occupation": _text(raw["occupation"]),
            "zip_prefix": _text(raw["zip_code"]).str[: int(zip_prefix_len)],
            "release_year": year,
            "hour": when.hour.to_numpy(),
            "weekday": when.day_of_week.to_numpy(),
            "genres": genres.to_numpy() if len(raw) else [],
        }
    )


def movielens_100k(
    path: str | Path | None = None,
    *,
    split: SplitKind = "random",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    min_count: int = 1,
    zip_prefix_len: int = 2,
    use_cache: bool = True,
    download: bool = True,
    history: int = 0,
) -> Dataset:
    """Load MovieLens-100K as a CTR data set (label: rating >= 4, ten fields).

    Args:
        path: A GroupLens ``ml-100k`` folder or a folder of RecBole atomic files (or the folder
            above either). ``None`` uses the cache directory, fetching the files when needed.
        split: ``random`` (seeded) or ``temporal`` (by the rating timestamp).
        fractions: Train/valid/test shares.
        seed: Seed of the random split.
        min_count: Minimum training count of a value to get its own index.
        zip_prefix_len: Characters of the zip code kept in ``zip_prefix``.
        use_cache: Read and write the preprocessed cache.
        download: With no path and nothing cached, fetch the files (else raise).
        history: Add the sequence fields ``history`` and ``history_genres`` of the user's
            ``history`` most recent earlier items (module docstring); 0 adds none.

    Example:
        >>> ds = movielens_100k()  # doctest: +SKIP
        >>> len(ds), len(ds.schema)  # doctest: +SKIP
        (100000, 10)
    """
    if path is None:
        folder = cache_home() / "ml-100k"
        found = _find(folder)
        if found is None:
            if not download:
                raise DataError(
                    f"{folder}: MovieLens-100K is not there and download=False; pass path= to"
                    " a GroupLens ml-100k folder or RecBole atomic files"
                )
            fetch_movielens_100k(folder)
            found = _find(folder)
            if found is None:  # pragma: no cover - fetch_movielens_100k checks this
                raise DataError(f"{folder}: fetched files are incomplete")
    else:
        folder = Path(path)
        if not folder.exists():
            raise DataError(f"{folder}: no such folder")
        found = _find(folder)
        if found is None:
            raise DataError(
                f"{folder}: holds neither the GroupLens files {list(_GROUPLENS)} nor the RecBole"
                f" atomic files {list(_ATOMIC)}"
            )
    kind, files = found
    options = {
        "split": split,
        "fractions": list(fractions),
        "seed": seed,
        "min_count": min_count,
        "zip_prefix_len": zip_prefix_len,
    }
    if int(history) != history or history < 0:
        raise InvalidParameterError(
            f"The 'history' parameter must be an integer >= 0. Got {history!r} instead."
        )
    if history:  # NOTE: only then, so older cache entries still hit.
        options["history"] = int(history)
        options["history_fields"] = list(HISTORY_FIELDS)  # NOTE: ids-only entries miss

    def build() -> Dataset:
        frame = _frame(kind, files, zip_prefix_len)
        if history:
            # NOTE: from_frame splits the same way; its training histories build the vocabulary.
            ts = frame["timestamp"].to_numpy()
            train = split_indices(len(frame), split=split, timestamps=ts, fractions=fractions,
                                  seed=seed)[0]  # fmt: skip
            items, genres = histories(frame, int(history), train_rows=train, min_count=min_count)
            frame = frame.assign(history=items, history_genres=genres)
        ds = from_frame(
            frame,
            label="label",
            categorical=[f for f in FIELDS if f != "genres"],
            multi_hot=["genres"],
            sequence=list(HISTORY_FIELDS) if history else [],
            sequence_max_len=max(int(history), 1),
            split=split,
            timestamp="timestamp",
            fractions=fractions,
            seed=seed,
            min_count=min_count,
            name="movielens-100k",
            source=str(files[0]),
        )
        encoder = {**ds.info[ENCODER_INFO], "transform": "movielens-100k",
                   "options": {"zip_prefix_len": zip_prefix_len}}  # fmt: skip
        info = {**ds.info, ENCODER_INFO: encoder, "format": kind, "ratings": len(frame)}
        return type(ds)(ds.name, ds.schema, ds.train, ds.valid, ds.test, info)

    return cached("movielens-100k", list(files), options, build, use_cache=use_cache)


def history_rows(frame: pd.DataFrame, max_len: int) -> list[np.ndarray]:
    """Per row, the rows of the user's ratings strictly earlier, the ``max_len`` most recent.

    Oldest first; ratings at the same timestamp keep file order. Only ``user_id`` and
    ``timestamp`` are read (never a rating or label).

    Example:
        >>> df = pd.DataFrame({"user_id": [1, 1, 1, 2], "timestamp": [3, 1, 3, 9]})
        >>> [r.tolist() for r in history_rows(df, 2)]
        [[1], [], [1], []]
    """
    users = frame["user_id"].to_numpy()
    ts = frame["timestamp"].to_numpy()
    out = [np.zeros(0, dtype=np.int64)] * len(frame)
    order = np.lexsort((np.arange(len(frame)), ts, users))  # user, time, then file order
    bounds = np.flatnonzero(np.r_[True, users[order][1:] != users[order][:-1], True])
    for a, b in zip(bounds[:-1], bounds[1:], strict=True):
        rows = order[a:b]
        earlier = np.searchsorted(ts[rows], ts[rows], side="left")
        for r, k in zip(rows.tolist(), earlier.tolist(), strict=True):
            out[r] = rows[max(0, k - max_len) : k]
    return out


def genre_token(genres: Sequence[str] | None) -> str:
    """An item's genre set as one token: names sorted, joined with ``+`` (``unknown`` if none).

    Example:
        >>> genre_token(["Romance", "Comedy"])
        'Comedy+Romance'
    """
    return "+".join(sorted(set(genres))) if genres is not None and len(genres) else "unknown"


def histories(
    frame: pd.DataFrame,
    max_len: int,
    *,
    train_rows: np.ndarray | None = None,
    min_count: int = 1,
) -> tuple[list[list[object]], list[list[str]]]:
    """The ``history`` and ``history_genres`` cells of every row (module docstring), aligned.

    With ``train_rows``, history items seen fewer than ``min_count`` times in the histories of
    those rows (outside the vocabulary the sequence encoder builds) are dropped from both lists,
    so the encoded fields stay aligned position by position.

    Example:
        >>> df = pd.DataFrame({"user_id": [1, 1, 1], "item_id": [5, 6, 7],
        ...     "timestamp": [1, 2, 3], "genres": [["Drama"], ["War", "Action"], []]})
        >>> histories(df, 2)
        ([[], [5], [5, 6]], [[], ['Drama'], ['Drama', 'Action+War']])
    """
    rows = history_rows(frame, max_len)
    items = frame["item_id"].to_numpy()
    tokens = np.array([genre_token(g) for g in frame["genres"].to_numpy()], dtype=object)
    if train_rows is not None:
        keys, counts = np.unique(
            np.concatenate([items[rows[r]] for r in train_rows] + [items[:0]]).astype(str),
            return_counts=True,
        )
        known = set(keys[counts >= max(int(min_count), 1)].tolist())
        rows = [r[[str(items[i]) in known for i in r]] if len(r) else r for r in rows]
    return [items[r].tolist() for r in rows], [tokens[r].tolist() for r in rows]


def _grouplens_zip(timeout: float) -> bytes:
    """The GroupLens zip, or an OSError when the network does not answer within ``timeout``."""
    result: dict[str, object] = {}

    def fetch() -> None:
        try:
            with urllib.request.urlopen(GROUPLENS_URL, timeout=timeout) as resp:  # noqa: S310
                result["data"] = resp.read()
        except Exception as exc:  # noqa: BLE001 - reported to the caller below
            result["error"] = exc

    # NOTE: a daemon thread bounds DNS lookups too, which urlopen's timeout does not cover.
    worker = threading.Thread(target=fetch, daemon=True)
    worker.start()
    worker.join(timeout + 1.0)
    if "data" not in result:
        raise OSError(f"GroupLens download failed: {result.get('error', 'timed out')}")
    return result["data"]  # type: ignore[return-value]


def fetch_movielens_100k(folder: str | Path, *, timeout: float = 5.0) -> Path:
    """Put the MovieLens-100K files into ``folder`` (GroupLens zip, else the RecBole wheel).

    The files are extracted into a temporary folder next to ``folder`` and renamed into place,
    so an interrupted fetch leaves nothing behind.

    Example:
        >>> fetch_movielens_100k("/tmp/ml")  # doctest: +SKIP
        PosixPath('/tmp/ml')
    """
    target = Path(folder)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".tmp-ml-100k-", dir=target.parent))
    errors: list[str] = []
    try:
        try:
            with zipfile.ZipFile(io.BytesIO(_grouplens_zip(timeout))) as zf:
                for name in _GROUPLENS:
                    (tmp / name).write_bytes(zf.read(f"ml-100k/{name}"))
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            errors.append(str(exc))
            _extract_recbole(tmp, errors)
        if _find(tmp) is None:
            raise DataError(
                "could not obtain MovieLens-100K: "
                + "; ".join(errors)
                + f". Download {GROUPLENS_URL}, unzip it and pass path= to the ml-100k folder."
            )
        if target.exists():
            shutil.rmtree(target)
        os.rename(tmp, target)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target


def _extract_recbole(dest: Path, errors: list[str]) -> None:
    with tempfile.TemporaryDirectory(prefix="recsearch-pip-") as wheel_dir:
        cmd = [
            sys.executable, "-m", "pip", "download", RECBOLE_REQUIREMENT,
            "--no-deps", "--only-binary", ":all:", "-d", wheel_dir, "-q",
        ]  # fmt: skip
        try:
            proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
        except (OSError, subprocess.TimeoutExpired) as exc:
            errors.append(f"pip download {RECBOLE_REQUIREMENT} failed: {exc}")
            return
        wheels = sorted(Path(wheel_dir).glob("recbole-*.whl"))
        if proc.returncode != 0 or not wheels:
            errors.append(
                f"pip download {RECBOLE_REQUIREMENT} failed: {proc.stderr.strip()[-500:]}"
            )
            return
        with zipfile.ZipFile(wheels[0]) as zf:
            for name in _ATOMIC:
                try:
                    (dest / name).write_bytes(zf.read(_RECBOLE_DIR + name))
                except KeyError:
                    errors.append(f"{wheels[0].name} has no {_RECBOLE_DIR + name}")
                    return
