"""Data sets from pandas frames and CSV/Parquet files."""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from typing import Literal

import numpy as np
import pandas as pd

from recsearch.data import _stream
from recsearch.data._assemble import assemble
from recsearch.data._encode import encode_column
from recsearch.data._encode import encode_multi_hot
from recsearch.data._encode import encode_sequence
from recsearch.data._encode import hash_values
from recsearch.data._encode import split_tokens
from recsearch.data._encode import stack_columns
from recsearch.data._sequences import check_sequence_cells
from recsearch.data._sequences import check_sequence_times
from recsearch.data._sequences import check_time_columns
from recsearch.data.cache import cached
from recsearch.data.schema import Dataset
from recsearch.data.schema import FieldKind
from recsearch.data.splits import DEFAULT_FRACTIONS
from recsearch.data.splits import random_split
from recsearch.data.splits import temporal_split
from recsearch.data.vocab import ENCODER_INFO
from recsearch.data.vocab import Encoder
from recsearch.data.vocab import vocabulary
from recsearch.errors import DataError
from recsearch.errors import InvalidParameterError

SplitKind = Literal["random", "temporal"]

NUMERIC_FILL_HINT = (
    "pass numeric_fill=VALUE to fill missing numbers instead "
    "(e.g. --dataset-option numeric_fill=0)"
)
"""The one rule for a numeric field without a number (an empty CSV field, the text ``NaN``, a
Parquet null or float NaN, a NaN in a frame): refused, unless ``numeric_fill`` gives its value."""


def check_columns(
    *,
    label: str,
    categorical: Sequence[str],
    numeric: Sequence[str],
    multi_hot: Sequence[str],
    available: Sequence[str],
    source: str,
    timestamp: str | None = None,
    sequence: Sequence[str] = (),
) -> None:
    """Raise :class:`DataError` for a field named twice or a column the data does not have."""
    for arg, value in (
        ("categorical", categorical),
        ("numeric", numeric),
        ("multi_hot", multi_hot),
        ("sequence", sequence),
    ):
        if isinstance(value, str):
            raise InvalidParameterError(
                f"The {arg!r} parameter must be a sequence of column names, not the string"
                f" {value!r}; write [{value!r}]."
            )
    seen: dict[str, str] = {label: "label"}
    for kind, names in (
        ("categorical", categorical),
        ("numeric", numeric),
        ("multi_hot", multi_hot),
        ("sequence", sequence),
    ):
        for name in names:
            if name in seen:
                raise DataError(
                    f"{source}: field {name!r} is named twice (as {seen[name]} and as {kind})"
                )
            seen[name] = kind
    if not (categorical or numeric or multi_hot):
        raise DataError(f"{source}: no fields given (categorical=, numeric= or multi_hot=)")
    cols = set(available)
    wanted = [("label", label)] + [
        (k, n)
        for k, names in (
            ("categorical", categorical),
            ("numeric", numeric),
            ("multi_hot", multi_hot),
            ("sequence", sequence),
        )
        for n in names
    ]
    if timestamp is not None:
        wanted.append(("timestamp", timestamp))
    for kind, name in wanted:
        if name not in cols:
            raise DataError(
                f"{source}: missing {kind} column {name!r}; columns are {sorted(map(str, cols))}"
            )


def check_label(
    values: np.ndarray, *, source: str, column: str, first_line: int | None
) -> np.ndarray:
    """0/1 float32 labels, or :class:`DataError` naming the first bad row (line when known)."""
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(np.float32)
    numeric = pd.to_numeric(pd.Series(arr), errors="coerce").to_numpy(dtype=np.float64)
    bad = ~np.isin(numeric, (0.0, 1.0))
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        where = f"line {first_line + i}" if first_line is not None else f"row {i}"
        raise DataError(
            f"{source}: {where}, column {column!r}: label must be 0 or 1, got {arr[i]!r}"
        )
    out: np.ndarray = numeric.astype(np.float32)
    return out


