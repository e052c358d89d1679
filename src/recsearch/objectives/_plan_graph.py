"""The torch-free plan of a FIVES graph (``InteractionSpec.graph``): adjacency, params, FLOPs.

:class:`recsearch.objectives.graph.GraphInteraction` is built from this plan and
:func:`recsearch.objectives._plan.model_plan` counts it, so the two agree by construction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from recsearch.errors import InvalidParameterError

if TYPE_CHECKING:
    from recsearch.objectives._plan import EmbeddingPlan
    from recsearch.spec import ModelSpec


@dataclass(frozen=True)
class GraphLayerPlan:
    """One layer of the graph in stacked-view positions.

    Attributes:
        neighbours: Per active node (a field with at least one embedded neighbour), its
            position and the positions it reads, sorted.
    """

    neighbours: tuple[tuple[int, tuple[int, ...]], ...]

    @property
    def active(self) -> tuple[int, ...]:
        """Positions of the nodes of this layer (each adds one readout to the logit)."""
        return tuple(i for i, _ in self.neighbours)

    @property
    def edges(self) -> int:
        """Number of edges between embedded fields."""
        return sum(len(js) for _, js in self.neighbours)


def graph_plan(spec: ModelSpec, emb: EmbeddingPlan) -> tuple[GraphLayerPlan, ...]:
    """The layers of ``spec``'s graph; edges touching a dropped field are left out.

    Trailing layers without an edge are dropped (an empty layer in the middle stays: it zeroes
    every node above it, so it is kept to mean what the spec says).

    Raises:
        InvalidParameterError: An edge names a field the schema does not have.
    """
    if spec.interaction is None or not spec.interaction.graph:
        return ()
    known = set(emb.stacked_order) | set(emb.dropped)
    layers = []
    for k, layer in enumerate(spec.interaction.graph, start=1):
        reads: dict[int, set[int]] = {}
        for a, b in layer:
            bad = [f for f in (a, b) if f not in known]
            if bad:
                raise InvalidParameterError(
                    f"ModelSpec.interaction graph layer {k} edge {(a, b)} names fields {bad} "
                    f"the schema does not embed; sparse fields: {sorted(known)}"
                )
            i, j = emb.position(a), emb.position(b)
            if i is None or j is None:
                continue
            reads.setdefault(i, set()).add(j)
        neighbours = tuple((i, tuple(sorted(js))) for i, js in sorted(reads.items()))
        layers.append(GraphLayerPlan(neighbours))
    while layers and not layers[-1].neighbours:
        layers.pop()
    return tuple(layers)


def graph_params(layers: tuple[GraphLayerPlan, ...], dim: int) -> int:
    """Parameters: one readout vector of width ``dim`` per node of every layer."""
    return sum(len(layer.neighbours) for layer in layers) * dim


def graph_flops(layers: tuple[GraphLayerPlan, ...], dim: int) -> int:
    """FLOPs per sample: per node the neighbour mean, the product with its field, the readout."""
    return sum((2 * layer.edges + 3 * len(layer.neighbours)) * dim for layer in layers)
