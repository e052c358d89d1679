"""Streaming delimited click logs with pyarrow, and pinpointing bad lines when that fails.

The fast path reads record batches with ``pyarrow.csv.open_csv`` and turns every column into
64-bit keys batch by batch. When pyarrow rejects the file, or a batch fails a check, a slow
line-by-line scan finds the first offending line and column so the error can name them.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from collections.abc import Sequence
from pathlib import Path
from typing import IO
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from recsearch.errors import DataError

BLOCK_SIZE = 1 << 24
MISSING_INT = np.int64(-(2**62))
_MAX_FIELD = 2**31 - 1  # NOTE: csv.field_size_limit takes a C long; this fits every platform


@contextlib.contextmanager
def _any_field_size() -> Iterator[None]:
    """Let :mod:`csv` read fields of any length (its default limit is 128 KiB) while inside."""
    previous = csv.field_size_limit(_MAX_FIELD)
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def check_file(path: str | Path) -> Path:
    """The path of an existing, non-empty file, or :class:`DataError`."""
    p = Path(path)
    if not p.exists():
        raise DataError(f"{p}: no such file")
    if not p.is_file():
        raise DataError(f"{p}: not a file")
    if p.stat().st_size == 0:
        raise DataError(f"{p}: the file is empty")
    return p


def open_text(path: Path) -> IO[str]:
    """A text handle on a delimited file, gunzipped/bunzipped by suffix like pyarrow does."""
    suffix = path.suffix.lower()
    if suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    if suffix == ".bz2":
        return bz2.open(path, "rt", encoding="utf-8", errors="replace", newline="")
    return path.open("r", encoding="utf-8", errors="replace", newline="")


def read_header(path: Path, sep: str, *, quote: bool = True) -> list[str]:
    """Column names of the first line of a delimited file; a name given twice raises."""
    with open_text(path) as fh, _any_field_size():
        reader = csv.reader(
            fh, delimiter=sep, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE
        )
        names = next(reader, [])
    if not names or names == [""]:
        raise DataError(f"{path}: line 1: empty header line")
    seen: set[str] = set()
    for i, name in enumerate(names, start=1):
        if name in seen:
            raise DataError(f"{path}: line 1, column {i}: column {name!r} is named twice")
        seen.add(name)
    return names


def batches(
    path: Path,
    *,
    sep: str,
    column_names: Sequence[str] | None,
    column_types: Mapping[str, pa.DataType],
    quote: bool,
    block_size: int = BLOCK_SIZE,
) -> Iterator[pa.RecordBatch]:
    """Record batches of a delimited file (``column_names=None``: the first line is a header)."""
    read = pacsv.ReadOptions(
        column_names=list(column_names) if column_names is not None else None,
        block_size=block_size,
        use_threads=True,
    )
    parse = pacsv.ParseOptions(
        delimiter=sep, quote_char='"' if quote else False, newlines_in_values=False
    )
    convert = pacsv.ConvertOptions(
        column_types=dict(column_types),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
        null_values=[""],
    )
    reader = pacsv.open_csv(path, read_options=read, parse_options=parse, convert_options=convert)
    yield from reader


def string_keys(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit keys of a string column: hash each distinct value once, then index."""
    encoded = pc.dictionary_encode(array)
    if isinstance(encoded, pa.ChunkedArray):
        encoded = encoded.combine_chunks()
    dictionary = encoded.dictionary.to_numpy(zero_copy_only=False)
    hashed = pd.util.hash_array(dictionary.astype(object), categorize=False)
    indices = encoded.indices.to_numpy(zero_copy_only=False)
    out: np.ndarray = hashed[indices]
    return out


def int_values(array: pa.Array | pa.ChunkedArray) -> np.ndarray:
    """int64 values of an integer column, :data:`MISSING_INT` where empty."""
    filled = pc.fill_null(array, pa.scalar(int(MISSING_INT), pa.int64()))
    out: np.ndarray = filled.to_numpy(zero_copy_only=False)
    return out


LineCheck = Callable[[list[str]], str | None]


def find_bad_line(
    path: Path,
    *,
    sep: str,
    n_columns: int,
    skip_header: bool,
    check: LineCheck | None = None,
    max_lines: int | None = None,
    quote: bool = False,
) -> str | None:
    """First problem found scanning row by row, as ``"line N: ..."``; ``None`` if none.

    ``check`` gets the fields of a row of the right width and returns a problem (naming the
    column) or ``None``. Blank lines are skipped, as the fast reader does.
    """
    with open_text(path) as fh, _any_field_size():
        reader = csv.reader(
            fh, delimiter=sep, quoting=csv.QUOTE_MINIMAL if quote else csv.QUOTE_NONE
        )
        rows = 0
        for parts in reader:
            number = reader.line_num
            if not parts:
                continue
            if skip_header:
                skip_header = False
                continue
            rows += 1
            if max_lines is not None and rows > max_lines:
                break
            if len(parts) != n_columns:
                return f"line {number}: expected {n_columns} columns, found {len(parts)}"
            if check is not None:
                problem = check(parts)
                if problem is not None:
                    return f"line {number}, {problem}"
    return None


