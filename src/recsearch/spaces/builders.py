"""Space builders: one ConfigSpace space per search dimension, and :func:`compose`.

Every builder takes the :class:`~recsearch.data.schema.Schema` first and returns a space with
*local* hyperparameter names; :func:`compose` prefixes them with the section name and ``.``.
:func:`recsearch.spaces.decode` reads the sections by these canonical prefixes:

===========================  =====================  ==========================================
builder                      compose prefix         local names (``<a>-<b>``: a field pair,
                                                    ``a`` before ``b`` in ``schema.sparse``)
===========================  =====================  ==========================================
:func:`embedding_dims`       ``emb``                ``<field>`` or ``<field>.g<k>`` (ordinal)
:func:`interaction_set`      ``inter``              ``<a>-<b>`` (bool)
:func:`interaction_functions` ``inter``             ``<a>-<b>`` (bool), ``<a>-<b>.fn``
:func:`interaction_groups`   ``group``              ``o<order>.g<k>.<field>`` (bool)
:func:`blocks`               ``block``              ``<i>.type``, ``<i>.main``, ``<i>.dense``,
                                                    ``<i>.sparse``, ``<i>.skip<j>``,
                                                    ``<i>.units`` ...
:func:`loss_mixture`         ``loss``               ``<loss>``, ``focal_gamma``
:func:`mlp`                  ``mlp``                ``depth``, ``width.<k>``, ``dropout``,
                                                    ``batch_norm``
:func:`training`             ``train``              ``optimizer``, ``lr``, ``momentum`` ...
===========================  =====================  ==========================================

So a composed space has names like ``emb.user_id``, ``inter.user_id-item_id``,
``inter.user_id-item_id.fn``, ``block.3.skip1``, ``loss.focal_gamma``, ``mlp.width.0`` and
``train.lr``. Names stay MLflow-safe (alphanumerics, ``_ - . / space``): MLflow rejects ``:`` and
``*``, so a pair is written ``<a>-<b>``. Field names must be MLflow-safe too (checked).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING
from typing import Any

from ConfigSpace import Categorical
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Constant
from ConfigSpace import EqualsCondition
from ConfigSpace import Float
from ConfigSpace import ForbiddenAndConjunction
from ConfigSpace import ForbiddenEqualsClause
from ConfigSpace import GreaterThanCondition
from ConfigSpace import InCondition
from ConfigSpace import Integer
from ConfigSpace import NotEqualsCondition

from recsearch.blocktypes import KINDS
from recsearch.errors import InvalidParameterError
from recsearch.spec import BLOCK_TYPES
from recsearch.spec import LOSSES
from recsearch.spec import OPTIMIZERS
from recsearch.spec import PAIR_FUNCTIONS
from recsearch.spec import BlockType
from recsearch.spec import PairFunction

if TYPE_CHECKING:
    from recsearch.data.schema import Schema

__all__ = [
    "AUTOCTR_BLOCK_TYPES",
    "BATCH_SIZES",
    "DEFAULT_DIMS",
    "LOSS_WEIGHTS",
    "MLP_UNITS",
    "blocks",
    "compose",
    "embedding_dims",
    "interaction_functions",
    "interaction_groups",
    "interaction_set",
    "loss_mixture",
    "mlp",
    "pair_name",
    "training",
]

DEFAULT_DIMS: tuple[int, ...] = (0, 2, 4, 8, 16, 32, 64)
MLP_UNITS: tuple[int, ...] = (32, 64, 128, 256, 512, 1024)
LOSS_WEIGHTS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
BATCH_SIZES: tuple[int, ...] = (256, 512, 1024, 2048, 4096)
AUTOCTR_BLOCK_TYPES: tuple[BlockType, ...] = ("mlp", "fm", "dot", "efc", "cross", "attention")
"""AutoCTR's six block types (the default of :func:`blocks`)."""

