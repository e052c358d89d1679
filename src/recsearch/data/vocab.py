"""Raw rows to model indices: the vocabularies and raw-row transform a loader used.

A loader that can (``from_frame``, ``read_file``, ``movielens_100k``) stores an :class:`Encoder`
as JSON in ``dataset.info["encoder"]``; :func:`encoder_of` reads it back. The encoder holds

- the **transform**: how a raw row (the loader's input columns) becomes the field columns, by
  name from a fixed table (:data:`TRANSFORMS`), never code named by stored data: ``fields`` (the
  raw columns are the fields) or ``movielens-100k`` (the joined ``u.data`` / ``u.user`` /
  ``u.item`` columns; the loader's own derivations of age bucket, zip prefix, release year,
  genres, hour and weekday);
- per categorical, multi-hot and sequence field, its **vocabulary**: ``values[i - 1]`` is the
  raw value (as text) behind index ``i``; index 0 is out-of-vocabulary (and padding).

A sequence field (a behaviour history) is a raw column of its own whatever the transform: a list
of raw values per row, oldest first (or a ``multi_hot_sep``-joined string); as the loader did,
unseen values are left out and the most recent ``max_len`` kept, left-padded.

So a deployed model scores rows of raw values: :meth:`Encoder.encode` maps each value to its
training index, unseen ones to 0, and names the columns a frame lacks.

Example:
    >>> import pandas as pd
    >>> from recsearch.data.frame import from_frame
    >>> df = pd.DataFrame({"y": [0, 1] * 20, "u": list("abcd") * 10, "x": range(40)})
    >>> enc = encoder_of(from_frame(df, label="y", categorical=["u"], numeric=["x"]))
    >>> enc.encode(pd.DataFrame({"u": ["b", "zz"], "x": [1.0, 2.0]}))["categorical"].tolist()
    [[3], [0]]
"""

from __future__ import annotations

import math
from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import numpy as np

from recsearch.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from recsearch.data.schema import Dataset
    from recsearch.data.schema import Schema

__all__ = ["ENCODER_INFO", "TRANSFORMS", "Encoder", "encoder_of", "normalize", "vocabulary"]

ENCODER_INFO = "encoder"
"""Key of the encoder's JSON in ``Dataset.info``."""


