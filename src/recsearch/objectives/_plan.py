"""The torch-free shape plan of a model built from a spec: widths, tables, parameter shapes, FLOPs.

``build_model`` sizes every layer from this plan, and :func:`recsearch.objectives.cost.static_cost`
counts parameters, embedding bytes and FLOPs from it without building anything, so the two can
never disagree (a test checks the parameter count against the built model).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Literal

import numpy as np

from recsearch.blocktypes import KINDS
from recsearch.blocktypes import Shape
from recsearch.errors import InvalidParameterError
from recsearch.objectives._plan_graph import GraphLayerPlan
from recsearch.objectives._plan_graph import graph_flops
from recsearch.objectives._plan_graph import graph_params
from recsearch.objectives._plan_graph import graph_plan
from recsearch.objectives._plan_numeric import NumericPlan
from recsearch.objectives._plan_numeric import numeric_plan
from recsearch.objectives._plan_sequence import SequencePlan
from recsearch.objectives._plan_sequence import sequence_plan

if TYPE_CHECKING:
    from recsearch.data.schema import Field
    from recsearch.data.schema import Schema
    from recsearch.spec import ModelSpec

FLOAT_BYTES = 4
CONCAT_HIDDEN_MIN = 8
"""Hidden width of the per-pair ``concat`` MLP is ``max(CONCAT_HIDDEN_MIN, common_dim)``."""


@dataclass(frozen=True)
class FieldPlan:
    """One embedded (not dropped) sparse field.

    Attributes:
        name: Field name.
        kind: ``categorical`` or ``multi_hot``.
        column: Column in ``Split.categorical`` or entry of ``Split.multi_hot``.
        vocab: Vocabulary size (index 0 included).
        dims: Per-group dimensions (one entry: a plain embedding).
        width: Output width of the field, ``max(dims)``.
        group_sizes: Number of values in each group (NIS; the whole vocabulary for one group).
    """

    name: str
    kind: Literal["categorical", "multi_hot"]
    column: int
    vocab: int
    dims: tuple[int, ...]
    width: int
    group_sizes: tuple[int, ...]

    @property
    def multi_size(self) -> bool:
        """Whether the field has more than one frequency group."""
        return len(self.dims) > 1


def group_sizes(vocab: int, n_groups: int) -> tuple[int, ...]:
    """Sizes of ``n_groups`` equal groups over ``vocab`` values (the first ones take the rest)."""
    base, rest = divmod(vocab, n_groups)
    return tuple(base + (1 if g < rest else 0) for g in range(n_groups))


def rank_by_frequency(field: Field) -> np.ndarray:
    """The field's indices, most frequent first (ties: lower index first).

    For a multi-hot field index 0 is padding and is ranked last (it always embeds as zeros).
    """
    vocab = int(field.vocab_size)
    freq = np.asarray(field.frequencies, dtype=np.float64)
    if freq.shape != (vocab,):
        freq = np.zeros(vocab)
    if field.kind == "multi_hot":
        freq = freq.copy()
        freq[0] = -np.inf
    return np.argsort(-freq, kind="stable")


@dataclass(frozen=True)
class EmbeddingPlan:
    """Layout of the fused embedding tables.

    Attributes:
        fields: Embedded fields in ``Schema.sparse`` order.
        dropped: Names of the fields with dimension 0.
        table_rows: Rows of each fused table by dimension, the shared zero row 0 included.
        common_dim: Width of the stacked ``(batch, fields, common_dim)`` view interactions read.
        stacked_order: Field names in the order of the stacked view (sparse fields by width,
            widest first, then schema order; then the embedded numeric fields).
        numeric: Embedded numeric fields (at ``common_dim``, after the sparse ones).
        dense_columns: ``Split.numeric`` columns that stay dense inputs.
        sequences: Encoded sequence fields (one ``common_dim`` vector each, after the numeric).
    """

    fields: tuple[FieldPlan, ...]
    dropped: tuple[str, ...]
    table_rows: dict[int, int]
    common_dim: int
    stacked_order: tuple[str, ...]
    numeric: tuple[NumericPlan, ...] = ()
    dense_columns: tuple[int, ...] = ()
    sequences: tuple[SequencePlan, ...] = ()

    @property
    def sparse_width(self) -> int:
        """Width of the flattened sparse embeddings (the sum of their widths)."""
        return sum(f.width for f in self.fields)

    @property
    def flat_width(self) -> int:
        """Width of the flattened embeddings: sparse, numeric and sequence vectors."""
        extra = len(self.numeric) + len(self.sequences)
        return self.sparse_width + extra * self.common_dim

    @property
    def n_fields(self) -> int:
        """Number of embeddings in the stacked view (sparse, numeric and sequence fields)."""
        return len(self.fields) + len(self.numeric) + len(self.sequences)

    @property
    def numeric_embedding_params(self) -> int:
        """Parameters of the numeric fields' embedding tables and the sequences' item tables."""
        return sum(n.embedding_params for n in self.numeric) + sum(
            q.table_params for q in self.sequences
        )

    @property
    def widths(self) -> tuple[int, ...]:
        """Distinct field widths, widest first."""
        return tuple(sorted({f.width for f in self.fields}, reverse=True))

    def position(self, name: str) -> int | None:
        """Index of field ``name`` in the stacked view (``None`` when it is dropped)."""
        try:
            return self.stacked_order.index(name)
        except ValueError:
            return None

    @property
    def table_params(self) -> int:
        """Number of embedding-table parameters."""
        return sum(rows * dim for dim, rows in self.table_rows.items())

    @property
    def nis_projection_params(self) -> int:
        """Parameters of the per-field projections of narrower NIS groups to the field width."""
        return sum(
            d * f.width for f in self.fields for d in sorted(set(f.dims)) if 0 < d != f.width
        )

    @property
    def stack_projection_params(self) -> int:
        """Parameters projecting fields to ``common_dim`` for the stacked view."""
        return sum(f.width * self.common_dim for f in self.fields if f.width != self.common_dim)

    @property
    def linear_params(self) -> int:
        """First-order weights of the sparse fields."""
        return sum(f.vocab for f in self.fields)

    def prune_params(self, granularity: str | None) -> int:
        """PEP threshold parameters: 1, one per embedded field, or one per table row."""
        if granularity is None or not self.fields:
            return 0
        if granularity == "global":
            return 1
        if granularity == "field":
            return self.n_fields
        return sum(self.table_rows.values())


def embedding_plan(spec: ModelSpec, schema: Schema) -> EmbeddingPlan:
    """The embedding layout of ``spec`` on ``schema``.

    Raises:
        InvalidParameterError: The spec names a field the schema does not have, or a field has
            more frequency groups than values.
    """
    names = set(schema.sparse_names)
    unknown = [fe.field for fe in spec.embedding.fields if fe.field not in names]
    if unknown:
        raise InvalidParameterError(
            f"ModelSpec.embedding names fields {unknown} that the schema does not have; "
            f"sparse fields: {sorted(names)}"
        )
    fields: list[FieldPlan] = []
    dropped: list[str] = []
    rows: dict[int, int] = {}
    n_cat = 0
    n_mh = 0
    for f in schema.sparse:
        column = n_cat if f.kind == "categorical" else n_mh
        if f.kind == "categorical":
            n_cat += 1
        else:
            n_mh += 1
        dims = tuple(int(d) for d in spec.embedding.dims_of(f.name))
        if all(d == 0 for d in dims):
            dropped.append(f.name)
            continue
        vocab = int(f.vocab_size)
        if len(dims) > vocab:
            raise InvalidParameterError(
                f"ModelSpec.embedding gives field {f.name!r} {len(dims)} frequency groups but "
                f"it has only {vocab} values."
            )
        sizes = group_sizes(vocab, len(dims)) if len(dims) > 1 else (vocab,)
        for d, n in zip(dims, sizes, strict=True):
            if d > 0:
                rows[d] = rows.get(d, 1) + n
        fields.append(
            FieldPlan(
                f.name, f.kind, column, vocab, dims, max(dims), sizes  # type: ignore[arg-type]
            )
        )
    widths = sorted({f.width for f in fields}, reverse=True)
    embedded = tuple(n for n in spec.embedding.numeric if n.representation != "dense")
    fallback = spec.embedding.default_dim if embedded or spec.behaviour else 0
    common = int(spec.embedding.interaction_dim or (widths[0] if widths else fallback))
    numeric, dense = numeric_plan(spec.embedding.numeric, schema, common)
    sequences = sequence_plan(spec.behaviour, schema, common, sum(f.width for f in fields))
    order = tuple(f.name for w in widths for f in fields if f.width == w)
    order += tuple(n.name for n in numeric) + tuple(q.name for q in sequences)
    return EmbeddingPlan(
        tuple(fields), tuple(dropped), dict(sorted(rows.items(), reverse=True)), common, order,
        numeric, dense, sequences,
    )


def _flat_size(shape: Shape) -> int:
    return shape[1] if shape[0] == "vec" else shape[1] * shape[2]  # type: ignore[misc]


@dataclass(frozen=True)
class BlockPlan:
    """Input and output shapes of one block, with its parameter count and FLOPs per sample.

    Attributes:
        vector_width: Width of the flattened input (``mlp``, ``cross``), else 0.
        n_embeddings: Number of input embeddings (the embedding-view blocks, ``EMBEDDING_VIEW``):
            the fields, one for the dense features, one per earlier ``vec`` output (projected)
            and the embeddings of earlier ``emb`` outputs (projected when their width differs).
        output: Output shape.
        params: Parameter count (the view projections included).
        flops: Analytic FLOPs per sample.
    """

    vector_width: int
    n_embeddings: int
    output: Shape
    params: int
    flops: int


EMBEDDING_VIEW = tuple(name for name, k in KINDS.items() if k.view == "embedding")
"""Block types that read the embedding view (their descriptors say so)."""


def block_plans(spec: ModelSpec, emb: EmbeddingPlan, n_dense: int) -> tuple[BlockPlan, ...]:
    """Shapes of every block of ``spec`` in order (each type's counts: its descriptor).

    Raises:
        InvalidParameterError: A block would read nothing (e.g. only dense input when there are
            no numeric fields), or an embedding-view block has fewer embeddings than it needs.
    """
    plans: list[BlockPlan] = []
    dim = emb.common_dim
    for i, b in enumerate(spec.blocks):
        kind = KINDS[b.type]
        params = 0
        flops = 0
        if kind.view == "embedding":
            m = 0
            if b.sparse_input:
                m += emb.n_fields
            if b.dense_input and n_dense:
                m += 1
                params += n_dense * dim
                flops += 2 * n_dense * dim
            for j in b.inputs:
                out = plans[j].output
                if out[0] == "vec":
                    m += 1
                    params += out[1] * dim
                    flops += 2 * out[1] * dim
                else:
                    m += out[1]  # type: ignore[misc]
                    if out[2] != dim:  # type: ignore[misc]
                        params += out[2] * dim  # type: ignore[misc]
                        flops += 2 * out[1] * out[2] * dim  # type: ignore[misc]
            if m == 0 or dim == 0:
                raise InvalidParameterError(
                    f"Block {i} ({b.type}) of spec {spec.name!r} has no embedding to read."
                )
            if m < kind.min_inputs:
                raise InvalidParameterError(
                    f"Block {i} ({b.type}) of spec {spec.name!r} reads {m} embedding(s); a "
                    f"{b.type} block needs at least {kind.min_inputs}."
                )
            core_params, core_flops = kind.counts(b, m, dim)
            plans.append(
                BlockPlan(0, m, kind.output(b, m, dim), params + core_params, flops + core_flops)
            )
            continue
        k = 0
        if b.dense_input:
            k += n_dense
        if b.sparse_input:
            k += emb.flat_width
        for j in b.inputs:
            k += _flat_size(plans[j].output)
        if k == 0:
            raise InvalidParameterError(
                f"Block {i} ({b.type}) of spec {spec.name!r} has an empty input (no numeric "
                "fields and no embedded field?)."
            )
        core_params, core_flops = kind.counts(b, k, dim)
        plans.append(BlockPlan(k, 0, kind.output(b, k, dim), core_params, core_flops))
    return tuple(plans)


def unconsumed(spec: ModelSpec) -> tuple[int, ...]:
    """Indices of the blocks whose output no later block reads (what the head reads)."""
    used = {j for b in spec.blocks for j in b.inputs}
    return tuple(i for i in range(len(spec.blocks)) if i not in used)


def pair_plan(spec: ModelSpec, emb: EmbeddingPlan) -> dict[str, list[tuple[int, int]]]:
    """Selected pairs grouped by function as stacked-view positions (dropped fields skipped).

    ``pairs=None`` (FM) gives ``{}``; the FM term is handled separately.

    Raises:
        InvalidParameterError: A pair or group names a field the schema does not have.
    """
    out: dict[str, list[tuple[int, int]]] = {}
    if spec.interaction is None or spec.interaction.pairs is None:
        return out
    known = set(emb.stacked_order) | set(emb.dropped)
    for pair in spec.interaction.pairs:
        bad = [f for f in pair.fields if f not in known]
        if bad:
            raise InvalidParameterError(
                f"ModelSpec.interaction pair {pair.fields} names fields {bad} the schema does "
                f"not embed; sparse fields: {sorted(known)}"
            )
        a, b = emb.position(pair.fields[0]), emb.position(pair.fields[1])
        if a is None or b is None:
            continue
        out.setdefault(pair.function, []).append((a, b))
    return out


def group_plan(spec: ModelSpec, emb: EmbeddingPlan) -> list[tuple[int, tuple[int, ...]]]:
    """Higher-order groups as ``(order, stacked positions)`` with dropped fields removed.

    Raises:
        InvalidParameterError: A group names a field the schema does not have.
    """
    if spec.interaction is None:
        return []
    known = set(emb.stacked_order) | set(emb.dropped)
    out = []
    for g in spec.interaction.groups:
        bad = [f for f in g.fields if f not in known]
        if bad:
            raise InvalidParameterError(
                f"ModelSpec.interaction group {g.fields} names fields {bad} the schema does not "
                f"embed; sparse fields: {sorted(known)}"
            )
        pos = tuple(p for p in (emb.position(f) for f in g.fields) if p is not None)
        if len(pos) >= 2:
            out.append((g.order, pos))
    return out


def concat_hidden(common_dim: int) -> int:
    """Hidden width of the ``concat`` pair MLP."""
    return max(CONCAT_HIDDEN_MIN, common_dim)


def pair_params(function: str, n_pairs: int, dim: int) -> int:
    """Parameters of ``n_pairs`` pairs of one function at width ``dim``."""
    if function == "inner":
        return 0
    if function in ("hadamard", "plus", "max", "min"):
        return n_pairs * dim
    if function == "concat":
        h = concat_hidden(dim)
        return n_pairs * (2 * dim * h + 2 * h)
    return n_pairs * dim * dim  # outer


def pair_flops(function: str, n_pairs: int, dim: int) -> int:
    """FLOPs per sample of ``n_pairs`` pairs of one function at width ``dim``."""
    if function == "concat":
        h = concat_hidden(dim)
        return n_pairs * (4 * dim * h + 4 * h)
    if function == "outer":
        return n_pairs * (2 * dim * dim + 2 * dim)
    return n_pairs * 3 * dim


@dataclass(frozen=True)
class ModelPlan:
    """The full shape plan of a spec on a schema.

    Attributes:
        embedding: Embedding layout.
        n_dense: Number of numeric features read as dense inputs (not embedded).
        pairs: Pair positions by function.
        groups: Higher-order groups.
        graph: FIVES graph layers.
        blocks: Block shapes.
        head_input: Width of the head input (0 when there is no deep part).
        head_widths: The head's hidden widths (fractions resolved).
        needs_stacked: Whether any part reads the stacked (common-width) view.
        params: Total parameter count.
        flops: Analytic FLOPs per sample.
        linear: Whether the model has the first-order term.
    """

    embedding: EmbeddingPlan
    n_dense: int
    pairs: dict[str, list[tuple[int, int]]]
    groups: list[tuple[int, tuple[int, ...]]]
    graph: tuple[GraphLayerPlan, ...]
    blocks: tuple[BlockPlan, ...]
    head_input: int
    head_widths: tuple[int, ...]
    needs_stacked: bool
    params: int
    flops: int
    linear: bool

    @property
    def embedding_bytes(self) -> int:
        """Bytes of the embedding tables (float32), first-order weights included."""
        lin = self.embedding.linear_params if self.linear else 0
        tables = self.embedding.table_params + self.embedding.numeric_embedding_params
        return (tables + lin) * FLOAT_BYTES


def model_plan(spec: ModelSpec, schema: Schema) -> ModelPlan:
    """Plan every layer of ``spec`` on ``schema`` (torch-free).

    Raises:
        InvalidParameterError: The spec does not fit the schema or would predict from nothing.
    """
    emb = embedding_plan(spec, schema)
    n_dense = len(emb.dense_columns)
    dim = emb.common_dim
    pairs = pair_plan(spec, emb)
    groups = group_plan(spec, emb)
    graph = graph_plan(spec, emb)
    blocks = block_plans(spec, emb, n_dense)
    fm_all = spec.interaction is not None and spec.interaction.pairs is None
    needs_stacked = bool(
        (fm_all and emb.n_fields >= 2)
        or pairs
        or groups
        or graph
        or any(b.type in EMBEDDING_VIEW and b.sparse_input for b in spec.blocks)
    )
    prune = spec.embedding.prune
    params = emb.table_params + emb.nis_projection_params
    params += emb.prune_params(None if prune is None else prune.granularity)
    flops = sum(f.width * (len(set(f.dims)) > 1) * 2 for f in emb.fields)
    if prune is not None:
        flops += 3 * sum(d for f in emb.fields for d in f.dims)  # |v| - g, relu, sign
    for n in emb.numeric:
        params += n.embedding_params + n.other_params
        flops += n.flops
    for q in emb.sequences:
        params += q.params
        flops += q.flops
    if needs_stacked:
        params += emb.stack_projection_params
        flops += 2 * sum(f.width * dim for f in emb.fields if f.width != dim)
    if spec.linear:
        params += emb.linear_params + n_dense
        flops += emb.n_fields + 2 * n_dense
    params += 1  # global bias
    if fm_all and emb.n_fields >= 2:
        flops += 3 * emb.n_fields * dim
    for function, plist in pairs.items():
        params += pair_params(function, len(plist), dim)
        flops += pair_flops(function, len(plist), dim)
    for order, pos in groups:
        flops += (len(pos) + 1) * dim * order
    params += graph_params(graph, dim)
    flops += graph_flops(graph, dim)
    for bp in blocks:
        params += bp.params
        flops += bp.flops
    if spec.blocks:
        head_input = sum(_flat_size(blocks[i].output) for i in unconsumed(spec))
    elif spec.head.depth:
        head_input = n_dense + emb.flat_width
    else:
        head_input = 0
    head_widths = spec.head.resolved_widths(head_input)
    if head_input:
        prev = head_input
        acts = spec.head.activations or ("relu",) * len(head_widths)
        for w, act in zip(head_widths, acts, strict=True):
            params += prev * w + w + (2 * w if spec.head.batch_norm else 0)
            params += w if act == "dice" else 0
            flops += 2 * prev * w
            prev = w
        params += prev
        flops += 2 * prev
    if not (
        spec.linear or head_input or pairs or groups or graph or (fm_all and emb.n_fields >= 2)
    ):
        raise InvalidParameterError(
            f"Spec {spec.name!r} has no linear term, no interaction and no head on this schema: "
            "it would predict a constant."
        )
    return ModelPlan(
        emb, n_dense, pairs, groups, graph, blocks, head_input, head_widths, needs_stacked, params,
        int(flops),
        spec.linear,
    )
