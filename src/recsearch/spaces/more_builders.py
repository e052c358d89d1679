"""Builders of the later seed spaces' sections: projection (AutoIAS), graph (FIVES), PEP, AutoDis.

Same conventions as :mod:`recsearch.spaces.builders` (schema first, local names, compose under
the prefix shown):

=========================  ==============  ===============================================
builder                    compose prefix  local names
=========================  ==============  ===============================================
:func:`projection`         ``proj``        ``dim`` (ordinal)
:func:`graph`              ``graph``       ``l<k>.<a>-<b>`` (bool: at layer ``k`` field
                                           ``a`` reads field ``b``)
:func:`pruning`            ``pep``         ``granularity``, ``init`` (ordinal)
:func:`numeric_fields`     ``num``         ``<field>`` (representation), ``<field>.buckets``,
                                           ``<field>.bucketing``, ``<field>.meta``,
                                           ``<field>.temperature`` (numeric fields)
=========================  ==============  ===============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace
from ConfigSpace import EqualsCondition
from ConfigSpace import Float

from recsearch.errors import InvalidParameterError
from recsearch.spaces.builders import _bool
from recsearch.spaces.builders import _check_safe
from recsearch.spaces.builders import _nearest
from recsearch.spaces.builders import _ordinal
from recsearch.spaces.builders import _pairs
from recsearch.spaces.builders import _space
from recsearch.spaces.builders import pair_name
from recsearch.spec import BUCKETINGS
from recsearch.spec import NUMERIC_REPRESENTATIONS
from recsearch.spec import PRUNE_GRANULARITIES

if TYPE_CHECKING:
    from recsearch.data.schema import Schema

__all__ = [
    "BUCKET_COUNTS",
    "META_EMBEDDINGS",
    "PEP_INITS",
    "PROJECTION_DIMS",
    "graph",
    "graph_edges",
    "numeric_fields",
    "projection",
    "pruning",
]

PROJECTION_DIMS: tuple[int, ...] = (4, 8, 16, 32, 64)
BUCKET_COUNTS: tuple[int, ...] = (4, 8, 16, 32, 64)
META_EMBEDDINGS: tuple[int, ...] = (4, 8, 16, 32, 64)
PEP_INITS: tuple[float, ...] = (-8.0, -6.0, -5.0, -4.5, -4.0, -3.5)
"""Initial PEP ``s``: from dense (``g = 3e-4``) to pruning most of a 0.01-std table."""


def projection(
    schema: Schema | None = None, *, dims: Sequence[int] = PROJECTION_DIMS
) -> ConfigurationSpace:
    """AutoIAS: the one width mixed embedding dimensions are projected to for interactions.

    Decodes to ``EmbeddingSpec.interaction_dim``.

    Example:
        >>> projection(dims=(8, 16))["dim"].sequence
        (8, 16)
    """
    del schema  # NOTE: accepted so that every builder takes the schema first.
    return _space(_projection_items("", dims=dims))


def _projection_items(p: str, *, dims: Sequence[int]) -> list[Any]:
    ds = sorted({int(d) for d in dims})
    if not ds or ds[0] < 1:
        raise InvalidParameterError(
            "The 'dims' parameter of projection must be positive integers, at least one. "
            f"Got {tuple(dims)!r} instead."
        )
    return [_ordinal(f"{p}dim", ds, _nearest(ds, 16))]


def graph_edges(owner: str, schema: Schema) -> list[tuple[str, str]]:
    """Every directed edge ``(a, b)`` between two sparse fields, in schema order."""
    pairs = _pairs(owner, schema)
    edges = [e for a, b in pairs for e in ((a, b), (b, a))]
    names = [pair_name(a, b) for a, b in edges]
    if len(set(names)) != len(names):
        raise InvalidParameterError(
            f"{owner}: field names make ambiguous edge names; rename fields that contain '-'."
        )
    return edges


def graph(schema: Schema, *, layers: int = 2) -> ConfigurationSpace:
    """FIVES: per layer ``k``, one boolean per directed field edge, ``l<k>.<a>-<b>``.

    Order priority: an edge of layer ``k > 1`` is active only while the same edge of layer
    ``k - 1`` is on (an ``EqualsCondition``), so an order-``k+1`` interaction is searched only
    on top of its lower-order parent. Every edge defaults to off (the default configuration adds
    nothing to the base model).

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("a", "categorical", 5), Field("b", "categorical", 5)))
        >>> cs = graph(schema, layers=2)
        >>> list(cs), cs.parent_conditions_of["l2.a-b"]
        (['l1.a-b', 'l1.b-a', 'l2.a-b', 'l2.b-a'], [l2.a-b | l1.a-b == True])
    """
    return _space(_graph_items(schema, "", layers=layers))


def _graph_items(schema: Schema, p: str, *, layers: int) -> list[Any]:
    if int(layers) < 1:
        raise InvalidParameterError(
            f"The 'layers' parameter of graph must be >= 1. Got {layers!r} instead."
        )
    edges = graph_edges("graph", schema)
    if not edges:
        raise InvalidParameterError("graph: the schema has fewer than two sparse fields.")
    items: list[Any] = []
    previous: dict[tuple[str, str], Any] = {}
    for k in range(1, int(layers) + 1):
        current = {}
        for a, b in edges:
            hp = _bool(f"{p}l{k}.{pair_name(a, b)}", default=False)
            items.append(hp)
            if k > 1:
                items.append(EqualsCondition(hp, previous[(a, b)], True))
            current[(a, b)] = hp
        previous = current
    return items




def pruning(
    schema: Schema | None = None,
    *,
    granularities: Sequence[str] = PRUNE_GRANULARITIES,
    inits: Sequence[float] = PEP_INITS,
) -> ConfigurationSpace:
    """PEP: what one learnable threshold covers, and its initial value (the target sparsity).

    Decodes to ``EmbeddingSpec.prune`` (:class:`~recsearch.spec.PruneSpec`).

    Example:
        >>> sorted(pruning(granularities=("field",)))
        ['granularity', 'init']
    """
    del schema  # NOTE: accepted so that every builder takes the schema first.
    return _space(_pruning_items("", granularities=granularities, inits=inits))


def _pruning_items(p: str, *, granularities: Sequence[str], inits: Sequence[float]) -> list[Any]:
    grans = list(dict.fromkeys(granularities))
    values = sorted({float(v) for v in inits})
    if not grans or any(g not in PRUNE_GRANULARITIES for g in grans) or not values:
        raise InvalidParameterError(
            f"pruning needs granularities among {PRUNE_GRANULARITIES} and at least one init. "
            f"Got granularities={tuple(granularities)!r}, inits={tuple(inits)!r} instead."
        )
    default = "field" if "field" in grans else grans[0]
    return [
        Categorical(f"{p}granularity", grans, default=default),
        _ordinal(f"{p}init", values, min(values, key=lambda v: (abs(v + 5.0), v))),
    ]


def numeric_fields(
    schema: Schema,
    *,
    representations: Sequence[str] = NUMERIC_REPRESENTATIONS,
    buckets: Sequence[int] = BUCKET_COUNTS,
    meta: Sequence[int] = META_EMBEDDINGS,
) -> ConfigurationSpace:
    """AutoDis: per numeric field, its representation and that representation's settings.

    ``<field>`` among ``dense`` (dense input only), ``field``, ``bucket`` and ``autodis``;
    ``<field>.buckets`` (ordinal) and ``<field>.bucketing`` only for ``bucket``;
    ``<field>.meta`` (the number H of meta-embeddings, ordinal) and ``<field>.temperature``
    (log-uniform) only for ``autodis``. Decodes to ``EmbeddingSpec.numeric``.

    Raises:
        InvalidParameterError: The schema has no numeric field.

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("c", "categorical", 5), Field("x", "numeric")))
        >>> sorted(numeric_fields(schema))
        ['x', 'x.bucketing', 'x.buckets', 'x.meta', 'x.temperature']
    """
    return _space(
        _numeric_items(schema, "", representations=representations, buckets=buckets, meta=meta)
    )


def _numeric_items(
    schema: Schema,
    p: str,
    *,
    representations: Sequence[str],
    buckets: Sequence[int],
    meta: Sequence[int],
) -> list[Any]:
    reps = list(dict.fromkeys(representations))
    bs = sorted({int(v) for v in buckets})
    hs = sorted({int(v) for v in meta})
    bad = [r for r in reps if r not in NUMERIC_REPRESENTATIONS]
    if not reps or bad or not bs or bs[0] < 2 or not hs or hs[0] < 1:
        raise InvalidParameterError(
            f"numeric_fields needs representations among {NUMERIC_REPRESENTATIONS}, buckets >= 2 "
            f"and meta >= 1. Got representations={tuple(representations)!r}, "
            f"buckets={tuple(buckets)!r}, meta={tuple(meta)!r} instead."
        )
    if not schema.numeric:
        raise InvalidParameterError(
            "numeric_fields: the data set has no numeric field to represent (the autodis space "
            "needs some; load Criteo with criteo(..., numeric='keep'), or generate them with "
            "synthetic(n_numeric=...))."
        )
    default = "autodis" if "autodis" in reps else reps[0]
    items: list[Any] = []
    for f in schema.numeric:
        _check_safe("numeric_fields", "field name", f.name)
        rep = Categorical(f"{p}{f.name}", reps, default=default)
        items.append(rep)
        typed = [
            (_ordinal(f"{p}{f.name}.buckets", bs, _nearest(bs, 16)), "bucket"),
            (Categorical(f"{p}{f.name}.bucketing", list(BUCKETINGS), default="quantile"), "bucket"),
            (_ordinal(f"{p}{f.name}.meta", hs, _nearest(hs, 16)), "autodis"),
            (Float(f"{p}{f.name}.temperature", (0.01, 10.0), log=True, default=1.0), "autodis"),
        ]
        for hp, on in typed:
            if on not in reps:
                continue
            items.append(hp)
            if len(reps) > 1:
                items.append(EqualsCondition(hp, rep, on))
    return items
