"""FIVES: layer-wise graph interactions of increasing order over the stacked field embeddings.

With ``h^0_i = e_i`` (the field embeddings at the common width), layer ``k`` gives every field
``i`` with neighbours ``N_k(i)`` the node ``h^k_i = e_i * mean_{j in N_k(i)} h^{k-1}_j`` (an
order-``k+1`` interaction; a field without neighbours at layer ``k`` has ``h^k_i = 0``), and each
such node adds ``w_ki . h^k_i`` to the logit.
"""

from __future__ import annotations

import torch
from torch import nn

from recsearch.objectives._plan_graph import GraphLayerPlan
from recsearch.objectives.embeddings import _uniform_


class GraphInteraction(nn.Module):
    """``h^k = e * (A_k h^{k-1})`` with row-normalised adjacency ``A_k``; readouts to the logit.

    Args:
        layers: The planned layers (:func:`recsearch.objectives._plan_graph.graph_plan`).
        n_fields: Number of fields in the stacked view.
        dim: Width of the stacked view.

    Example:
        >>> from recsearch.objectives._plan_graph import GraphLayerPlan
        >>> layer = GraphLayerPlan(((0, (1, 2)), (2, (0,))))
        >>> GraphInteraction((layer, layer), n_fields=3, dim=4)(torch.randn(8, 3, 4)).shape
        torch.Size([8])
    """

    def __init__(self, layers: tuple[GraphLayerPlan, ...], *, n_fields: int, dim: int) -> None:
        super().__init__()
        self.n_layers = len(layers)
        self.readout = nn.ParameterList()
        for k, layer in enumerate(layers):
            adj = torch.zeros(n_fields, n_fields)
            for i, js in layer.neighbours:
                adj[i, list(js)] = 1.0 / len(js)
            self.register_buffer(f"adj_{k}", adj, False)
            self.register_buffer(
                f"active_{k}", torch.tensor(layer.active, dtype=torch.long), False
            )
            self.readout.append(nn.Parameter(_uniform_(torch.empty(len(layer.active), dim), dim)))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """Sum of every node's readout: ``(batch,)``."""
        h = e
        out = e.new_zeros(e.shape[0])
        for k in range(self.n_layers):
            h = e * torch.einsum("ij,bjd->bid", getattr(self, f"adj_{k}"), h)
            nodes = h.index_select(1, getattr(self, f"active_{k}"))
            out = out + (nodes * self.readout[k]).sum((1, 2))
        return out
