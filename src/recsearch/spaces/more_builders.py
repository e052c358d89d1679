"""Builders of the later seed spaces' sections: AutoIAS, FIVES, PEP, AutoDis and AMEIR's.

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
:func:`behaviour`          ``seq``         ``l<k>.op``, ``l<k>.norm``, ``l<k>.act``,
                                           ``output``
:func:`mlp_fractions`      ``mlp``         ``depth``, ``frac.<k>`` (ordinal), ``act.<k>``
:func:`finetuning`         ``ft``          ``<field>`` (bool: fine-tune its embedding),
                                           ``part.<part>`` (bool: fine-tune the part)
=========================  ==============  ===============================================
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Constant
from ConfigSpace import EqualsCondition
from ConfigSpace import Float
from ConfigSpace import GreaterThanCondition
from ConfigSpace import Integer
from ConfigSpace import NotEqualsCondition

from recsearch.errors import InvalidParameterError
from recsearch.spaces.builders import _bool
from recsearch.spaces.builders import _check_safe
from recsearch.spaces.builders import _nearest
from recsearch.spaces.builders import _ordinal
from recsearch.spaces.builders import _pairs
from recsearch.spaces.builders import _space
from recsearch.spaces.builders import pair_name
from recsearch.spec import BUCKETINGS
from recsearch.spec import FINE_TUNE_PARTS
from recsearch.spec import HEAD_ACTIVATIONS
from recsearch.spec import NUMERIC_REPRESENTATIONS
from recsearch.spec import PRUNE_GRANULARITIES
from recsearch.spec import SEQUENCE_ACTIVATIONS
from recsearch.spec import SEQUENCE_NORMS
from recsearch.spec import SEQUENCE_OPS
from recsearch.spec import SEQUENCE_OUTPUTS

if TYPE_CHECKING:
    from recsearch.data.schema import Schema

__all__ = [
    "BUCKET_COUNTS",
    "META_EMBEDDINGS",
    "PEP_INITS",
    "PROJECTION_DIMS",
    "MLP_FRACTIONS",
    "behaviour",
    "finetuning",
    "graph",
    "mlp_fractions",
    "graph_edges",
    "numeric_fields",
    "projection",
    "pruning",
]

PROJECTION_DIMS: tuple[int, ...] = (4, 8, 16, 32, 64)
BUCKET_COUNTS: tuple[int, ...] = (4, 8, 16, 32, 64)
META_EMBEDDINGS: tuple[int, ...] = (4, 8, 16, 32, 64)
MLP_FRACTIONS: tuple[float, ...] = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0)
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
            "needs some; load Criteo with criteo(..., numeric='keep') (recsearch run: "
            "--dataset-option numeric=keep), or generate them with synthetic(n_numeric=...))."
        )
    default = "autodis" if "autodis" in reps else reps[0]
    items: list[Any] = []
    for f in schema.numeric:
        _check_safe("numeric_fields", "field name", f.name)
        rep = Categorical(f"{p}{f.name}", reps, default=default)
        items.append(rep)
        typed = [
            (_ordinal(f"{p}{f.name}.buckets", bs, _nearest(bs, 16)), "bucket"),
            (
                Categorical(f"{p}{f.name}.bucketing", list(BUCKETINGS), default="quantile"),
                "bucket",
            ),
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


def behaviour(
    schema: Schema,
    *,
    layers: int = 2,
    ops: Sequence[str] = SEQUENCE_OPS,
    outputs: Sequence[str] = SEQUENCE_OUTPUTS,
) -> ConfigurationSpace:
    """AMEIR's behaviour stage: per layer an op, a normalisation and an activation; the output.

    ``l<k>.norm`` and ``l<k>.act`` are active only when ``l<k>.op`` is not ``zero``. Decodes to
    ``ModelSpec.behaviour`` (every sequence field gets this encoder).

    Raises:
        InvalidParameterError: The schema has no sequence field.

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("c", "categorical", 5), Field("h", "sequence", 9)))
        >>> sorted(behaviour(schema, layers=1))
        ['l1.act', 'l1.norm', 'l1.op', 'output']
    """
    return _space(_behaviour_items(schema, "", layers=layers, ops=ops, outputs=outputs))


def _behaviour_items(
    schema: Schema, p: str, *, layers: int, ops: Sequence[str], outputs: Sequence[str]
) -> list[Any]:
    opl = list(dict.fromkeys(ops))
    outl = list(dict.fromkeys(outputs))
    bad = [o for o in opl if o not in SEQUENCE_OPS]
    bad += [o for o in outl if o not in SEQUENCE_OUTPUTS]
    if int(layers) < 0 or not opl or not outl or bad:
        raise InvalidParameterError(
            f"behaviour needs layers >= 0, ops among {SEQUENCE_OPS} and outputs among "
            f"{SEQUENCE_OUTPUTS}. Got layers={layers!r}, ops={tuple(ops)!r}, "
            f"outputs={tuple(outputs)!r} instead."
        )
    if not schema.sequence:
        raise InvalidParameterError(
            "behaviour: the data set has no sequence field to encode (the ameir space needs "
            "one; load MovieLens with movielens_100k(history=K) (recsearch run: "
            "--dataset-option history=K), or give from_frame(sequence=[...]))."
        )
    items: list[Any] = [
        Categorical(f"{p}output", outl, default="target" if "target" in outl else outl[0])
    ]
    for k in range(1, int(layers) + 1):
        op = Categorical(f"{p}l{k}.op", opl, default="zero" if "zero" in opl else opl[0])
        norm = Categorical(f"{p}l{k}.norm", list(SEQUENCE_NORMS), default="none")
        act = Categorical(f"{p}l{k}.act", list(SEQUENCE_ACTIVATIONS), default="relu")
        items += [op, norm, act]
        if "zero" in opl and len(opl) > 1:
            items += [NotEqualsCondition(norm, op, "zero"), NotEqualsCondition(act, op, "zero")]
    return items


def mlp_fractions(
    schema: Schema | None = None,
    *,
    max_depth: int = 3,
    fractions: Sequence[float] = MLP_FRACTIONS,
    activations: Sequence[str] = HEAD_ACTIVATIONS,
) -> ConfigurationSpace:
    """AMEIR's MLP: depth, and per layer a width as a fraction of its input and an activation.

    Compose it under ``mlp`` (in place of :func:`~recsearch.spaces.mlp`); decodes to
    ``HeadSpec(fractions=..., activations=...)``. ``frac.<k>`` and ``act.<k>`` are active when
    ``depth > k``.

    Example:
        >>> sorted(mlp_fractions(max_depth=2))
        ['act.0', 'act.1', 'depth', 'frac.0', 'frac.1']
    """
    del schema  # NOTE: accepted so that every builder takes the schema first.
    return _space(
        _mlp_fraction_items("", max_depth=max_depth, fractions=fractions, activations=activations)
    )


def _mlp_fraction_items(
    p: str, *, max_depth: int, fractions: Sequence[float], activations: Sequence[str]
) -> list[Any]:
    fr = sorted({float(f) for f in fractions})
    acts = list(dict.fromkeys(activations))
    bad = [a for a in acts if a not in HEAD_ACTIVATIONS]
    if int(max_depth) < 1 or not fr or not 0 < fr[0] <= fr[-1] <= 1 or not acts or bad:
        raise InvalidParameterError(
            f"mlp_fractions needs max_depth >= 1, fractions in (0, 1] and activations among "
            f"{HEAD_ACTIVATIONS}. Got max_depth={max_depth!r}, fractions={tuple(fractions)!r}, "
            f"activations={tuple(activations)!r} instead."
        )
    depth: Any = (
        Integer(f"{p}depth", (1, int(max_depth)), default=min(2, int(max_depth)))
        if int(max_depth) > 1
        else Constant(f"{p}depth", 1)
    )
    items: list[Any] = [depth]
    for k in range(int(max_depth)):
        frac = _ordinal(f"{p}frac.{k}", fr, min(fr, key=lambda v: (abs(v - 0.5), v)))
        act = Categorical(f"{p}act.{k}", acts, default="relu" if "relu" in acts else acts[0])
        items += [frac, act]
        if k > 0:
            items += [GreaterThanCondition(frac, depth, k), GreaterThanCondition(act, depth, k)]
    return items


def finetuning(
    schema: Schema, *, parts: Sequence[str] = ("linear", "interaction", "mlp")
) -> ConfigurationSpace:
    """AutoFT: per sparse field whether its embedding is fine-tuned, and per part whether it is.

    Every boolean defaults to ``True`` (fine-tune everything). Decodes to
    ``ModelSpec.finetune`` (what is *not* fine-tuned stays frozen); a model of such a space
    needs a pre-trained state to start from.

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("a", "categorical", 5), Field("b", "categorical", 5)))
        >>> list(finetuning(schema, parts=("mlp",)))
        ['a', 'b', 'part.mlp']
    """
    return _space(_finetuning_items(schema, "", parts=parts))


def _finetuning_items(schema: Schema, p: str, *, parts: Sequence[str]) -> list[Any]:
    ps = list(dict.fromkeys(parts))
    bad = [x for x in ps if x not in FINE_TUNE_PARTS]
    if bad:
        raise InvalidParameterError(
            f"The 'parts' parameter of finetuning must be among {FINE_TUNE_PARTS}. "
            f"Got {tuple(parts)!r} instead."
        )
    names = [f.name for f in schema.sparse]
    for name in names:
        _check_safe("finetuning", "field name", name)
    if not names:
        raise InvalidParameterError("finetuning: the schema has no sparse field.")
    return [_bool(f"{p}{n}", default=True) for n in names] + [
        _bool(f"{p}part.{x}", default=True) for x in ps
    ]
