"""Decode a configuration of a (composed) space into a :class:`~recsearch.spec.ModelSpec`.

The sections of the space (see :mod:`recsearch.spaces.builders`) are found by their prefixes in
the configuration's space; every part of the spec whose section is absent comes from ``base``.

Default base (``base=None``), chosen from the space's contents so that ConfigSpace's own JSON
round trip (which drops ``space.meta``) decodes the same:

- with a ``block`` section: :data:`BLOCKS_BASE`: no linear term, no explicit interaction, the
  head is a single linear layer over the block outputs (AutoCTR);
- otherwise :data:`DEEPFM_BASE`: ``baseline("deepfm")`` with a smaller MLP (``(128, 64)``).

Rules, section by section (inactive hyperparameters take the documented defaults):

- ``emb``: each listed field (or group) gets its dimension; unlisted fields keep the base's.
- ``inter``: the pairs whose boolean is true, each with ``.fn`` when the space has it (else
  ``inner``). Pairs with a dropped field (all dims 0) are left out.
- ``group``: per order and group, the selected fields that are not dropped; a group with fewer
  than two such fields is left out. Without an ``inter`` section, groups replace the base's
  pairs (AutoGroup): the spec has no pairwise part.
- ``proj``: ``dim`` is ``embedding.interaction_dim``.
- ``pep``: ``embedding.prune`` from ``granularity`` and ``init``.
- ``num``: per numeric field its representation and settings (inactive ones take
  ``NumericEmbedding``'s defaults); fields the space lacks keep the base's.
- ``graph``: per layer ``k`` the edges ``(a, b)`` whose boolean is true (and active); edges with
  a dropped field are left out. The graph adds to the base's pairs (FIVES on top of the DeepFM
  base: with every edge off the model is the base).
- Interactions that end up with no pair, no group and no graph edge decode to
  ``interaction=None``.
- ``block``: one :class:`~recsearch.spec.BlockSpec` per block: ``main`` plus the extra bits give
  the inputs; ``layers`` is ``depth`` (mlp), ``cross_layers`` (cross) or ``attn_layers``
  (attention); inactive ones take ``BlockSpec``'s defaults. A ``dot`` block whose inputs hold
  fewer than two embeddings also reads the raw embeddings (a dot product needs two).
- ``seq``: ``behaviour`` with one layer per ``l<k>.op`` (inactive norm/activation: ``none`` /
  ``relu``) and the ``output``.
- ``ft``: ``finetune`` freezes the fields and parts whose boolean is false.
- ``mlp``: ``widths = (width.0, ..., width.<depth-1>)``, ``dropout``, ``batch_norm``; or, with
  ``frac.<k>`` (AMEIR), ``fractions`` and ``activations`` of the first ``depth`` layers.
- ``loss``: the weights; all-zero weights decode to plain BCE; ``focal_gamma`` defaults to 2.
- ``train``: optimizer, lr, momentum (base value when inactive), weight decays, batch size.
- ``name``: ``space.meta["preset"]`` when set, else the name of the ``base`` given, else
  ``custom``.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace

from recsearch.blocktypes import KINDS
from recsearch.data.schema import Schema
from recsearch.errors import InvalidParameterError
from recsearch.errors import SpaceError
from recsearch.spaces.bridge import _py
from recsearch.spaces.builders import pair_name
from recsearch.spec import FINE_TUNE_PARTS
from recsearch.spec import LOSSES
from recsearch.spec import BehaviourSpec
from recsearch.spec import BlockSpec
from recsearch.spec import EmbeddingSpec
from recsearch.spec import FieldEmbedding
from recsearch.spec import FieldGroup
from recsearch.spec import FineTuneSpec
from recsearch.spec import HeadSpec
from recsearch.spec import InteractionSpec
from recsearch.spec import LossSpec
from recsearch.spec import ModelSpec
from recsearch.spec import NumericEmbedding
from recsearch.spec import PairInteraction
from recsearch.spec import PruneSpec
from recsearch.spec import SequenceLayer
from recsearch.spec import TrainingSpec
from recsearch.spec import baseline

__all__ = ["BLOCKS_BASE", "DEEPFM_BASE", "decode", "default_base", "sections"]

DEEPFM_BASE: ModelSpec = baseline("deepfm", head=HeadSpec(widths=(128, 64)))
BLOCKS_BASE: ModelSpec = ModelSpec(
    linear=False, interaction=None, head=HeadSpec(widths=()), name="autoctr"
)
SECTIONS: tuple[str, ...] = (
    "emb", "proj", "pep", "num", "inter", "group", "graph", "block", "seq", "ft", "loss",
    "mlp", "train",
)

_GROUP = re.compile(r"^group\.o(\d+)\.g(\d+)\.")
_GRAPH = re.compile(r"^graph\.l(\d+)\.")
_BLOCK = re.compile(r"^block\.(\d+)\.type$")


def sections(space: ConfigurationSpace) -> tuple[str, ...]:
    """The decodable sections present in ``space`` (in :data:`SECTIONS` order)."""
    present = {name.split(".", 1)[0] for name in space}
    return tuple(s for s in SECTIONS if s in present)


def default_base(space: ConfigurationSpace) -> ModelSpec:
    """The base spec ``decode`` uses for ``space`` when none is given (module docstring)."""
    return BLOCKS_BASE if "block" in sections(space) else DEEPFM_BASE


def _get(config: Configuration, name: str, default: Any = None) -> Any:
    value = config.get(name)
    return default if value is None else _py(value)


def _embedding(config: Configuration, schema: Schema, base: EmbeddingSpec) -> EmbeddingSpec:
    space = config.config_space
    fields = []
    for f in schema.sparse:
        if f"emb.{f.name}" in space:
            dims: tuple[int, ...] = (int(_get(config, f"emb.{f.name}")),)
        else:
            k, group_dims = 0, []
            while f"emb.{f.name}.g{k}" in space:
                group_dims.append(int(_get(config, f"emb.{f.name}.g{k}")))
                k += 1
            if not group_dims:
                continue
            dims = tuple(group_dims)
        fields.append(FieldEmbedding(f.name, dims))
    listed = {fe.field for fe in fields}
    kept = tuple(fe for fe in base.fields if fe.field not in listed)
    return dataclasses.replace(base, fields=kept + tuple(fields))


def _numeric(config: Configuration, schema: Schema, base: EmbeddingSpec) -> EmbeddingSpec:
    space = config.config_space
    listed = []
    for f in schema.numeric:
        p = f"num.{f.name}"
        if p not in space:
            continue
        d = NumericEmbedding(f.name)
        listed.append(NumericEmbedding(
            f.name,
            _get(config, p),
            buckets=int(_get(config, f"{p}.buckets", d.buckets)),
            bucketing=_get(config, f"{p}.bucketing", d.bucketing),
            meta=int(_get(config, f"{p}.meta", d.meta)),
            temperature=float(_get(config, f"{p}.temperature", d.temperature)),
        ))
    names = {ne.field for ne in listed}
    kept = tuple(ne for ne in base.numeric if ne.field not in names)
    return dataclasses.replace(base, numeric=kept + tuple(listed))


def _interaction(
    config: Configuration,
    schema: Schema,
    base: InteractionSpec | None,
    dropped: set[str],
) -> InteractionSpec | None:
    space = config.config_space
    present = sections(space)
    if not {"inter", "group", "graph"} & set(present):
        return base
    names = list(schema.sparse_names)
    pairs: tuple[PairInteraction, ...] | None
    if "inter" in present:
        chosen = []
        for i, a in enumerate(names):
            for b in names[i + 1 :]:
                key = f"inter.{pair_name(a, b)}"
                if key not in space or not _get(config, key, False):
                    continue
                if a in dropped or b in dropped:
                    continue
                chosen.append(PairInteraction((a, b), _get(config, f"{key}.fn", "inner")))
        pairs = tuple(chosen)
    elif "group" in present:
        pairs = ()
    else:
        pairs = base.pairs if base is not None else ()
    groups: tuple[FieldGroup, ...]
    if "group" in present:
        slots = sorted(
            {(int(m.group(1)), int(m.group(2))) for n in space if (m := _GROUP.match(n))}
        )
        found = []
        for order, k in slots:
            members = tuple(
                f
                for f in names
                if f not in dropped and _get(config, f"group.o{order}.g{k}.{f}", False)
            )
            if len(members) >= 2:
                found.append(FieldGroup(members, order))
        groups = tuple(found)
    else:
        groups = base.groups if base is not None else ()
    graph = _graph(config, names, dropped) if "graph" in present else (
        base.graph if base is not None else ()
    )
    if pairs is not None and not pairs and not groups and not any(graph):
        return None
    return InteractionSpec(pairs=pairs, groups=groups, graph=graph)


def _graph(
    config: Configuration, names: list[str], dropped: set[str]
) -> tuple[tuple[tuple[str, str], ...], ...]:
    space = config.config_space
    n_layers = max(int(m.group(1)) for n in space if (m := _GRAPH.match(n)))
    layers = []
    for k in range(1, n_layers + 1):
        layers.append(tuple(
            (a, b)
            for a in names
            for b in names
            if a != b
            and a not in dropped
            and b not in dropped
            and _get(config, f"graph.l{k}.{pair_name(a, b)}", False)
        ))
    while layers and not layers[-1]:
        layers.pop()
    return tuple(layers)


def _n_embeddings(out: tuple[str, int]) -> int:
    return 1 if out[0] == "vec" else out[1]


def _blocks(config: Configuration, n_fields: int, n_dense: int) -> tuple[BlockSpec, ...]:
    space = config.config_space
    n = len([name for name in space if _BLOCK.match(name)])
    out: list[BlockSpec] = []
    shapes: list[tuple[str, int]] = []  # ("vec", 1) or ("emb", number of embeddings)
    for i in range(n):
        p = f"block.{i}."
        btype = _get(config, f"{p}type")
        main = _get(config, f"{p}main", "sparse")
        dense = main == "dense" or bool(_get(config, f"{p}dense", False))
        sparse = main == "sparse" or bool(_get(config, f"{p}sparse", False))
        inputs = tuple(
            j for j in range(i) if main == f"b{j}" or bool(_get(config, f"{p}skip{j}", False))
        )
        m = (n_fields if sparse else 0) + (1 if dense and n_dense else 0)
        m += sum(_n_embeddings(shapes[j]) for j in inputs)
        kind = KINDS[btype]
        if m < kind.min_inputs and not sparse:
            # NOTE: e.g. a dot product needs two embeddings; such a block also reads the raw ones.
            sparse = True
            m += n_fields
        defaults = BlockSpec(btype)
        settings = {
            s.attr: int(_get(config, f"{p}{s.local}", getattr(defaults, s.attr)))
            for s in kind.searched
        }
        block = BlockSpec(
            btype, dense_input=dense, sparse_input=sparse, inputs=inputs, **settings
        )
        out.append(block)
        shape = kind.output(block, m, 1)
        shapes.append(("vec", 1) if shape[0] == "vec" else ("emb", shape[1]))
    return tuple(out)


def _behaviour(config: Configuration) -> BehaviourSpec:
    space = config.config_space
    layers = []
    k = 1
    while f"seq.l{k}.op" in space:
        layers.append(SequenceLayer(
            _get(config, f"seq.l{k}.norm", "none"),
            _get(config, f"seq.l{k}.op"),
            _get(config, f"seq.l{k}.act", "relu"),
        ))
        k += 1
    return BehaviourSpec(tuple(layers), _get(config, "seq.output", "average"))


def _finetune(config: Configuration, schema: Schema) -> FineTuneSpec:
    space = config.config_space
    fields = tuple(
        f for f in schema.sparse_names if f"ft.{f}" in space and not _get(config, f"ft.{f}")
    )
    parts = tuple(
        part for part in FINE_TUNE_PARTS
        if f"ft.part.{part}" in space and not _get(config, f"ft.part.{part}")
    )
    return FineTuneSpec(frozen_fields=fields, frozen_parts=parts)  # type: ignore[arg-type]


def _head(config: Configuration, base: HeadSpec) -> HeadSpec:
    depth = int(_get(config, "mlp.depth", base.depth))
    if "mlp.frac.0" in config.config_space:
        return HeadSpec(
            widths=(),
            dropout=float(_get(config, "mlp.dropout", base.dropout)),
            batch_norm=bool(_get(config, "mlp.batch_norm", base.batch_norm)),
            fractions=tuple(float(_get(config, f"mlp.frac.{k}")) for k in range(depth)),
            activations=tuple(str(_get(config, f"mlp.act.{k}")) for k in range(depth)),
        )
    widths = []
    for k in range(depth):
        fallback = base.widths[k] if k < len(base.widths) else 128
        widths.append(int(_get(config, f"mlp.width.{k}", fallback)))
    return HeadSpec(
        widths=tuple(widths),
        dropout=float(_get(config, "mlp.dropout", base.dropout)),
        batch_norm=bool(_get(config, "mlp.batch_norm", base.batch_norm)),
    )


def _loss(config: Configuration, base: LossSpec) -> LossSpec:
    weights = {name: float(_get(config, f"loss.{name}", getattr(base, name))) for name in LOSSES}
    if sum(weights.values()) <= 0:
        weights = {name: 1.0 if name == "bce" else 0.0 for name in LOSSES}
    return LossSpec(**weights, focal_gamma=float(_get(config, "loss.focal_gamma", 2.0)))


def _training(config: Configuration, base: TrainingSpec) -> TrainingSpec:
    lr = _get(config, "train.lr", base.lr)
    return TrainingSpec(
        optimizer=_get(config, "train.optimizer", base.optimizer),
        lr=None if lr is None else float(lr),
        momentum=float(_get(config, "train.momentum", base.momentum)),
        embedding_weight_decay=float(
            _get(config, "train.embedding_weight_decay", base.embedding_weight_decay)
        ),
        dense_weight_decay=float(
            _get(config, "train.dense_weight_decay", base.dense_weight_decay)
        ),
        batch_size=int(_get(config, "train.batch_size", base.batch_size)),
        epochs=base.epochs,
        patience=base.patience,
        grad_clip=base.grad_clip,
        mixed_precision=base.mixed_precision,
    )


def decode(config: Configuration, schema: Schema, *, base: ModelSpec | None = None) -> ModelSpec:
    """The model spec of one configuration (rules in the module docstring).

    Args:
        config: A configuration of a space built by :mod:`recsearch.spaces` (a preset, or
            :func:`~recsearch.spaces.compose` of builders).
        schema: The schema the space was built for.
        base: Supplies every part whose section the space lacks; ``None`` picks
            :func:`default_base`.

    Returns:
        The spec.

    Raises:
        SpaceError: The configuration does not decode into a valid spec (the message names the
            configuration and the reason).

    Example:
        >>> from recsearch.data.schema import Field, Schema
        >>> from recsearch.spaces import preset
        >>> schema = Schema("y", (Field("u", "categorical", 9), Field("i", "categorical", 9)))
        >>> space = preset("autodim", schema)
        >>> spec = decode(space.get_default_configuration(), schema)
        >>> spec.embedding.dims_of("u"), spec.name
        ((16,), 'autodim')
    """
    if not isinstance(schema, Schema):
        raise InvalidParameterError(
            f"The 'schema' parameter of decode must be a Schema. Got {type(schema).__name__}."
        )
    space = config.config_space
    name = "custom" if base is None else base.name
    base = default_base(space) if base is None else base
    present = sections(space)
    try:
        embedding = _embedding(config, schema, base.embedding) if "emb" in present else (
            base.embedding
        )
        if "proj" in present:
            embedding = dataclasses.replace(
                embedding, interaction_dim=int(_get(config, "proj.dim"))
            )
        if "pep" in present:
            embedding = dataclasses.replace(embedding, prune=PruneSpec(
                _get(config, "pep.granularity"), float(_get(config, "pep.init"))
            ))
        if "num" in present:
            embedding = _numeric(config, schema, embedding)
        dropped = {f for f in schema.sparse_names if all(d == 0 for d in embedding.dims_of(f))}
        meta = space.meta if isinstance(space.meta, dict) else {}
        return ModelSpec(
            embedding=embedding,
            linear=base.linear,
            interaction=_interaction(config, schema, base.interaction, dropped),
            blocks=_blocks(
                config, len(schema.sparse_names) - len(dropped), len(schema.numeric)
            )
            if "block" in present
            else base.blocks,
            behaviour=_behaviour(config) if "seq" in present else base.behaviour,
            finetune=_finetune(config, schema) if "ft" in present else base.finetune,
            head=_head(config, base.head) if "mlp" in present else base.head,
            loss=_loss(config, base.loss) if "loss" in present else base.loss,
            training=_training(config, base.training) if "train" in present else base.training,
            name=str(meta.get("preset") or name),
        )
    except (InvalidParameterError, KeyError, TypeError, ValueError) as exc:
        raise SpaceError(f"Configuration {dict(config)!r} does not decode: {exc}") from exc
