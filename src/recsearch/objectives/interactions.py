"""Explicit feature interactions on the stacked ``(batch, fields, dim)`` embeddings.

Each part returns a ``(batch,)`` logit contribution. Pairs of one function are evaluated together:
the members of every selected pair are gathered with one ``index_select`` per side and the function
runs on ``(batch, pairs, dim)`` tensors with per-pair weights, so no Python loop runs over pairs.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from recsearch.objectives._plan import concat_hidden
from recsearch.objectives.embeddings import _uniform_


def bi_interaction(e: torch.Tensor) -> torch.Tensor:
    """The FM bi-interaction vector ``0.5 * ((sum_i e_i)^2 - sum_i e_i^2)``: ``(batch, dim)``."""
    s = e.sum(1)
    return 0.5 * (s * s - (e * e).sum(1))


def fm_interaction(e: torch.Tensor) -> torch.Tensor:
    """Sum of the inner products of every field pair by the square of the sum: ``(batch,)``."""
    return bi_interaction(e).sum(-1)


def pairwise_inner(e: torch.Tensor) -> torch.Tensor:
    """The same sum computed pair by pair (a slow reference for tests): ``(batch,)``."""
    n = e.shape[1]
    out = e.new_zeros(e.shape[0])
    for i in range(n):
        for j in range(i + 1, n):
            out = out + (e[:, i] * e[:, j]).sum(-1)
    return out


class PairFunction(nn.Module):
    """All selected pairs that share one interaction function.

    Args:
        function: ``inner``, ``hadamard``, ``plus``, ``max``, ``min``, ``concat`` or ``outer``.
        pairs: ``(i, j)`` positions in the stacked view.
        dim: Embedding width.

    Example:
        >>> f = PairFunction("hadamard", [(0, 1), (1, 2)], dim=4)
        >>> f(torch.randn(8, 3, 4)).shape
        torch.Size([8])
    """

    def __init__(self, function: str, pairs: Sequence[tuple[int, int]], *, dim: int) -> None:
        super().__init__()
        self.function = function
        n = len(pairs)
        self.register_buffer("left", torch.tensor([p[0] for p in pairs], dtype=torch.long), False)
        self.register_buffer("right", torch.tensor([p[1] for p in pairs], dtype=torch.long), False)
        self.weight: nn.Parameter | None = None
        if function in ("hadamard", "plus", "max", "min"):
            self.weight = nn.Parameter(_uniform_(torch.empty(n, dim), dim))
        elif function == "outer":
            self.weight = nn.Parameter(_uniform_(torch.empty(n, dim, dim), dim))
        elif function == "concat":
            h = concat_hidden(dim)
            self.weight = nn.Parameter(_uniform_(torch.empty(n, 2 * dim, h), 2 * dim))
            self.hidden_bias = nn.Parameter(torch.zeros(n, h))
            self.out = nn.Parameter(_uniform_(torch.empty(n, h), h))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """Sum over the pairs of their scalar interaction: ``(batch,)``."""
        a = e.index_select(1, self.left)
        b = e.index_select(1, self.right)
        f = self.function
        if f == "inner":
            return (a * b).sum((1, 2))
        if f == "outer":
            return torch.einsum("bpi,pij,bpj->b", a, self.weight, b)
        if f == "concat":
            h = torch.relu(torch.einsum("bpi,pih->bph", torch.cat((a, b), -1), self.weight)
                           + self.hidden_bias)
            return (h * self.out).sum((1, 2))
        if f == "hadamard":
            v = a * b
        elif f == "plus":
            v = a + b
        elif f == "max":
            v = torch.maximum(a, b)
        else:
            v = torch.minimum(a, b)
        return (v * self.weight).sum((1, 2))


class PairInteractions(nn.Module):
    """Selected field pairs, each with its own function (AutoFIS / SIF / AutoFeature).

    Args:
        pairs: Stacked-view positions of the pairs, grouped by function.
        dim: Embedding width.

    Example:
        >>> m = PairInteractions({"inner": [(0, 1)], "max": [(0, 2)]}, dim=4)
        >>> m(torch.randn(8, 3, 4)).shape
        torch.Size([8])
    """

    def __init__(self, pairs: dict[str, list[tuple[int, int]]], *, dim: int) -> None:
        super().__init__()
        self.functions = nn.ModuleList(
            PairFunction(f, p, dim=dim) for f, p in sorted(pairs.items()) if p
        )

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """Sum of every pair's interaction: ``(batch,)``."""
        out = self.functions[0](e)
        for f in self.functions[1:]:
            out = out + f(e)
        return out


class GroupInteractions(nn.Module):
    """Higher-order field groups combined FM-style, ``sum_d((sum_i e_i)^p - sum_i e_i^p)``.

    Groups of the same order are evaluated together through a ``(groups, fields)`` mask.

    Args:
        groups: ``(order, stacked positions)`` per group.
        n_fields: Number of fields in the stacked view.

    Example:
        >>> m = GroupInteractions([(3, (0, 1, 2))], n_fields=3)
        >>> m(torch.randn(8, 3, 4)).shape
        torch.Size([8])
    """

    def __init__(self, groups: Sequence[tuple[int, tuple[int, ...]]], *, n_fields: int) -> None:
        super().__init__()
        self.orders = sorted({order for order, _ in groups})
        for order in self.orders:
            members = [pos for o, pos in groups if o == order]
            mask = torch.zeros(len(members), n_fields)
            for g, pos in enumerate(members):
                mask[g, list(pos)] = 1.0
            self.register_buffer(f"mask_{order}", mask, False)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """Sum of every group's interaction: ``(batch,)``."""
        out: torch.Tensor | None = None
        for order in self.orders:
            mask = getattr(self, f"mask_{order}")
            s = torch.einsum("gf,bfd->bgd", mask, e)
            p = torch.einsum("gf,bfd->bgd", mask, e.pow(order))
            term = (s.pow(order) - p).sum((1, 2))
            out = term if out is None else out + term
        assert out is not None
        return out