_SAFE = re.compile(r"^[\w.\- /]+$")


def _check_safe(owner: str, what: str, name: str) -> None:
    if not _SAFE.match(name):
        raise InvalidParameterError(
            f"{owner}: {what} {name!r} is not MLflow-safe; names may only contain alphanumerics, "
            "'_', '-', '.', ' ' and '/'."
        )


def _sparse_names(owner: str, schema: Schema) -> tuple[str, ...]:
    names = schema.sparse_names
    for name in names:
        _check_safe(owner, "field name", name)
    return names


def pair_name(a: str, b: str) -> str:
    """The local name of the field pair ``(a, b)``: ``a-b``.

    Example:
        >>> pair_name("user_id", "item_id")
        'user_id-item_id'
    """
    return f"{a}-{b}"


def _pairs(owner: str, schema: Schema) -> list[tuple[str, str]]:
    pairs = list(itertools.combinations(_sparse_names(owner, schema), 2))
    names = [pair_name(a, b) for a, b in pairs]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        raise InvalidParameterError(
            f"{owner}: field names make ambiguous pair names {dup}; rename fields that contain "
            "'-'."
        )
    return pairs


def _ordinal(name: str, values: Sequence[Any], default: Any) -> Any:
    return Categorical(name, list(values), ordered=True, default=default)


def _nearest(values: Sequence[int], target: int) -> int:
    return min(values, key=lambda v: (abs(v - target), v))


def _bool(name: str, *, default: bool = False) -> Any:
    return Categorical(name, [False, True], default=default)


def _space(items: list[Any]) -> ConfigurationSpace:
    cs = ConfigurationSpace()
    cs.add(items)
    return cs


def embedding_dims(
    schema: Schema,
    *,
    candidates: Sequence[int] = DEFAULT_DIMS,
    groups: int = 1,
) -> ConfigurationSpace:
    """Embedding dimension per sparse field (AutoDim), or per frequency group (NIS).

    One ordinal hyperparameter per field (``<field>``), or per field and frequency group
    (``<field>.g<k>``, ``k = 0`` the most frequent values) when ``groups > 1``; a field gets
    ``min(groups, vocab_size)`` groups. Dimension 0 drops the field (or group). A configuration
    dropping every field is forbidden (a ``ForbiddenAndConjunction``).

    Args:
        schema: The data schema.
        candidates: Candidate dimensions (sorted, so strategies may treat them as ordinal).
        groups: Frequency groups per field.

    Returns:
        The space (local names, compose it under ``emb``).

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("u", "categorical", 10), Field("i", "categorical", 5)))
        >>> sorted(embedding_dims(schema, groups=2))
        ['i.g0', 'i.g1', 'u.g0', 'u.g1']
    """
    return _space(_embedding_items(schema, "", candidates=candidates, groups=groups))


def _embedding_items(
    schema: Schema, p: str, *, candidates: Sequence[int], groups: int
) -> list[Any]:
    dims = sorted({int(d) for d in candidates})
    if not dims or dims[0] < 0:
        raise InvalidParameterError(
            "The 'candidates' parameter of embedding_dims must be non-negative integers, at "
            f"least one. Got {tuple(candidates)!r} instead."
        )
    if int(groups) < 1:
        raise InvalidParameterError(
            f"The 'groups' parameter of embedding_dims must be >= 1. Got {groups!r} instead."
        )
    nonzero = [d for d in dims if d > 0] or dims
    default = _nearest(nonzero, 16)
    hps = []
    for f in schema.sparse:
        _check_safe("embedding_dims", "field name", f.name)
        if groups == 1:
            hps.append(_ordinal(f"{p}{f.name}", dims, default))
        else:
            for k in range(max(1, min(int(groups), int(f.vocab_size)))):
                hps.append(_ordinal(f"{p}{f.name}.g{k}", dims, default))
    if not hps:
        raise InvalidParameterError("embedding_dims: the schema has no sparse field.")
    items: list[Any] = list(hps)
    if 0 in dims:
        if len(hps) == 1:
            items.append(ForbiddenEqualsClause(hps[0], 0))
        else:
            items.append(ForbiddenAndConjunction(*(ForbiddenEqualsClause(h, 0) for h in hps)))
    return items