def check_binary_label(parts: list[str], *, index: int, name: str) -> str | None:
    """Line check: the label column holds 0 or 1."""
    if parts[index].strip() not in ("0", "1"):
        return f"column {index + 1} ({name}): label must be 0 or 1, got {parts[index]!r}"
    return None


def check_int(parts: list[str], *, index: int, name: str) -> str | None:
    """Line check: an integer column is empty or an integer."""
    value = parts[index].strip()
    if value:
        try:
            int(value)
        except ValueError:
            return f"column {index + 1} ({name}): expected an integer, got {parts[index]!r}"
    return None


def raise_located(
    path: Path,
    *,
    sep: str,
    n_columns: int,
    skip_header: bool,
    check: LineCheck | None,
    cause: BaseException | str,
    max_lines: int | None = None,
    quote: bool = False,
) -> NoReturn:
    """Raise a :class:`DataError` naming the first bad line (or ``cause`` when none is found)."""
    if "invalid UTF8" in str(cause):
        raise DataError(f"{path}: {not_utf8(path, sep=sep)}")
    problem = find_bad_line(
        path,
        sep=sep,
        n_columns=n_columns,
        skip_header=skip_header,
        check=check,
        max_lines=max_lines,
        quote=quote,
    )
    if problem is None:
        raise DataError(f"{path}: {cause}")
    raise DataError(f"{path}: {problem}")


def encode_key_columns(
    key_columns: list[np.ndarray],
    train_index: np.ndarray,
    *,
    min_count: int,
) -> tuple[np.ndarray, list[int]]:
    """Encode each key column with a vocabulary built on ``train_index`` rows.

    Columns are consumed (the list is emptied) to keep peak memory at one extra column.
    """
    from recsearch.data._encode import encode_column

    n = key_columns[0].shape[0] if key_columns else 0
    out = np.empty((n, len(key_columns)), dtype=np.int64)
    sizes: list[int] = []
    for j in range(len(key_columns)):
        keys = key_columns[j]
        key_columns[j] = np.empty(0, dtype=np.uint64)
        codes, vocab = encode_column(keys, train_index, min_count=min_count)
        out[:, j] = codes
        sizes.append(vocab)
    key_columns.clear()
    return out, sizes


def read_strings(
    path: Path,
    *,
    sep: str,
    column_names: Sequence[str] | None = None,
    quote: bool = True,
    encoding: str = "utf8",
) -> pd.DataFrame:
    """A whole delimited file as a frame of strings (``column_names=None``: header line).

    An empty field reads as ``""``. A line with too few or too many columns, an empty file and
    a header named twice raise :class:`DataError` naming the file and line.
    """
    p = check_file(path)
    header = list(column_names) if column_names is not None else read_header(p, sep, quote=quote)
    read = pacsv.ReadOptions(
        column_names=header if column_names is not None else None, encoding=encoding
    )
    parse = pacsv.ParseOptions(
        delimiter=sep, quote_char='"' if quote else False, newlines_in_values=quote
    )
    convert = pacsv.ConvertOptions(
        column_types=dict.fromkeys(header, pa.string()),
        strings_can_be_null=False,
        quoted_strings_can_be_null=False,
    )
    try:
        try:
            table = pacsv.read_csv(p, read_options=read, parse_options=parse,
                                   convert_options=convert)  # fmt: skip
        except pa.ArrowInvalid as exc:
            if "straddl" not in str(exc):
                raise
            # NOTE: a row longer than pyarrow's block (1 MiB): read with one block per file.
            read.block_size = min(max(p.stat().st_size + 1, read.block_size), _MAX_FIELD)
            table = pacsv.read_csv(p, read_options=read, parse_options=parse,
                                   convert_options=convert)  # fmt: skip
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise_located(
            p, sep=sep, n_columns=len(header), skip_header=column_names is None, check=None,
            cause=exc, quote=quote,
        )  # fmt: skip
    return table.to_pandas()


def not_utf8(path: Path, *, sep: str) -> str:
    """Where the first byte that is not UTF-8 is: ``line L, column C (byte 0xNN)``, 1-based."""
    opener = {".gz": gzip.open, ".bz2": bz2.open}.get(path.suffix.lower(), open)
    with opener(path, "rb") as fh:
        data = fh.read()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        start = exc.start
    else:  # pragma: no cover - pyarrow and Python disagree
        return "invalid UTF-8 data; re-save the file as UTF-8 or pass its encoding="
    line_start = data.rfind(b"\n", 0, start) + 1
    line = data.count(b"\n", 0, start) + 1
    column = data.count(sep.encode(), line_start, start) + 1
    char = len(data[line_start:start].decode("utf-8", errors="replace")) + 1
    return (
        f"line {line}, column {column} (character {char} of the line): byte "
        f"0x{data[start]:02x} is not UTF-8; re-save the file as UTF-8 or pass its encoding= "
        "(e.g. --dataset-option encoding=latin-1)"
    )
