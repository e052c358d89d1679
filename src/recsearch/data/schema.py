"""Schema and dataset containers shared by every loader.

Index conventions (every loader keeps them):

- categorical field: values are ``int64`` indices in ``[0, vocab_size)``; index ``0`` is the
  out-of-vocabulary (OOV) index, reserved per field.
- multi-hot field: a padded ``int64`` matrix ``(n, max_len)``; index ``0`` is both padding and OOV
  and is skipped by pooling.
- numeric field: ``float32`` values, already transformed (the loader documents how).
- sequence field: an ordered history, a left-padded ``int64`` matrix ``(n, max_len)``: the most
  recent ``max_len`` values oldest first, so the last column is the most recent; 0 pads.
- label: ``float32`` 0/1.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Literal

import numpy as np

FieldKind = Literal["categorical", "numeric", "multi_hot", "sequence"]
QUANTILE_POINTS = 101
"""Length of ``Field.quantiles``: the training quantiles at every percent, both ends included."""


@dataclass(frozen=True, eq=False)
class Field:
    """One input field.

    Attributes:
        name: Column name.
        kind: ``categorical``, ``numeric`` or ``multi_hot``.
        vocab_size: Number of indices including the OOV index 0 (1 for numeric fields).
        frequencies: Training-split count of each index, shape ``(vocab_size,)``; empty for
            numeric fields. Frequency-aware embedding search (NIS groups) ranks values by it.
        quantiles: Numeric fields: the training-split quantiles at ``0, 0.01, ..., 1``
            (:data:`QUANTILE_POINTS` values; empty when unknown). Bucketised numeric embeddings
            cut at them.
        max_len: Sequence fields: the padded length of a history (``Split.sequence`` width).

    Example:
        >>> Field("gender", "categorical", 3, np.array([0, 40, 60]))
        Field(name='gender', kind='categorical', vocab_size=3)
    """

    name: str
    kind: FieldKind
    vocab_size: int = 1
    frequencies: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    quantiles: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.float64))
    max_len: int = 0

    def __repr__(self) -> str:
        return f"Field(name={self.name!r}, kind={self.kind!r}, vocab_size={self.vocab_size})"


@dataclass(frozen=True, eq=False)
class Schema:
    """The label and the fields of a data set, in column order.

    Example:
        >>> schema = Schema("click", (Field("user", "categorical", 10),))
        >>> schema.sparse_names
        ('user',)
    """

    label: str
    fields: tuple[Field, ...]

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for f in self.fields:
            if f.name in seen:
                raise ValueError(f"Schema: field {f.name!r} is named twice")
            seen.add(f.name)

    def __getitem__(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"Schema has no field {name!r}; fields: {self.names}")

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def __len__(self) -> int:
        return len(self.fields)

    @property
    def names(self) -> tuple[str, ...]:
        """All field names in column order."""
        return tuple(f.name for f in self.fields)

    @property
    def categorical(self) -> tuple[Field, ...]:
        """Categorical fields in column order (the columns of ``Split.categorical``)."""
        return tuple(f for f in self.fields if f.kind == "categorical")

    @property
    def numeric(self) -> tuple[Field, ...]:
        """Numeric fields in column order (the columns of ``Split.numeric``)."""
        return tuple(f for f in self.fields if f.kind == "numeric")

    @property
    def multi_hot(self) -> tuple[Field, ...]:
        """Multi-hot fields in column order (the entries of ``Split.multi_hot``)."""
        return tuple(f for f in self.fields if f.kind == "multi_hot")

    @property
    def sequence(self) -> tuple[Field, ...]:
        """Sequence fields in column order (the entries of ``Split.sequence``)."""
        return tuple(f for f in self.fields if f.kind == "sequence")

    @property
    def sparse(self) -> tuple[Field, ...]:
        """Embedded fields: categorical first, then multi-hot (the model's embedding order)."""
        return self.categorical + self.multi_hot

    @property
    def sparse_names(self) -> tuple[str, ...]:
        """Names of the embedded fields in embedding order."""
        return tuple(f.name for f in self.sparse)

    def describe(self) -> str:
        """A human-readable table of the fields."""
        lines = [f"label: {self.label}", f"fields: {len(self.fields)}"]
        for f in self.fields:
            vocab = "-" if f.kind == "numeric" else f"{f.vocab_size:,}"
            lines.append(f"  {f.name:<16} {f.kind:<12} vocab={vocab}")
        return "\n".join(lines)


@dataclass(frozen=True, eq=False)
class Split:
    """One split of a data set as compact arrays ready for batching.

    Attributes:
        categorical: ``(n, n_categorical)`` int64 indices, columns in ``Schema.categorical`` order.
        numeric: ``(n, n_numeric)`` float32, columns in ``Schema.numeric`` order.
        multi_hot: One ``(n, max_len)`` int64 matrix per ``Schema.multi_hot`` field, 0-padded.
        label: ``(n,)`` float32 0/1.
        sequence: One ``(n, max_len)`` int64 left-padded matrix per ``Schema.sequence`` field.
    """

    categorical: np.ndarray
    numeric: np.ndarray
    multi_hot: tuple[np.ndarray, ...]
    label: np.ndarray
    sequence: tuple[np.ndarray, ...] = ()

    def __len__(self) -> int:
        return int(self.label.shape[0])

    def take(self, index: np.ndarray | slice) -> Split:
        """Rows selected by an index array or a slice, as a new split."""
        return Split(
            self.categorical[index],
            self.numeric[index],
            tuple(m[index] for m in self.multi_hot),
            self.label[index],
            tuple(m[index] for m in self.sequence),
        )

    @property
    def positive_rate(self) -> float:
        """Share of positive labels (nan for an empty split)."""
        return float(self.label.mean()) if len(self) else float("nan")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A schema with train/valid/test splits.

    Attributes:
        name: A short name (``movielens-100k``, ``synthetic``, a file name).
        schema: The fields and label.
        train: Training split (field frequencies are counted on it).
        valid: Validation split (search metrics).
        test: Test split (reported, never searched on).
        info: Loader-specific facts, e.g. the planted ground truth of ``synthetic``.
    """

    name: str
    schema: Schema
    train: Split
    valid: Split
    test: Split
    info: Mapping[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.train) + len(self.valid) + len(self.test)

    def summary(self) -> str:
        """Schema plus split sizes and positive rate, as printed by ``make demo``."""
        total_pos = sum(float(s.label.sum()) for s in (self.train, self.valid, self.test))
        lines = [
            f"dataset: {self.name}",
            f"rows: {len(self):,} (train {len(self.train):,} / valid {len(self.valid):,}"
            f" / test {len(self.test):,})",
            f"positive rate: {total_pos / max(len(self), 1):.3f}",
            self.schema.describe(),
        ]
        return "\n".join(lines)