def interaction_set(schema: Schema) -> ConfigurationSpace:
    """One boolean per field pair, ``<a>-<b>``: whether the pair interacts (AutoFIS).

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> fields = tuple(Field(n, "categorical", 5) for n in ("a", "b", "c"))
        >>> list(interaction_set(Schema("y", fields)))
        ['a-b', 'a-c', 'b-c']
    """
    return _space(_set_items(schema, ""))


def _set_items(schema: Schema, p: str) -> list[Any]:
    pairs = _pairs("interaction_set", schema)
    if not pairs:
        raise InvalidParameterError(
            "interaction_set: the schema has fewer than two sparse fields."
        )
    return [_bool(f"{p}{pair_name(a, b)}", default=True) for a, b in pairs]


def interaction_functions(
    schema: Schema,
    *,
    functions: Sequence[PairFunction] = PAIR_FUNCTIONS,
) -> ConfigurationSpace:
    """Per pair, whether it interacts (``<a>-<b>``) and, only then, its function (``.fn``).

    SIF / AutoFeature: the function is a conditional hyperparameter (an ``EqualsCondition`` on
    the pair's boolean), not a flat product.

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> fields = tuple(Field(n, "categorical", 5) for n in ("a", "b"))
        >>> cs = interaction_functions(Schema("y", fields), functions=("inner", "max"))
        >>> list(cs), cs["a-b.fn"].choices
        (['a-b', 'a-b.fn'], ('inner', 'max'))
    """
    return _space(_functions_items(schema, "", functions=functions))


def _functions_items(schema: Schema, p: str, *, functions: Sequence[str]) -> list[Any]:
    funcs = list(dict.fromkeys(functions))
    bad = [f for f in funcs if f not in PAIR_FUNCTIONS]
    if not funcs or bad:
        raise InvalidParameterError(
            f"The 'functions' parameter of interaction_functions must be among {PAIR_FUNCTIONS}"
            f", at least one. Got {tuple(functions)!r} instead."
        )
    pairs = _pairs("interaction_functions", schema)
    if not pairs:
        raise InvalidParameterError(
            "interaction_functions: the schema has fewer than two sparse fields."
        )
    items: list[Any] = []
    for a, b in pairs:
        on = _bool(f"{p}{pair_name(a, b)}", default=True)
        fn = Categorical(f"{p}{pair_name(a, b)}.fn", funcs, default=funcs[0])
        items += [on, fn, EqualsCondition(fn, on, True)]
    return items


def interaction_groups(
    schema: Schema,
    *,
    orders: Sequence[int] = (2, 3),
    groups: int = 4,
) -> ConfigurationSpace:
    """AutoGroup: per order, per group, one boolean per field (``o<order>.g<k>.<field>``).

    A group with fewer than two selected fields is empty (decoded as absent). The space is
    linear in the number of fields (``len(orders) * groups * fields``), usable where the pair
    spaces are not (Criteo: 741 pairs).

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> fields = tuple(Field(n, "categorical", 5) for n in ("a", "b"))
        >>> list(interaction_groups(Schema("y", fields), orders=(3,), groups=1))
        ['o3.g0.a', 'o3.g0.b']
    """
    return _space(_groups_items(schema, "", orders=orders, groups=groups))