def split_indices(
    n: int,
    *,
    split: SplitKind | None,
    timestamps: np.ndarray | None,
    fractions: Sequence[float],
    seed: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train/valid/test indices: temporal when asked or when timestamps are given, else random."""
    kind = split if split is not None else ("temporal" if timestamps is not None else "random")
    if kind == "temporal":
        if timestamps is None:
            raise InvalidParameterError("A temporal split needs the 'timestamp' column name.")
        return temporal_split(timestamps, fractions=fractions)
    if kind != "random":
        raise InvalidParameterError(
            f"The 'split' parameter must be 'random' or 'temporal'. Got {kind!r} instead."
        )
    return random_split(n, fractions=fractions, seed=seed)


def _timestamps(values: pd.Series, *, source: str) -> np.ndarray:
    """Sortable timestamps: numbers as they are, else parsed dates."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all():
        return np.asarray(numeric.to_numpy())
    try:
        return np.asarray(pd.to_datetime(values).to_numpy())
    except (ValueError, TypeError) as exc:
        raise DataError(
            f"{source}: timestamp column {values.name!r} holds values that are neither numbers"
            f" nor dates ({exc})"
        ) from exc


def from_frame(
    df: pd.DataFrame,
    *,
    label: str,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    multi_hot: Sequence[str] = (),
    multi_hot_sep: str = "|",
    multi_hot_max_len: int | None = None,
    sequence: Sequence[str] = (),
    sequence_max_len: int = 50,
    sequence_time: Mapping[str, str] | None = None,
    split: SplitKind | None = None,
    timestamp: str | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    min_count: int = 1,
    name: str = "frame",
    source: str | None = None,
    first_line: int | None = None,
    numeric_fill: float | None = None,
) -> Dataset:
    """Build a data set from a frame.

    Categorical values (any type; missing is a value of its own) get per-field vocabularies
    built on the training rows, most frequent first; values seen fewer than ``min_count`` times
    in training map to the OOV index 0. Numeric columns become float32 as they are (a value
    without a number (empty, null, NaN) is refused naming column and row unless ``numeric_fill``
    gives its value). Multi-hot columns hold ``multi_hot_sep``-joined strings or list-likes.
    Sequence columns hold ordered histories, oldest first, as lists (Parquet) or
    ``multi_hot_sep``-joined strings (CSV); the most recent ``sequence_max_len`` values are kept.
    ``sequence_time`` names, per sequence column, a column of its items' timestamps (cells of
    the same shape, numbers or dates): they must be as many as the items and non-decreasing,
    else a :class:`DataError` names the line and column (the list order is the time order).

    Args:
        df: The rows.
        label: Name of the 0/1 label column.
        categorical: Categorical column names.
        numeric: Numeric column names.
        multi_hot: Multi-hot column names.
        multi_hot_sep: Separator of multi-hot strings.
        multi_hot_max_len: Keep at most this many values per multi-hot row.
        sequence: Sequence (behaviour history) column names.
        sequence_max_len: Keep the most recent this many values of a sequence.
        sequence_time: Sequence column -> its timestamps column (checked, not a field).
        split: ``random`` (seeded) or ``temporal`` (by ``timestamp``); ``None`` means temporal
            when ``timestamp`` is given, else random.
        timestamp: Column ordering rows in time (not a field unless listed as one).
        fractions: Train/valid/test shares.
        seed: Seed of the random split.
        min_count: Minimum training count of a categorical value to get its own index.
        name: Data set name.
        source: What error messages name (a file path); defaults to ``name``.
        first_line: File line of the frame's first row, so errors can name lines.
        numeric_fill: The value of a numeric field without a number; ``None`` refuses it.

    Example:
        >>> df = pd.DataFrame({"y": [0, 1] * 50, "u": list("abcde") * 20, "x": range(100)})
        >>> ds = from_frame(df, label="y", categorical=["u"], numeric=["x"])
        >>> ds.schema["u"].vocab_size
        6
    """
    src = source or name
    check_columns(
        label=label,
        categorical=categorical,
        numeric=numeric,
        multi_hot=multi_hot,
        available=list(df.columns),
        source=src,
        timestamp=timestamp,
        sequence=sequence,
    )
    check_time_columns(sequence_time or {}, sequence=sequence, available=list(df.columns),
                       source=src)  # fmt: skip
    if int(min_count) != min_count or min_count < 1:
        raise InvalidParameterError(
            f"The 'min_count' parameter must be an integer >= 1. Got {min_count!r} instead."
        )
    n = len(df)
    if n == 0:
        raise DataError(f"{src}: no data rows")
    y = check_label(df[label].to_numpy(), source=src, column=label, first_line=first_line)
    ts = _timestamps(df[timestamp], source=src) if timestamp is not None else None
    indices = split_indices(n, split=split, timestamps=ts, fractions=fractions, seed=seed)
    train_mask = np.zeros(n, dtype=bool)
    train_mask[indices[0]] = True

    fields: list[tuple[str, FieldKind, int]] = []
    vocabularies: dict[str, list[str]] = {}
    cat_cols = []
    for col in categorical:
        codes, vocab = encode_column(hash_values(df[col]), indices[0], min_count=min_count)
        cat_cols.append(codes)
        fields.append((col, "categorical", vocab))
        vocabularies[col] = vocabulary(df[col].to_numpy(), codes, vocab)
    num_cols = []
    for col in numeric:
        raw = df[col]
        if raw.dtype == object or pd.api.types.is_string_dtype(raw.dtype):
            raw = raw.replace("", None)
        values = pd.to_numeric(raw, errors="coerce")
        text = raw.astype(str).str.strip().str.lower()
        missing = values.isna() & (raw.isna() | text.eq("nan"))
        bad = values.isna() & ~missing
        if numeric_fill is not None:
            values = values.mask(missing, float(numeric_fill))
        elif missing.any():
            bad |= missing
        if bad.any():
            i = int(np.flatnonzero(bad.to_numpy())[0])
            where = f"line {first_line + i}" if first_line is not None else f"row {i}"
            what = _describe(df[col].iloc[i])
            hint = f"; {NUMERIC_FILL_HINT}" if missing.iloc[i] else ""
            raise DataError(f"{src}: {where}, column {col!r}: numeric field {what}{hint}")
        num_cols.append(values.to_numpy(dtype=np.float32))
        fields.append((col, "numeric", 1))
    mh_cols = []
    for col in multi_hot:
        row, keys, tokens = split_tokens(df[col], multi_hot_sep, with_values=True)
        matrix, vocab, codes = encode_multi_hot(
            row, keys, n, train_mask, min_count=min_count, max_len=multi_hot_max_len
        )
        mh_cols.append(matrix)
        fields.append((col, "multi_hot", vocab))
        vocabularies[col] = vocabulary(tokens, codes, vocab)
    seq_cols = []
    for col in sequence:
        check_sequence_cells(df[col], source=src, column=col, first_line=first_line)
        if sequence_time and col in sequence_time:
            check_sequence_times(df[col], df[sequence_time[col]], sep=multi_hot_sep, source=src,
                                 column=col, time_column=sequence_time[col],
                                 first_line=first_line)  # fmt: skip
        row, keys, tokens = split_tokens(df[col], multi_hot_sep, with_values=True)
        matrix, vocab, codes = encode_sequence(
            row, keys, n, train_mask, min_count=min_count, max_len=int(sequence_max_len)
        )
        seq_cols.append(matrix)
        fields.append((col, "sequence", vocab))
        vocabularies[col] = vocabulary(tokens, codes, vocab)  # NOTE: a deployed model reads it
    encoder = Encoder(
        fields=tuple((name, kind) for name, kind, _ in fields),
        vocabularies=vocabularies,
        multi_hot_sep=multi_hot_sep,
    )
    return assemble(
        name,
        label_name=label,
        fields=fields,
        categorical=stack_columns(cat_cols, n, np.int64),
        numeric=stack_columns(num_cols, n, np.float32),
        multi_hot=mh_cols,
        sequence=seq_cols,
        label=y,
        indices=indices,
        info={"source": src, "min_count": int(min_count), ENCODER_INFO: encoder.to_dict()},
    )


def _describe(value: Any) -> str:
    if isinstance(value, str):
        return f"holds {value!r}" if value.strip() else "is empty"
    if isinstance(value, (float, np.floating)) and np.isnan(value):
        return "holds NaN"
    return "is empty" if pd.isna(value) else f"holds {value!r}"


def _read_table(
    path: Path, sep: str | None, *, encoding: str = "utf8"
) -> tuple[pd.DataFrame, int | None]:
    """The file as a frame plus the line number of its first data row (None for Parquet)."""
    _stream.check_file(path)
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in (".parquet", ".pq"):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # NOTE: pyarrow raises several unrelated types
            raise DataError(f"{path}: not a readable Parquet file ({exc})") from exc
        return table.to_pandas(), None
    if sep is None:
        sep = "\t" if any(s in (".tsv", ".tab") for s in suffixes) else ","
    # NOTE: every column as a string: from_frame decides what is categorical or numeric.
    return _stream.read_strings(path, sep=sep, encoding=encoding), 2


def read_file(
    path: str | Path,
    *,
    label: str,
    categorical: Sequence[str] = (),
    numeric: Sequence[str] = (),
    multi_hot: Sequence[str] = (),
    sep: str | None = None,
    multi_hot_sep: str = "|",
    multi_hot_max_len: int | None = None,
    sequence: Sequence[str] = (),
    sequence_max_len: int = 50,
    sequence_time: Mapping[str, str] | None = None,
    split: SplitKind | None = None,
    timestamp: str | None = None,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    min_count: int = 1,
    use_cache: bool = True,
    encoding: str = "utf8",
    numeric_fill: float | None = None,
) -> Dataset:
    """Load a CSV (header row; ``.tsv`` is tab-separated) or Parquet file (cached on disk).

    Options are those of :func:`from_frame`, plus ``sep`` (CSV separator), ``encoding`` (of a
    CSV file) and ``use_cache``. A numeric field without a number (empty, the text ``NaN``, a
    Parquet null or NaN) is refused, naming its column and line or row, unless ``numeric_fill``
    gives its value.

    Example:
        >>> import tempfile, os
        >>> p = os.path.join(tempfile.mkdtemp(), "clicks.csv")
        >>> _ = pd.DataFrame({"y": [0, 1] * 50, "u": list("ab") * 50}).to_csv(p, index=False)
        >>> len(read_file(p, label="y", categorical=["u"], use_cache=False))
        100
    """
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: no such file")
    options: dict[str, Any] = {
        "label": label,
        "categorical": list(categorical),
        "numeric": list(numeric),
        "multi_hot": list(multi_hot),
        "sep": sep,
        "multi_hot_sep": multi_hot_sep,
        "multi_hot_max_len": multi_hot_max_len,
        "split": split,
        "timestamp": timestamp,
        "fractions": list(fractions),
        "seed": seed,
        "min_count": min_count,
    }
    if sequence:  # NOTE: only then, so older cache entries still hit.
        options.update(sequence=list(sequence), sequence_max_len=int(sequence_max_len))
    if sequence_time:
        options["sequence_time"] = dict(sequence_time)
    # NOTE: only when given, so the cache keys of files read before these options stay valid.
    if encoding != "utf8":
        options["encoding"] = encoding
    if numeric_fill is not None:
        options["numeric_fill"] = float(numeric_fill)

    def build() -> Dataset:
        df, first_line = _read_table(p, sep, encoding=encoding)
        if len(df) == 0:
            raise DataError(f"{p}: the file has a header but no data rows")
        return from_frame(
            df,
            label=label,
            categorical=categorical,
            numeric=numeric,
            multi_hot=multi_hot,
            multi_hot_sep=multi_hot_sep,
            multi_hot_max_len=multi_hot_max_len,
            sequence=sequence,
            sequence_max_len=sequence_max_len,
            sequence_time=sequence_time,
            split=split,
            timestamp=timestamp,
            fractions=fractions,
            seed=seed,
            min_count=min_count,
            name=p.name,
            source=str(p),
            first_line=first_line,
            numeric_fill=numeric_fill,
        )

    return cached("file", [p], options, build, use_cache=use_cache)
