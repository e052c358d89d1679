"""The torch-free plan of the behaviour encoders (``ModelSpec.behaviour``, AMEIR / DIN).

Each sequence field gets an item table at the interaction width, the spec's layers and its
output; FLOPs are counted at the field's ``max_len``.
:class:`recsearch.objectives.sequence.SequenceEncoders` is built from this plan.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from recsearch.errors import InvalidParameterError

if TYPE_CHECKING:
    from recsearch.data.schema import Schema
    from recsearch.spec import BehaviourSpec
    from recsearch.spec import SequenceLayer

CONV_WIDTH = 3
"""Time steps a ``conv`` layer spans (and a ``pool`` layer averages)."""


def layer_params(layer: SequenceLayer, dim: int) -> int:
    """Parameters of one encoder layer at width ``dim``."""
    norm = 2 * dim if layer.norm == "layer" and layer.op != "zero" else 0
    op = {
        "conv": dim * dim * CONV_WIDTH + dim,
        "gru": 3 * (2 * dim * dim + 2 * dim),
        "pool": 0,
        "attention": 3 * dim * dim,
        "zero": 0,
    }[layer.op]
    return norm + op


def layer_flops(layer: SequenceLayer, dim: int, length: int) -> int:
    """FLOPs per sample of one encoder layer over ``length`` steps."""
    if layer.op == "zero":
        return 0
    op = {
        "conv": 2 * length * dim * dim * CONV_WIDTH,
        "gru": length * (12 * dim * dim + 12 * dim),
        "pool": CONV_WIDTH * length * dim,
        "attention": 6 * length * dim * dim + 4 * length * length * dim,
    }[layer.op]
    norm = 8 * length * dim if layer.norm == "layer" else 0
    return op + norm + 2 * length * dim  # activation and residual


@dataclass(frozen=True)
class SequencePlan:
    """One encoded sequence field.

    Attributes:
        name: Field name.
        column: Its entry in ``Split.sequence``.
        vocab: Item vocabulary (index 0 pads).
        length: ``max_len`` of the field.
        dim: Width (the interaction width).
        query_width: Width the ``target`` query is projected from (the flattened sparse
            embeddings); 0 for the other outputs.
        params: Parameters (item table, layers, query projection).
        table_params: Parameters of the item table (embedding bytes).
        flops: FLOPs per sample.
    """

    name: str
    column: int
    vocab: int
    length: int
    dim: int
    query_width: int
    params: int
    table_params: int
    flops: int


def sequence_plan(
    behaviour: BehaviourSpec | None, schema: Schema, dim: int, sparse_width: int
) -> tuple[SequencePlan, ...]:
    """The encoded sequence fields (none when ``behaviour`` is ``None``).

    Raises:
        InvalidParameterError: ``behaviour`` is set but the schema has no sequence field, or a
            ``target`` output has no other embedding to form its query from.
    """
    if behaviour is None:
        return ()
    if not schema.sequence:
        raise InvalidParameterError(
            "ModelSpec.behaviour encodes sequence fields, but the data set has none (load "
            "MovieLens with movielens_100k(history=K), or give from_frame(sequence=[...]))."
        )
    target = behaviour.output == "target"
    if target and sparse_width == 0:
        raise InvalidParameterError(
            "A 'target' behaviour output forms its query from the sparse embeddings, and no "
            "sparse field is embedded."
        )
    plans = []
    for column, f in enumerate(schema.sequence):
        length = max(int(f.max_len), 1)
        table = int(f.vocab_size) * dim
        params = table + sum(layer_params(layer, dim) for layer in behaviour.layers)
        flops = sum(layer_flops(layer, dim, length) for layer in behaviour.layers)
        query = sparse_width if target else 0
        params += query * dim
        flops += 2 * query * dim + (4 * length * dim if target else 2 * length * dim)
        plans.append(
            SequencePlan(f.name, column, int(f.vocab_size), length, dim, query, params, table,
                         flops)
        )
    return tuple(plans)
