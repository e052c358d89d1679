"""The torch-free plan of the numeric-field embeddings (``EmbeddingSpec.numeric``, AutoDis).

Every embedded numeric field gives one vector at the interaction width; the plan fixes its
bucket boundaries (from the schema's training quantiles), parameter counts and FLOPs, and
:class:`recsearch.objectives.numeric.NumericEmbeddings` is built from it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from recsearch.errors import InvalidParameterError

if TYPE_CHECKING:
    from recsearch.data.schema import Schema
    from recsearch.spec import NumericEmbedding


@dataclass(frozen=True)
class NumericPlan:
    """One embedded numeric field.

    Attributes:
        name: Field name.
        column: Its column in ``Split.numeric``.
        spec: Its representation.
        boundaries: Bucket boundaries (``bucket`` only; ``len + 1`` buckets).
        dim: Embedding width (the interaction width).
    """

    name: str
    column: int
    spec: NumericEmbedding
    boundaries: tuple[float, ...]
    dim: int

    @property
    def n_buckets(self) -> int:
        """Buckets of a ``bucket`` field (0 otherwise)."""
        return len(self.boundaries) + 1 if self.spec.representation == "bucket" else 0

    @property
    def embedding_params(self) -> int:
        """Parameters of its embedding table(s): field vector, bucket rows or meta-embeddings."""
        rep = self.spec.representation
        if rep == "field":
            return self.dim
        if rep == "bucket":
            return self.n_buckets * self.dim
        return self.spec.meta * self.dim

    @property
    def other_params(self) -> int:
        """AutoDis's soft-discretisation weights ``w`` (H) and ``W`` (H x H)."""
        h = self.spec.meta
        return h + h * h if self.spec.representation == "autodis" else 0

    @property
    def flops(self) -> int:
        """FLOPs per sample."""
        rep = self.spec.representation
        if rep == "field":
            return self.dim
        if rep == "bucket":
            return math.ceil(math.log2(self.n_buckets))
        h = self.spec.meta
        return 2 * h + 2 * h * h + 2 * h + 3 * h + 2 * h * self.dim


def bucket_boundaries(
    name: str, quantiles: np.ndarray, spec: NumericEmbedding
) -> tuple[float, ...]:
    """Interior boundaries of ``spec.buckets`` buckets from a field's training quantiles.

    Raises:
        InvalidParameterError: The field has no quantiles (a schema built by hand).
    """
    q = np.asarray(quantiles, dtype=np.float64)
    if q.size < 2:
        raise InvalidParameterError(
            f"Numeric field {name!r} has no training quantiles, which bucketised embeddings "
            "cut at; load the data through recsearch.data (it records them)."
        )
    b = int(spec.buckets)
    if spec.bucketing == "quantile":
        points = np.quantile(q, np.linspace(0.0, 1.0, b + 1))[1:-1]
    else:
        lo, hi = (np.sign(v) * np.log1p(abs(v)) for v in (q[0], q[-1]))
        z = np.linspace(lo, hi, b + 1)[1:-1]
        points = np.sign(z) * np.expm1(np.abs(z))
    return tuple(float(v) for v in np.unique(points))


def numeric_plan(
    embedded: tuple[NumericEmbedding, ...], schema: Schema, dim: int
) -> tuple[tuple[NumericPlan, ...], tuple[int, ...]]:
    """The embedded numeric fields and the ``Split.numeric`` columns that stay dense inputs.

    Raises:
        InvalidParameterError: A listed field is not a numeric field of the schema.
    """
    names = [f.name for f in schema.numeric]
    unknown = [ne.field for ne in embedded if ne.field not in names]
    if unknown:
        raise InvalidParameterError(
            f"ModelSpec.embedding.numeric names fields {unknown} that are not numeric fields "
            f"of the schema; numeric fields: {names}"
        )
    by_name = {ne.field: ne for ne in embedded}
    plans: list[NumericPlan] = []
    dense: list[int] = []
    for column, f in enumerate(schema.numeric):
        ne = by_name.get(f.name)
        if ne is None or ne.representation == "dense":
            dense.append(column)
            continue
        bucketed = ne.representation == "bucket"
        bounds = bucket_boundaries(f.name, f.quantiles, ne) if bucketed else ()
        plans.append(NumericPlan(f.name, column, ne, bounds, dim))
    return tuple(plans), tuple(dense)