def _groups_items(schema: Schema, p: str, *, orders: Sequence[int], groups: int) -> list[Any]:
    ords = sorted({int(o) for o in orders})
    if not ords or ords[0] < 2 or int(groups) < 1:
        raise InvalidParameterError(
            "interaction_groups needs orders >= 2 (at least one) and groups >= 1. "
            f"Got orders={tuple(orders)!r}, groups={groups!r} instead."
        )
    names = _sparse_names("interaction_groups", schema)
    if len(names) < 2:
        raise InvalidParameterError(
            "interaction_groups: the schema has fewer than two sparse fields."
        )
    return [
        _bool(f"{p}o{order}.g{k}.{name}", default=True)
        for order in ords
        for k in range(int(groups))
        for name in names
    ]


def blocks(
    schema: Schema,
    *,
    n_blocks: int = 7,
    types: Sequence[BlockType] = AUTOCTR_BLOCK_TYPES,
    units: Sequence[int] = MLP_UNITS,
) -> ConfigurationSpace:
    """The AutoCTR DAG of ``n_blocks`` blocks, each with a type and its inputs.

    Block ``i`` has:

    - ``<i>.type``; type-conditional hyperparameters: ``<i>.units`` (ordinal) and ``<i>.depth``
      (mlp), ``<i>.cross_layers`` and ``<i>.cross_version`` (cross), ``<i>.heads`` (ordinal) and
      ``<i>.attn_layers`` (attention), ``<i>.dim`` (ordinal; fm output width, efc embeddings),
      ``<i>.kernel`` (ordinal; conv). ``skip`` has none.
    - ``<i>.main``: the one input the block always reads: ``dense`` (only when the schema has
      numeric fields), ``sparse`` or ``b<j>`` (block ``j < i``).
    - extra input bits ``<i>.dense``, ``<i>.sparse`` and ``<i>.skip<j>``, each active only when
      its source is not the main input.

    So no configuration has a block without input, by construction: nothing is forbidden and
    sampling never rejects.

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> schema = Schema("y", (Field("a", "categorical", 5), Field("b", "categorical", 5)))
        >>> cs = blocks(schema, n_blocks=2, types=("mlp", "fm"))
        >>> cs["1.main"].choices
        ('sparse', 'b0')
    """
    return _space(_blocks_items(schema, "", n_blocks=n_blocks, types=types, units=units))


def _blocks_items(
    schema: Schema,
    prefix: str,
    *,
    n_blocks: int,
    types: Sequence[str],
    units: Sequence[int],
) -> list[Any]:
    n = int(n_blocks)
    tps = list(dict.fromkeys(types))
    bad = [t for t in tps if t not in BLOCK_TYPES]
    if n < 1 or not tps or bad:
        raise InvalidParameterError(
            f"blocks needs n_blocks >= 1 and types among {BLOCK_TYPES}. "
            f"Got n_blocks={n_blocks!r}, types={tuple(types)!r} instead."
        )
    _sparse_names("blocks", schema)
    if not schema.sparse:
        raise InvalidParameterError("blocks: the schema has no sparse field.")
    has_dense = bool(schema.numeric)
    n_inputs = len(schema.sparse) + has_dense
    for t in [t for t in tps if KINDS[t].min_inputs > n_inputs]:
        # NOTE: e.g. a dot block needs two embeddings; with one field it could only read one.
        tps.remove(t)
        if not tps:
            raise InvalidParameterError(
                f"blocks: a {t} block needs at least {KINDS[t].min_inputs} fields."
            )
    widths = sorted({int(u) for u in units})
    items: list[Any] = []
    for i in range(n):
        p = f"{prefix}{i}."
        btype = Categorical(f"{p}type", tps, default=tps[0])
        items.append(btype)
        sources = (["dense"] if has_dense else []) + ["sparse"] + [f"b{j}" for j in range(i)]
        main_default = f"b{i - 1}" if i > 0 else "sparse"
        main = Categorical(f"{p}main", sources, default=main_default)
        items.append(main)
        if len(sources) > 1:
            for src in sources:
                bit_name = f"{p}skip{src[1:]}" if src.startswith("b") else f"{p}{src}"
                bit = _bool(bit_name, default=False)
                items += [bit, NotEqualsCondition(bit, main, src)]

        # NOTE: each type's hyperparameters come from its descriptor (recsearch.blocktypes);
        # a name two types share (fm's and efc's dim) is one hyperparameter active for both.
        typed: dict[str, tuple[Any, list[str]]] = {}
        for t in tps:
            for searched in KINDS[t].searched:
                if searched.local not in typed:
                    typed[searched.local] = (searched.make(f"{p}{searched.local}", widths), [])
                typed[searched.local][1].append(t)
        for hp, live in typed.values():
            items.append(hp)
            if len(tps) == 1:
                continue
            if len(live) == 1:
                items.append(EqualsCondition(hp, btype, live[0]))
            else:
                items.append(InCondition(hp, btype, live))
    return items


