"""The pipeline shared by the streamed click-log loaders (Criteo, Avazu).

Each loader checks its options and caches the result (:func:`load`), streams labelled batches
of its file (:func:`stream_labelled`), turns its columns into 64-bit keys, and ends with every
field categorical, encoded on the training rows of a random or temporal split (:func:`finish`).
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import pyarrow as pa

from recsearch.data import _stream
from recsearch.data._assemble import assemble
from recsearch.data.cache import cached
from recsearch.data.schema import Dataset
from recsearch.data.schema import FieldKind
from recsearch.data.splits import random_split
from recsearch.data.splits import temporal_split
from recsearch.errors import InvalidParameterError


@dataclass(frozen=True)
class Options:
    """A click-log loader's preprocessing options (what its cache entry is keyed on).

    Attributes:
        nrows: Read only the first ``nrows`` data lines.
        min_count: Minimum training count of a value to get its own index.
        split: ``random`` (seeded) or ``temporal``.
        fractions: Train/valid/test shares.
        seed: Seed of the random split.
        numeric: ``bucketize`` (integer columns become categorical tokens) or ``keep`` (they
            stay numeric fields).
    """

    nrows: int | None
    min_count: int
    split: str
    fractions: Sequence[float]
    seed: int
    numeric: str = "bucketize"


def load(
    name: str,
    path: str | Path,
    build: Callable[[Path, Options], Dataset],
    options: Options,
    *,
    use_cache: bool,
    mmap: bool,
) -> Dataset:
    """Check a click-log loader's options, then build its data set through the disk cache.

    Args:
        name: Data set name (also the cache entry's kind).
        path: The log file.
        build: Builds the data set from the checked path and the options.
        options: The preprocessing options.
        use_cache: Read and write the preprocessed cache.
        mmap: Memory-map the cached arrays instead of reading them.
    """
    nrows, min_count = options.nrows, options.min_count
    p = _stream.check_file(path)
    if nrows is not None and (int(nrows) != nrows or nrows < 1):
        raise InvalidParameterError(f"The 'nrows' parameter must be >= 1. Got {nrows!r} instead.")
    if int(min_count) != min_count or min_count < 1:
        raise InvalidParameterError(
            f"The 'min_count' parameter must be an integer >= 1. Got {min_count!r} instead."
        )
    key = {
        "nrows": nrows,
        "min_count": min_count,
        "split": options.split,
        "fractions": list(options.fractions),
        "seed": options.seed,
    }
    if options.numeric != "bucketize":
        if options.numeric != "keep":
            raise InvalidParameterError(
                "The 'numeric' parameter must be 'bucketize' or 'keep'. "
                f"Got {options.numeric!r} instead."
            )
        key["numeric"] = options.numeric  # NOTE: only then, so older cache entries still hit.
    return cached(name, [p], key, lambda: build(p, options), use_cache=use_cache, mmap=mmap)


def stream_labelled(
    p: Path,
    *,
    sep: str,
    columns: Sequence[str],
    header: bool,
    column_types: Mapping[str, pa.DataType],
    quote: bool,
    label_at: int,
    check: _stream.LineCheck,
    nrows: int | None,
    collect: Callable[[pa.RecordBatch], None],
) -> tuple[np.ndarray, int]:
    """Stream at most ``nrows`` rows, checking 0/1 labels and handing each batch to ``collect``.

    A rejected file or a bad label raises :class:`DataError` naming the first bad line found by
    a line-by-line scan with ``check``.

    Args:
        p: The log file.
        sep: Field separator.
        columns: The column names, in file order.
        header: The first line is a header naming ``columns`` (else there is none).
        column_types: Arrow type of each column.
        quote: Let the fast reader honour double quotes.
        label_at: Index of the label column.
        check: Line check of the slow scan.
        nrows: Read only the first ``nrows`` data lines.
        collect: Takes each batch (cut to ``nrows``) after its labels passed.

    Returns:
        The float32 labels and the number of rows read.
    """

    def fail(cause: BaseException | str) -> NoReturn:
        _stream.raise_located(
            p, sep=sep, n_columns=len(columns), skip_header=header, check=check,
            cause=cause, max_lines=nrows,
        )  # fmt: skip

    labels: list[np.ndarray] = []
    n = 0
    try:
        for batch in _stream.batches(
            p,
            sep=sep,
            column_names=None if header else columns,
            column_types=column_types,
            quote=quote,
        ):
            if nrows is not None and n + batch.num_rows > nrows:
                batch = batch.slice(0, nrows - n)
            label = _stream.int_values(batch.column(label_at))
            if not np.isin(label, (0, 1)).all():
                fail("label must be 0 or 1")
            labels.append(label.astype(np.float32))
            collect(batch)
            n += batch.num_rows
            if nrows is not None and n >= nrows:
                break
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        fail(exc)
    return (np.concatenate(labels) if labels else np.zeros(0, dtype=np.float32)), n


def finish(
    name: str,
    p: Path,
    options: Options,
    *,
    label_name: str,
    label: np.ndarray,
    names: Sequence[str],
    key_columns: list[np.ndarray],
    times: np.ndarray | None,
    numeric: Sequence[tuple[str, np.ndarray]] = (),
) -> Dataset:
    """Split the rows, encode every key column as a categorical field and assemble the set.

    Args:
        name: Data set name.
        p: The log file (recorded as the source).
        options: The preprocessing options.
        label_name: Label column name.
        label: ``(n,)`` 0/1 labels.
        names: Field names, one per key column.
        key_columns: ``(n,)`` uint64 keys per field; consumed.
        times: What a temporal split orders rows by; ``None`` means file order.
        numeric: ``(name, (n,) float32 values)`` of the numeric fields, placed first.
    """
    n = label.shape[0]
    split, fractions, min_count = options.split, options.fractions, options.min_count
    if split == "temporal":
        indices = temporal_split(np.arange(n) if times is None else times, fractions=fractions)
    elif split == "random":
        indices = random_split(n, fractions=fractions, seed=options.seed)
    else:
        raise InvalidParameterError(
            f"The 'split' parameter must be 'random' or 'temporal'. Got {split!r} instead."
        )
    codes, sizes = _stream.encode_key_columns(key_columns, indices[0], min_count=min_count)
    fields: list[tuple[str, FieldKind, int]] = [(field, "numeric", 1) for field, _ in numeric]
    fields += [(field, "categorical", size) for field, size in zip(names, sizes, strict=True)]
    values = (
        np.stack([v for _, v in numeric], axis=1).astype(np.float32)
        if numeric
        else np.zeros((n, 0), dtype=np.float32)
    )
    return assemble(
        name,
        label_name=label_name,
        fields=fields,
        categorical=codes,
        numeric=values,
        multi_hot=(),
        label=label,
        indices=indices,
        info={"source": str(p), "rows": n, "min_count": int(min_count)},
    )
