"""Numeric-field embeddings (AutoDis): field vectors, bucketised embeddings, meta-embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recsearch.objectives._plan_numeric import NumericPlan
from recsearch.objectives.embeddings import EMBEDDING_INIT_STD
from recsearch.objectives.embeddings import _uniform_
from recsearch.spec import AUTODIS_SKIP


class NumericField(nn.Module):
    """One embedded numeric field: ``(batch,)`` values to ``(batch, dim)`` vectors.

    Example:
        >>> from recsearch.objectives._plan_numeric import NumericPlan
        >>> from recsearch.spec import NumericEmbedding
        >>> plan = NumericPlan("x", 0, NumericEmbedding("x", "autodis", meta=4), (), 8)
        >>> NumericField(plan)(torch.randn(5)).shape
        torch.Size([5, 8])
    """

    def __init__(self, plan: NumericPlan) -> None:
        super().__init__()
        spec = plan.spec
        self.representation = spec.representation
        self.temperature = float(spec.temperature)
        if self.representation == "field":
            self.table = nn.Parameter(torch.empty(1, plan.dim).normal_(std=EMBEDDING_INIT_STD))
        elif self.representation == "bucket":
            self.register_buffer(
                "boundaries", torch.tensor(plan.boundaries, dtype=torch.float32), False
            )
            self.table = nn.Parameter(
                torch.empty(plan.n_buckets, plan.dim).normal_(std=EMBEDDING_INIT_STD)
            )
        else:
            h = spec.meta
            self.w = nn.Parameter(_uniform_(torch.empty(h), 1))
            self.mix = nn.Parameter(_uniform_(torch.empty(h, h), h))
            self.table = nn.Parameter(torch.empty(h, plan.dim).normal_(std=EMBEDDING_INIT_STD))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, dim)``."""
        if self.representation == "field":
            return x.unsqueeze(-1) * self.table[0]
        if self.representation == "bucket":
            return self.table[torch.bucketize(x.contiguous(), self.boundaries)]
        h = F.leaky_relu(x.unsqueeze(-1) * self.w)
        logits = h @ self.mix.T + AUTODIS_SKIP * h
        return torch.softmax(logits / self.temperature, -1) @ self.table


class NumericEmbeddings(nn.Module):
    """Every embedded numeric field of a batch: ``(batch, fields, dim)``.

    Example:
        >>> NumericEmbeddings(plan.embedding.numeric)(batch["numeric"])  # doctest: +SKIP
    """

    def __init__(self, plans: tuple[NumericPlan, ...]) -> None:
        super().__init__()
        self.columns = [p.column for p in plans]
        self.fields = nn.ModuleList(NumericField(p) for p in plans)

    def embedding_parameters(self) -> list[nn.Parameter]:
        """The tables (field vectors, bucket rows, meta-embeddings)."""
        return [f.table for f in self.fields]

    def forward(self, numeric: torch.Tensor) -> torch.Tensor:
        """``(batch, fields, dim)`` in plan order."""
        return torch.stack(
            [f(numeric[:, c]) for f, c in zip(self.fields, self.columns, strict=True)], 1
        )
