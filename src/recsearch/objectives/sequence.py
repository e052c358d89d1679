"""Behaviour-sequence encoders (AMEIR layers; DIN-style target attention)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from recsearch.objectives._plan_sequence import CONV_WIDTH
from recsearch.objectives._plan_sequence import SequencePlan
from recsearch.objectives.embeddings import EMBEDDING_INIT_STD
from recsearch.objectives.embeddings import _uniform_
from recsearch.spec import BehaviourSpec
from recsearch.spec import SequenceLayer

_NEG = -1e9
_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu, "swish": F.silu, "identity": lambda x: x}


class _SelfAttention(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = self.qkv(x).chunk(3, -1)
        scores = (q @ k.transpose(1, 2)) / math.sqrt(x.shape[-1])
        scores = scores.masked_fill(~mask[:, None, :], _NEG)
        return torch.softmax(scores, -1) @ v


class EncoderLayer(nn.Module):
    """``x + activation(op(norm(x)))`` with padding positions kept at 0.

    Example:
        >>> layer = EncoderLayer(SequenceLayer("layer", "gru", "swish"), dim=4)
        >>> x, mask = torch.randn(2, 5, 4), torch.ones(2, 5, dtype=torch.bool)
        >>> layer(x, mask).shape
        torch.Size([2, 5, 4])
    """

    def __init__(self, spec: SequenceLayer, *, dim: int) -> None:
        super().__init__()
        self.op_name = spec.op
        self.activation = _ACTIVATIONS[spec.activation]
        self.norm = nn.LayerNorm(dim) if spec.norm == "layer" and spec.op != "zero" else None
        self.op: nn.Module | None
        if spec.op == "conv":
            self.op = nn.Conv1d(dim, dim, CONV_WIDTH, padding=CONV_WIDTH // 2)
        elif spec.op == "gru":
            self.op = nn.GRU(dim, dim, batch_first=True)
        elif spec.op == "attention":
            self.op = _SelfAttention(dim)
        else:
            self.op = None

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """``(batch, length, dim)``."""
        if self.op_name == "zero":
            return x
        h = x if self.norm is None else self.norm(x)
        if self.op_name == "conv":
            assert self.op is not None
            h = self.op(h.transpose(1, 2)).transpose(1, 2)
        elif self.op_name == "gru":
            assert self.op is not None
            h = self.op(h)[0]
        elif self.op_name == "attention":
            assert self.op is not None
            h = self.op(h, mask)
        else:  # pool
            h = F.avg_pool1d(
                h.transpose(1, 2), CONV_WIDTH, 1, CONV_WIDTH // 2, count_include_pad=False
            ).transpose(1, 2)
        return (x + self.activation(h)) * mask.unsqueeze(-1)


class SequenceEncoder(nn.Module):
    """One sequence field: item embeddings, the layers, then the output vector ``(batch, dim)``.

    Example:
        >>> from recsearch.objectives._plan_sequence import SequencePlan
        >>> plan = SequencePlan("h", 0, 10, 5, 4, 6, 0, 0, 0)
        >>> enc = SequenceEncoder(plan, BehaviourSpec(output="target"))
        >>> enc(torch.randint(0, 10, (3, 5)), torch.randn(3, 6)).shape
        torch.Size([3, 4])
    """

    def __init__(self, plan: SequencePlan, spec: BehaviourSpec) -> None:
        super().__init__()
        self.output = spec.output
        self.items = nn.Embedding(plan.vocab, plan.dim, padding_idx=0)
        nn.init.normal_(self.items.weight, std=EMBEDDING_INIT_STD)
        with torch.no_grad():
            self.items.weight[0].zero_()
        self.layers = nn.ModuleList(EncoderLayer(layer, dim=plan.dim) for layer in spec.layers)
        self.query = (
            nn.Parameter(_uniform_(torch.empty(plan.query_width, plan.dim), plan.query_width))
            if plan.query_width
            else None
        )

    def forward(self, ids: torch.Tensor, context: torch.Tensor | None) -> torch.Tensor:
        """``(batch, dim)`` from ``(batch, length)`` ids and the flattened sparse embeddings."""
        mask = ids != 0
        x = self.items(ids)
        for layer in self.layers:
            x = layer(x, mask)
        if self.output == "last":
            return x[:, -1]
        if self.output == "average":
            count = mask.sum(1, keepdim=True).clamp_min(1).to(x.dtype)
            return x.sum(1) / count
        assert self.query is not None and context is not None
        q = context @ self.query
        scores = (x @ q.unsqueeze(-1)).squeeze(-1) / math.sqrt(x.shape[-1])
        weights = torch.softmax(scores.masked_fill(~mask, _NEG), -1) * mask
        return (weights.unsqueeze(-1) * x).sum(1)


class SequenceEncoders(nn.Module):
    """Every encoded sequence field of a batch: ``(batch, fields, dim)``.

    Example:
        >>> SequenceEncoders(plan.embedding.sequences, spec.behaviour)  # doctest: +SKIP
    """

    def __init__(self, plans: tuple[SequencePlan, ...], spec: BehaviourSpec) -> None:
        super().__init__()
        self.columns = [p.column for p in plans]
        self.encoders = nn.ModuleList(SequenceEncoder(p, spec) for p in plans)

    def embedding_parameters(self) -> list[nn.Parameter]:
        """The item tables."""
        return [e.items.weight for e in self.encoders]

    def forward(self, sequences: list[torch.Tensor], context: torch.Tensor | None) -> torch.Tensor:
        """``(batch, fields, dim)`` in plan order."""
        return torch.stack(
            [e(sequences[c], context) for e, c in zip(self.encoders, self.columns, strict=True)],
            1,
        )