def loss_mixture(
    schema: Schema | None = None,
    *,
    losses: Sequence[str] = LOSSES,
    weights: Sequence[float] = LOSS_WEIGHTS,
) -> ConfigurationSpace:
    """AutoLoss as a black-box space: an ordinal weight per loss, focal gamma conditional.

    ``focal_gamma`` is active only while the focal weight is greater than 0. A configuration
    whose weights are all 0 decodes to plain BCE (see :func:`recsearch.spaces.decode`).

    Example:
        >>> cs = loss_mixture(losses=("bce", "focal"))
        >>> sorted(cs), cs.parent_conditions_of["focal_gamma"]
        (['bce', 'focal', 'focal_gamma'], [focal_gamma | focal > 0.0])
    """
    del schema  # NOTE: accepted so that every builder takes the schema first.
    return _space(_loss_items("", losses=losses, weights=weights))


def _loss_items(p: str, *, losses: Sequence[str], weights: Sequence[float]) -> list[Any]:
    names = list(dict.fromkeys(losses))
    bad = [n for n in names if n not in LOSSES]
    ws = sorted({float(w) for w in weights})
    if not names or bad or not ws or ws[0] < 0 or ws[-1] <= 0:
        raise InvalidParameterError(
            f"loss_mixture needs losses among {LOSSES} and non-negative weights with one > 0. "
            f"Got losses={tuple(losses)!r}, weights={tuple(weights)!r} instead."
        )
    items: list[Any] = []
    for name in names:
        default = ws[-1] if name == "bce" or (name == names[0] and "bce" not in names) else ws[0]
        items.append(_ordinal(f"{p}{name}", ws, default))
    if "focal" in names and len(ws) > 1:
        gamma = Float(f"{p}focal_gamma", (0.5, 5.0), default=2.0)
        focal = items[names.index("focal")]
        items += [gamma, GreaterThanCondition(gamma, focal, ws[0])]
    return items


def mlp(
    schema: Schema | None = None,
    *,
    max_depth: int = 4,
    units: Sequence[int] = MLP_UNITS,
) -> ConfigurationSpace:
    """The head MLP: depth, a width per layer, dropout and batch norm.

    Names: ``depth``, ``width.<k>`` (ordinal, active when ``depth > k``), ``dropout`` and
    ``batch_norm``.

    Example:
        >>> cs = mlp(max_depth=2)
        >>> sorted(cs)
        ['batch_norm', 'depth', 'dropout', 'width.0', 'width.1']
    """
    del schema  # NOTE: accepted so that every builder takes the schema first.
    return _space(_mlp_items("", max_depth=max_depth, units=units))


