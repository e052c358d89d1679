"""A CTR model assembled from a :class:`recsearch.spec.ModelSpec`: a thin composition of parts."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

from recsearch.objectives._plan import ModelPlan
from recsearch.objectives._plan import model_plan
from recsearch.objectives._plan import unconsumed
from recsearch.objectives.blocks import Block
from recsearch.objectives.embeddings import Batch
from recsearch.objectives.embeddings import FieldEmbeddings
from recsearch.objectives.embeddings import LinearTerm
from recsearch.objectives.graph import GraphInteraction
from recsearch.objectives.interactions import GroupInteractions
from recsearch.objectives.interactions import PairInteractions
from recsearch.objectives.interactions import fm_interaction
from recsearch.objectives.numeric import NumericEmbeddings

if TYPE_CHECKING:
    from recsearch.data.schema import Schema
    from recsearch.spec import HeadSpec
    from recsearch.spec import ModelSpec


class Head(nn.Module):
    """The MLP on top: hidden layers (batch norm, ReLU, dropout), then one output unit.

    Example:
        >>> from recsearch.spec import HeadSpec
        >>> Head(10, HeadSpec(widths=(8,)))(torch.randn(4, 10)).shape
        torch.Size([4])
    """

    def __init__(self, width: int, spec: HeadSpec) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        for w in spec.widths:
            mods.append(nn.Linear(width, w))
            if spec.batch_norm:
                mods.append(nn.BatchNorm1d(w))
            mods.append(nn.ReLU())
            if spec.dropout > 0:
                mods.append(nn.Dropout(spec.dropout))
            width = w
        mods.append(nn.Linear(width, 1, bias=False))
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch,)``."""
        return self.net(x).squeeze(-1)


def _cat(parts: list[torch.Tensor], extra: torch.Tensor | None) -> torch.Tensor | None:
    """``parts`` (and ``extra``) concatenated along axis 1; ``None`` when there is nothing."""
    if extra is not None:
        parts = [*parts, extra]
    if not parts:
        return None
    return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


class CTRModel(nn.Module):
    """``logit = bias + linear + interactions + head(blocks)`` over the parts the spec has.

    Args:
        spec: The model spec.
        schema: The data schema.

    Example:
        >>> model = CTRModel(baseline("deepfm"), dataset.schema)  # doctest: +SKIP
        >>> model(batch)["logit"].shape  # doctest: +SKIP
        torch.Size([4096])
    """

    def __init__(self, spec: ModelSpec, schema: Schema) -> None:
        super().__init__()
        plan = model_plan(spec, schema)
        self.spec = spec
        self.plan: ModelPlan = plan
        emb = plan.embedding
        self.embeddings = FieldEmbeddings(
            emb, schema, stacked=plan.needs_stacked, prune=spec.embedding.prune
        )
        self.bias = nn.Parameter(torch.zeros(1))
        self.linear = (
            LinearTerm(emb, n_categorical=len(schema.categorical), n_dense=plan.n_dense)
            if spec.linear
            else None
        )
        inter = spec.interaction
        self.fm = inter is not None and inter.pairs is None and emb.n_fields >= 2
        self.pairs = PairInteractions(plan.pairs, dim=emb.common_dim) if plan.pairs else None
        self.groups = (
            GroupInteractions(plan.groups, n_fields=emb.n_fields) if plan.groups else None
        )
        self.graph = (
            GraphInteraction(plan.graph, n_fields=emb.n_fields, dim=emb.common_dim)
            if plan.graph
            else None
        )
        self.blocks = nn.ModuleList(
            Block(b, plan.blocks[i], plan.blocks[:i], n_dense=plan.n_dense, dim=emb.common_dim)
            for i, b in enumerate(spec.blocks)
        )
        self.head_reads = unconsumed(spec) if spec.blocks else ()
        self.head = Head(plan.head_input, spec.head) if plan.head_input else None
        self.needs_flat = bool(
            (not spec.blocks and self.head is not None)
            or any(b.sparse_input and b.type in ("mlp", "cross") for b in spec.blocks)
        )
        self.numeric = NumericEmbeddings(emb.numeric) if emb.numeric else None
        self.has_dense = plan.n_dense > 0
        self.has_fields = len(emb.fields) > 0
        self._select_dense = list(emb.dense_columns) != list(range(len(schema.numeric)))
        self.register_buffer(
            "dense_columns", torch.tensor(emb.dense_columns, dtype=torch.long), False
        )

    def embedding_parameters(self) -> list[nn.Parameter]:
        """The embedding tables and first-order weights (their own weight decay)."""
        params = [t.weight for t in self.embeddings.tables]
        if self.numeric is not None:
            params += self.numeric.embedding_parameters()
        if self.linear is not None and self.linear.weight is not None:
            params.append(self.linear.weight.weight)
        return params

    def forward(self, batch: Batch) -> dict[str, torch.Tensor]:
        """``{"logit": (batch,)}`` for a batch of ``categorical``, ``numeric``, ``multi_hot``."""
        logit = self.bias
        numeric = batch["numeric"]
        assert isinstance(numeric, torch.Tensor)
        dense = None
        if self.has_dense:
            dense = numeric.index_select(1, self.dense_columns) if self._select_dense else numeric
        per_width = self.embeddings(batch) if self.has_fields else []
        num = self.numeric(numeric) if self.numeric is not None else None
        stacked = flat = None
        if self.plan.needs_stacked:
            stacked = _cat([self.embeddings.stacked(per_width)] if per_width else [], num)
        if self.needs_flat:
            flat = _cat([self.embeddings.flat(per_width)] if per_width else [],
                        None if num is None else num.flatten(1))
        if self.linear is not None:
            logit = logit + self.linear(batch, dense)
        if self.fm:
            assert stacked is not None
            logit = logit + fm_interaction(stacked)
        if self.pairs is not None:
            assert stacked is not None
            logit = logit + self.pairs(stacked)
        if self.groups is not None:
            assert stacked is not None
            logit = logit + self.groups(stacked)
        if self.graph is not None:
            assert stacked is not None
            logit = logit + self.graph(stacked)
        if self.head is not None:
            if self.blocks:
                outputs: list[torch.Tensor] = []
                for block in self.blocks:
                    outputs.append(block(dense, flat, stacked, outputs))
                parts = [
                    outputs[i] if outputs[i].dim() == 2 else outputs[i].flatten(1)
                    for i in self.head_reads
                ]
            else:
                parts = [p for p in (dense, flat) if p is not None]
            x = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
            logit = logit + self.head(x)
        if logit.dim() == 1 and logit.shape[0] == 1:
            n = next(v for v in batch.values() if isinstance(v, torch.Tensor)).shape[0]
            logit = logit.expand(n)
        return {"logit": logit}


def build_model(spec: ModelSpec, schema: Schema) -> CTRModel:
    """Build the torch model of ``spec`` for data of ``schema`` (on the CPU, freshly initialised).

    Raises:
        InvalidParameterError: The spec names fields the schema lacks or predicts from nothing.

    Example:
        >>> from recsearch.spec import baseline
        >>> model = build_model(baseline("deepfm"), dataset.schema)  # doctest: +SKIP
    """
    return CTRModel(spec, schema)