def normalize(value: Any) -> str:
    """The text a raw value is looked up by: ``196``, ``196.0`` and ``"196"`` agree.

    Example:
        >>> normalize(196.0), normalize("196"), normalize(None)
        ('196', '196', '')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def vocabulary(raw: Sequence[Any] | np.ndarray, codes: np.ndarray, vocab_size: int) -> list[str]:
    """``values[i - 1]``: the raw value (text) behind index ``i``, from encoded rows.

    Args:
        raw: Raw values, one per position of ``codes``.
        codes: Their indices (0: out of vocabulary).
        vocab_size: Number of indices, OOV included.
    """
    codes = np.asarray(codes).ravel()
    idx, first = np.unique(codes, return_index=True)
    values = [""] * max(int(vocab_size) - 1, 0)
    raw_arr = np.asarray(raw, dtype=object).ravel()
    for i, pos in zip(idx.tolist(), first.tolist(), strict=True):
        if 0 < i < vocab_size:
            values[i - 1] = normalize(raw_arr[pos])
    return values


def _fields_transform(df: pd.DataFrame, options: Mapping[str, Any]) -> pd.DataFrame:
    del options  # NOTE: the raw columns are the fields
    return df


def _movielens_transform(df: pd.DataFrame, options: Mapping[str, Any]) -> pd.DataFrame:
    from recsearch.data._movielens import derive_fields

    return derive_fields(df, zip_prefix_len=int(options.get("zip_prefix_len", 2)))


def _movielens_columns(options: Mapping[str, Any]) -> list[tuple[str, ...]]:
    from recsearch.data._movielens import RAW_COLUMNS

    del options
    return [tuple(alts) for alts in RAW_COLUMNS]


def _movielens_examples(encoder: Encoder, n: int) -> pd.DataFrame:
    from recsearch.data._movielens import example_rows

    return example_rows(encoder.vocabularies, n)


TRANSFORMS: dict[str, tuple[Callable[..., Any], Callable[..., Any] | None, Callable[..., Any]]]
TRANSFORMS = {
    "fields": (_fields_transform, None, lambda encoder, n: encoder.decode_rows(n)),
    "movielens-100k": (_movielens_transform, _movielens_columns, _movielens_examples),
}
"""Transform name -> (raw frame to field frame, required raw columns or ``None`` (the fields),
example raw rows)."""


@dataclass(frozen=True)
class Encoder:
    """Raw rows to the indices a model of ``schema`` reads (module docstring).

    Attributes:
        fields: ``(name, kind)`` per field in schema order.
        vocabularies: Field name -> ``values`` (``values[i - 1]`` behind index ``i``).
        transform: A name of :data:`TRANSFORMS`.
        options: Options of the transform (``zip_prefix_len``).
        multi_hot_sep: Separator of multi-hot strings (list-likes are taken as they are).

    Example:
        >>> enc = Encoder((("u", "categorical"),), {"u": ["a", "b"]})
        >>> Encoder.from_dict(enc.to_dict()) == enc
        True
    """

    fields: tuple[tuple[str, str], ...]
    vocabularies: Mapping[str, Sequence[str]]
    transform: str = "fields"
    options: Mapping[str, Any] = field(default_factory=dict)
    multi_hot_sep: str = "|"

    def __post_init__(self) -> None:
        if self.transform not in TRANSFORMS:
            raise DataError(
                f"unknown raw-row transform {self.transform!r}; known: {sorted(TRANSFORMS)}"
            )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (stored in ``Dataset.info``, logged with a deployed model)."""
        return {
            "fields": [list(f) for f in self.fields],
            "vocabularies": {k: list(v) for k, v in self.vocabularies.items()},
            "transform": self.transform,
            "options": dict(self.options),
            "multi_hot_sep": self.multi_hot_sep,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Encoder:
        """The inverse of :meth:`to_dict`."""
        return cls(
            fields=tuple((str(n), str(k)) for n, k in data["fields"]),
            vocabularies={k: list(v) for k, v in data["vocabularies"].items()},
            transform=str(data.get("transform", "fields")),
            options=dict(data.get("options", {})),
            multi_hot_sep=str(data.get("multi_hot_sep", "|")),
        )

    @property
    def raw_columns(self) -> list[tuple[str, ...]]:
        """The raw columns a row needs; a tuple of several names: any one of them."""
        columns = TRANSFORMS[self.transform][1]
        if columns is None:
            return [(name,) for name, _ in self.fields]
        return [*columns(self.options), *((name,) for name in self._sequences)]

    @property
    def _sequences(self) -> list[str]:
        return [name for name, kind in self.fields if kind == "sequence"]

    def check_columns(self, df: pd.DataFrame) -> None:
        """Raise :class:`DataError` naming every raw column ``df`` lacks."""
        have = set(map(str, df.columns))
        missing = [" or ".join(alts) for alts in self.raw_columns if not have.intersection(alts)]
        if missing:
            raise DataError(
                f"the rows lack the column(s) {missing}; a row needs "
                f"{[' or '.join(a) for a in self.raw_columns]}"
            )

    def example_rows(self, n: int = 5) -> pd.DataFrame:
        """``n`` raw rows made of known values (a deployed model's input example)."""
        rows = TRANSFORMS[self.transform][2](self, int(n))
        for name in self._sequences:
            if name not in rows.columns:
                values = list(self.vocabularies.get(name, ())) or [""]
                rows[name] = [[values[(i + j) % len(values)] for j in range(3)]
                              for i in range(int(n))]  # fmt: skip
        return rows

    def decode_rows(self, n: int) -> pd.DataFrame:
        """``n`` rows of field values: the ``i``-th row takes each vocabulary's ``i``-th value."""
        import pandas as pd

        columns: dict[str, list[Any]] = {}
        for name, kind in self.fields:
            values = list(self.vocabularies.get(name, ())) or [""]
            if kind == "numeric":
                columns[name] = [0.0] * n
            elif kind == "categorical":
                columns[name] = [values[i % len(values)] for i in range(n)]
            else:
                columns[name] = [self.multi_hot_sep.join(values[i % len(values):][:2])
                                 for i in range(n)]  # fmt: skip
        return pd.DataFrame(columns)

    def encode(
        self, df: pd.DataFrame, max_lens: Mapping[str, int] | None = None
    ) -> dict[str, Any]:
        """Model inputs of raw rows; unseen values map to 0.

        Args:
            df: Raw rows.
            max_lens: Sequence field -> the history length the model reads (``Field.max_len``);
                a field not given keeps every value of the longest row.

        Returns ``categorical`` ``(n, C)`` int64, ``numeric`` ``(n, N)`` float32, ``multi_hot``
        (a list of ``(n, L)`` int64) and ``sequence`` (a list of left-padded ``(n, max_len)``
        int64, the most recent values last).

        Raises:
            DataError: A raw column is missing (all missing ones named) or a numeric column
                holds text.
        """
        import pandas as pd

        self.check_columns(df)
        raw = df.reset_index(drop=True)
        frame = TRANSFORMS[self.transform][0](raw, self.options)
        n = len(frame)
        cat, num, mh, seq = [], [], [], []
        for name, kind in self.fields:
            column = raw[name] if kind == "sequence" else frame[name]
            if kind == "numeric":
                values = pd.to_numeric(column, errors="coerce")
                bad = values.isna() & column.notna()
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise DataError(f"row {i}, column {name!r}: numeric field holds "
                                    f"{column.iloc[i]!r}")  # fmt: skip
                num.append(values.fillna(0.0).to_numpy(dtype=np.float32))
                continue
            lookup = {v: i + 1 for i, v in enumerate(self.vocabularies.get(name, ()))}
            if kind == "categorical":
                cat.append(np.array([lookup.get(normalize(v), 0) for v in column], np.int64))
            elif kind == "sequence":
                # NOTE: as the loader does, values outside the vocabulary leave the history
                rows = [[i for i in (lookup.get(normalize(t), 0) for t in self._tokens(v)) if i]
                        for v in column]  # fmt: skip
                width = int((max_lens or {}).get(name) or max([1, *map(len, rows)]))
                out = np.zeros((n, width), dtype=np.int64)
                for r, ids in enumerate(rows):
                    kept = ids[-width:]
                    out[r, width - len(kept):] = kept
                seq.append(out)
            else:
                rows = [self._tokens(v) for v in column]
                width = max([1, *map(len, rows)])
                out = np.zeros((n, width), dtype=np.int64)
                for r, tokens in enumerate(rows):
                    ids = [i for i in (lookup.get(normalize(t), 0) for t in tokens) if i > 0]
                    out[r, : len(ids)] = ids
                mh.append(out)
        return {
            "categorical": np.stack(cat, axis=1) if cat else np.zeros((n, 0), np.int64),
            "numeric": np.stack(num, axis=1) if num else np.zeros((n, 0), np.float32),
            "multi_hot": mh,
            "sequence": seq,
        }

    def _tokens(self, value: Any) -> list[Any]:
        if isinstance(value, str):
            return [t for t in value.split(self.multi_hot_sep) if t]
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return []
        return list(value)


def encoder_of(dataset: Dataset) -> Encoder | None:
    """The encoder a loader stored on ``dataset``, or ``None`` (e.g. ``synthetic``)."""
    raw = dataset.info.get(ENCODER_INFO)
    return Encoder.from_dict(raw) if isinstance(raw, Mapping) else None


def check_schema(encoder: Encoder, schema: Schema) -> None:
    """Raise :class:`DataError` when ``encoder`` was not made for ``schema``'s fields."""
    wanted = tuple((f.name, f.kind) for f in schema.fields)
    if tuple(encoder.fields) != wanted:
        raise DataError(f"the encoder's fields {list(encoder.fields)} differ from the "
                        f"schema's {list(wanted)}")  # fmt: skip
    lacking = [f.name for f in schema.fields
               if f.kind != "numeric" and f.vocab_size > 1 and f.name not in encoder.vocabularies]
    if lacking:
        raise DataError(f"the encoder has no vocabulary for {lacking}, so raw values of those "
                        "fields could not be mapped to a model's indices")  # fmt: skip