def _mlp_items(p: str, *, max_depth: int, units: Sequence[int]) -> list[Any]:
    if int(max_depth) < 1:
        raise InvalidParameterError(
            f"The 'max_depth' parameter of mlp must be >= 1. Got {max_depth!r} instead."
        )
    widths = sorted({int(u) for u in units})
    depth: Any = (
        Integer(f"{p}depth", (1, int(max_depth)), default=min(2, int(max_depth)))
        if int(max_depth) > 1
        else Constant(f"{p}depth", 1)
    )
    items: list[Any] = [
        depth,
        Float(f"{p}dropout", (0.0, 0.5), default=0.0),
        _bool(f"{p}batch_norm", default=False),
    ]
    for k in range(int(max_depth)):
        w = _ordinal(f"{p}width.{k}", widths, _nearest(widths, 128))
        items.append(w)
        if k > 0:
            items.append(GreaterThanCondition(w, depth, k))
    return items


def training(
    schema: Schema | None = None,
    *,
    optimizers: Sequence[str] = OPTIMIZERS,
    batch_sizes: Sequence[int] = BATCH_SIZES,
) -> ConfigurationSpace:
    """Optimizer hyperparameters: optimizer, learning rate, weight decays, batch size.

    Names: ``optimizer``, ``lr`` (log), ``momentum`` (sgd only), ``embedding_weight_decay`` and
    ``dense_weight_decay`` (log), ``batch_size`` (ordinal).

    Example:
        >>> cs = training()
        >>> cs["lr"].log, cs.parent_conditions_of["momentum"]
        (True, [momentum | optimizer == 'sgd'])
    """
    del schema  # NOTE: accepted so that every builder takes the schema first.
    return _space(_training_items("", optimizers=optimizers, batch_sizes=batch_sizes))


def _training_items(
    p: str, *, optimizers: Sequence[str], batch_sizes: Sequence[int]
) -> list[Any]:
    opts = list(dict.fromkeys(optimizers))
    bad = [o for o in opts if o not in OPTIMIZERS]
    if not opts or bad:
        raise InvalidParameterError(
            f"The 'optimizers' parameter of training must be among {OPTIMIZERS}. "
            f"Got {tuple(optimizers)!r} instead."
        )
    sizes = sorted({int(b) for b in batch_sizes})
    opt = Categorical(f"{p}optimizer", opts, default=opts[0])
    items: list[Any] = [
        opt,
        Float(f"{p}lr", (1e-4, 1e-1), log=True, default=1e-3),
        Float(f"{p}embedding_weight_decay", (1e-9, 1e-3), log=True, default=1e-7),
        Float(f"{p}dense_weight_decay", (1e-9, 1e-3), log=True, default=1e-7),
        _ordinal(f"{p}batch_size", sizes, _nearest(sizes, 1024)),
    ]
    if "sgd" in opts:
        momentum = Float(f"{p}momentum", (0.0, 0.99), default=0.9)
        items.append(momentum)
        if len(opts) > 1:
            items.append(EqualsCondition(momentum, opt, "sgd"))
    return items


def compose(**named_spaces: ConfigurationSpace) -> ConfigurationSpace:
    """One space from several: each hyperparameter named ``<section>.<local name>``.

    Conditions and forbidden clauses come along. Sections that :func:`recsearch.spaces.decode`
    understands: ``emb``, ``inter``, ``group``, ``block``, ``loss``, ``mlp``, ``train``; other
    section names are kept but not decoded. ``space.meta["sections"]`` lists the sections.

    Example:
        >>> cs = compose(mlp=mlp(max_depth=1), train=training(optimizers=("adam",)))
        >>> sorted(cs)[:3]
        ['mlp.batch_norm', 'mlp.depth', 'mlp.dropout']
    """
    if not named_spaces:
        raise InvalidParameterError("compose needs at least one named space.")
    cs = ConfigurationSpace(meta={"sections": list(named_spaces)})
    for prefix, sub in named_spaces.items():
        _check_safe("compose", "section name", prefix)
        if not isinstance(sub, ConfigurationSpace):
            raise InvalidParameterError(
                f"compose: section {prefix!r} must be a ConfigurationSpace. "
                f"Got {type(sub).__name__} instead."
            )
        cs.add_configuration_space(prefix, sub, delimiter=".")
    return cs
