"""Fused embedding tables: one table per dimension, per-field offsets, NIS frequency groups.

Every sparse field whose values embed at dimension ``d`` owns a contiguous range of rows in the
table of dimension ``d`` (row 0 of each table is a shared zero row). A batch of categorical
columns becomes table rows by adding per-column offsets (or, when a table holds a multi-size field,
through a remap built once from index to row), so each table is read by one gather whatever the
number of fields. Narrower NIS groups are projected to the field width; fields of different widths
are projected to the common width for the stacked view that interactions read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from recsearch.errors import InvalidParameterError
from recsearch.objectives._plan import EmbeddingPlan
from recsearch.objectives._plan import rank_by_frequency

if TYPE_CHECKING:
    from recsearch.data.schema import Schema
    from recsearch.spec import PruneSpec

Batch = dict[str, "torch.Tensor | list[torch.Tensor]"]
EMBEDDING_INIT_STD = 1e-2


def _uniform_(t: torch.Tensor, fan_in: int) -> torch.Tensor:
    bound = 1.0 / math.sqrt(max(fan_in, 1))
    with torch.no_grad():
        return t.uniform_(-bound, bound)


class _Table:
    """Build-time bookkeeping of one fused table (not a module)."""

    def __init__(self, dim: int) -> None:
        self.dim = dim
        self.next_row = 1
        self.cat_fields: list[int] = []  # plan indices of categorical fields, in column order
        self.mh_fields: list[int] = []
        self.rows: dict[int, np.ndarray] = {}  # plan index -> row of each value (0: not here)
        self.multi_size = False


class FieldEmbeddings(nn.Module):
    """Embeds the sparse fields of a batch.

    Args:
        plan: The embedding layout (``recsearch.objectives._plan.embedding_plan``).
        schema: The data schema (field frequencies rank NIS groups).
        stacked: Whether to create the projections to the common width.
        prune: PEP soft thresholds (``None``: plain tables).

    Example:
        >>> from recsearch.objectives._plan import embedding_plan  # doctest: +SKIP
        >>> emb = FieldEmbeddings(embedding_plan(spec, schema), schema)  # doctest: +SKIP
        >>> per_width = emb(batch); emb.stacked(per_width).shape  # doctest: +SKIP
        torch.Size([4096, 20, 16])
    """

    def __init__(
        self,
        plan: EmbeddingPlan,
        schema: Schema,
        *,
        stacked: bool = True,
        prune: PruneSpec | None = None,
    ) -> None:
        super().__init__()
        self.plan = plan
        sparse = {f.name: f for f in schema.sparse}
        tables = {d: _Table(d) for d in plan.table_rows}
        for i, fp in enumerate(plan.fields):
            if fp.multi_size:
                ranked = rank_by_frequency(sparse[fp.name])
            else:
                ranked = np.arange(fp.vocab)
            bounds = np.cumsum((0,) + fp.group_sizes)
            for g, d in enumerate(fp.dims):
                if d == 0:
                    continue
                t = tables[d]
                if i not in t.rows:
                    t.rows[i] = np.zeros(fp.vocab, dtype=np.int64)
                    (t.cat_fields if fp.kind == "categorical" else t.mh_fields).append(i)
                values = ranked[bounds[g] : bounds[g + 1]]
                t.rows[i][values] = t.next_row + np.arange(values.shape[0])
                t.next_row += values.shape[0]
                t.multi_size |= fp.multi_size
        self.dims = tuple(plan.table_rows)
        self.tables = nn.ModuleList()
        n_cat_total = sum(1 for f in schema.sparse if f.kind == "categorical")
        self._cat_select: list[bool] = []
        self._remapped: list[bool] = []
        self._mh: list[list[tuple[int, int]]] = []  # (multi_hot column, remap buffer slot)
        entries: list[list[int]] = []  # per table: plan indices of its gathered entries
        for k, d in enumerate(self.dims):
            t = tables[d]
            assert t.next_row == plan.table_rows[d]
            table = nn.Embedding(t.next_row, d, padding_idx=0)
            nn.init.normal_(table.weight, std=EMBEDDING_INIT_STD)
            with torch.no_grad():
                table.weight[0].zero_()
            self.tables.append(table)
            cols = [plan.fields[i].column for i in t.cat_fields]
            select = cols != list(range(n_cat_total))
            self._cat_select.append(select)
            self.register_buffer(f"cols_{k}", torch.tensor(cols, dtype=torch.long), False)
            self._remapped.append(t.multi_size)
            if t.multi_size:
                vocab = [plan.fields[i].vocab for i in t.cat_fields]
                goff = np.concatenate(([0], np.cumsum(vocab)[:-1])) if vocab else np.zeros(0)
                remap = np.concatenate([t.rows[i] for i in t.cat_fields]) if vocab else []
                self.register_buffer(f"off_{k}", torch.tensor(goff, dtype=torch.long), False)
                self.register_buffer(
                    f"remap_{k}", torch.as_tensor(np.asarray(remap, np.int64)), False
                )
            else:
                # Single-group fields: row = start + value, start = row of value 0.
                starts = [int(t.rows[i][0]) for i in t.cat_fields]
                self.register_buffer(f"off_{k}", torch.tensor(starts, dtype=torch.long), False)
            mh = []
            for i in t.mh_fields:
                slot = len(mh)
                self.register_buffer(f"mhmap_{k}_{slot}", torch.as_tensor(t.rows[i]), False)
                mh.append((plan.fields[i].column, slot))
            self._mh.append(mh)
            entries.append(t.cat_fields + t.mh_fields)
        self._init_prune(prune, tables)

        # Assembly per field width: contributions of each table, projected when narrower.
        self.widths = plan.widths
        position = {i: None for i in range(len(plan.fields))}
        members: dict[int, list[int]] = {w: [] for w in self.widths}
        for i, fp in enumerate(plan.fields):
            position[i] = len(members[fp.width])
            members[fp.width].append(i)
        self._terms: list[list[tuple[int, bool, bool, int, bool]]] = []
        self.nis_proj = nn.ParameterList()
        for wi, w in enumerate(self.widths):
            terms = []
            for k, d in enumerate(self.dims):
                idx = [e for e, i in enumerate(entries[k]) if plan.fields[i].width == w]
                if not idx:
                    continue
                target = [position[entries[k][e]] for e in idx]
                whole = idx == list(range(len(entries[k])))
                self.register_buffer(f"sel_{wi}_{k}", torch.tensor(idx, dtype=torch.long), False)
                self.register_buffer(
                    f"tgt_{wi}_{k}", torch.tensor(target, dtype=torch.long), False
                )
                proj = -1
                if d != w:
                    proj = len(self.nis_proj)
                    self.nis_proj.append(nn.Parameter(_uniform_(torch.empty(len(idx), d, w), d)))
                in_order = target == list(range(len(members[w])))
                terms.append((k, whole, in_order, proj, d != w))
            self._terms.append(terms)
        self._n_members = [len(members[w]) for w in self.widths]
        self.common_dim = plan.common_dim
        self.stack_proj = nn.ParameterList()
        self._stack_proj_index: list[int] = []
        for wi, w in enumerate(self.widths):
            if stacked and w != self.common_dim:
                self._stack_proj_index.append(len(self.stack_proj))
                weight = torch.empty(self._n_members[wi], w, self.common_dim)
                self.stack_proj.append(nn.Parameter(_uniform_(weight, w)))
            else:
                self._stack_proj_index.append(-1)

    def _init_prune(self, prune: PruneSpec | None, tables: dict[int, _Table]) -> None:
        self.prune = None if prune is None else prune.granularity
        for k, d in enumerate(self.dims):
            owner = np.full(self.plan.table_rows[d], -1, dtype=np.int64)
            for i, rows in tables[d].rows.items():
                owner[rows[rows > 0]] = i
            self.register_buffer(f"owner_{k}", torch.as_tensor(owner), False)
        self.thresholds = nn.ParameterList()
        if prune is None or not self.dims:
            return
        if prune.granularity == "global":
            self.thresholds.append(nn.Parameter(torch.full((1,), float(prune.init))))
            return
        if prune.granularity == "field":
            self.thresholds.append(
                nn.Parameter(torch.full((len(self.plan.fields),), float(prune.init)))
            )
            return
        for d in self.dims:
            self.thresholds.append(
                nn.Parameter(torch.full((self.plan.table_rows[d],), float(prune.init)))
            )

    def _threshold(self, k: int, rows: torch.Tensor) -> torch.Tensor:
        """PEP's ``g(s)`` for each looked-up row, shaped to broadcast over the dimension."""
        if self.prune == "global":
            return torch.sigmoid(self.thresholds[0])
        if self.prune == "field":
            s = self.thresholds[0][getattr(self, f"owner_{k}")[rows].clamp_min(0)]
        else:
            s = self.thresholds[k][rows]
        return torch.sigmoid(s).unsqueeze(-1)

    def _lookup(self, k: int, rows: torch.Tensor) -> torch.Tensor:
        """Rows of table ``k``, soft-thresholded when pruned."""
        v = self.tables[k](rows)
        if self.prune is None:
            return v
        return torch.sign(v) * torch.relu(v.abs() - self._threshold(k, rows))

    def freeze_fields(self, names: set[str]) -> None:
        """Keep the table rows of the fields ``names`` at their values (their gradient is 0)."""
        frozen = [i for i, f in enumerate(self.plan.fields) if f.name in names]
        if not frozen:
            return
        for k, table in enumerate(self.tables):
            owner = getattr(self, f"owner_{k}")
            keep = (~torch.isin(owner, torch.tensor(frozen, device=owner.device))).unsqueeze(-1)
            if bool(keep.all()):
                continue
            self.register_buffer(f"train_rows_{k}", keep.to(table.weight.dtype), False)
            table.weight.register_hook(
                lambda g, k=k: g * getattr(self, f"train_rows_{k}")  # type: ignore[misc]
            )

    def fix_masks(self, masks: Sequence[torch.Tensor]) -> None:
        """Train only the entries ``masks`` keep (PEP's retrain with the found mask).

        Each mask has its table's shape; entries it drops are set to 0 and get no gradient, so
        they stay 0. The soft thresholds are switched off: the mask is the pruning.

        Raises:
            InvalidParameterError: The masks do not match the tables (count or shapes).
        """
        shapes = [tuple(t.weight.shape) for t in self.tables]
        if [tuple(m.shape) for m in masks] != shapes:
            raise InvalidParameterError(
                f"embedding masks of shapes {[tuple(m.shape) for m in masks]} do not fit the "
                f"tables {shapes}"
            )
        self.prune = None
        for k, (table, mask) in enumerate(zip(self.tables, masks, strict=True)):
            keep = mask.to(table.weight.device, table.weight.dtype)
            self.register_buffer(f"fixed_mask_{k}", keep, False)
            with torch.no_grad():
                table.weight.mul_(keep)
            table.weight.register_hook(
                lambda g, k=k: g * getattr(self, f"fixed_mask_{k}")  # type: ignore[misc]
            )

    def effective_tables(self) -> list[torch.Tensor]:
        """The tables as the model reads them (thresholded when pruned), without gradients."""
        with torch.no_grad():
            out = []
            for k, table in enumerate(self.tables):
                rows = torch.arange(table.num_embeddings, device=table.weight.device)
                out.append(self._lookup(k, rows))
            return out

    def _gather(self, k: int, batch: Batch) -> torch.Tensor:
        """Rows of table ``k`` for every entry it holds: ``(batch, entries, dim)``."""
        table = self.tables[k]
        parts = []
        cols = getattr(self, f"cols_{k}")
        if cols.numel():
            x = batch["categorical"]
            assert isinstance(x, torch.Tensor)
            if self._cat_select[k]:
                x = x.index_select(1, cols)
            if self._remapped[k]:
                rows = getattr(self, f"remap_{k}")[x + getattr(self, f"off_{k}")]
            else:
                rows = x + getattr(self, f"off_{k}")
            parts.append(self._lookup(k, rows))
        for column, slot in self._mh[k]:
            ids = batch["multi_hot"][column]
            assert isinstance(ids, torch.Tensor)
            rows = getattr(self, f"mhmap_{k}_{slot}")[ids]
            mask = (ids != 0).unsqueeze(-1).to(table.weight.dtype)
            count = mask.sum(1).clamp_min(1.0)
            parts.append(((self._lookup(k, rows) * mask).sum(1) / count).unsqueeze(1))
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def forward(self, batch: Batch) -> list[torch.Tensor]:
        """Field vectors grouped by width: one ``(batch, fields_of_width, width)`` per width."""
        gathered = [self._gather(k, batch) for k in range(len(self.dims))]
        outs = []
        for wi, w in enumerate(self.widths):
            total: torch.Tensor | None = None
            for k, whole, in_order, proj, projected in self._terms[wi]:
                e = gathered[k]
                if not whole:
                    e = e.index_select(1, getattr(self, f"sel_{wi}_{k}"))
                if projected:
                    e = torch.einsum("bkd,kdw->bkw", e, self.nis_proj[proj])
                if in_order and total is None:
                    total = e
                    continue
                if total is None:
                    total = e.new_zeros(e.shape[0], self._n_members[wi], w)
                total = total.index_add(1, getattr(self, f"tgt_{wi}_{k}"), e)
            assert total is not None
            outs.append(total)
        return outs

    def flat(self, per_width: list[torch.Tensor]) -> torch.Tensor:
        """The field vectors concatenated: ``(batch, sum of widths)`` in stacked order."""
        parts = [e.reshape(e.shape[0], -1) for e in per_width]
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)

    def stacked(self, per_width: list[torch.Tensor]) -> torch.Tensor:
        """The fields at the common width: ``(batch, fields, common_dim)`` in stacked order."""
        parts = []
        for wi, e in enumerate(per_width):
            p = self._stack_proj_index[wi]
            parts.append(e if p < 0 else torch.einsum("bkw,kwd->bkd", e, self.stack_proj[p]))
        return parts[0] if len(parts) == 1 else torch.cat(parts, 1)


class LinearTerm(nn.Module):
    """First-order weights of the embedded sparse fields plus a linear map of the dense features.

    Args:
        plan: The embedding layout (dropped fields get no weight).
        n_categorical: Number of categorical columns in a batch.
        n_dense: Number of numeric features.

    Example:
        >>> LinearTerm(plan, n_categorical=20, n_dense=0)(batch).shape  # doctest: +SKIP
        torch.Size([4096])
    """

    def __init__(self, plan: EmbeddingPlan, *, n_categorical: int, n_dense: int) -> None:
        super().__init__()
        cat = [f for f in plan.fields if f.kind == "categorical"]
        mh = [f for f in plan.fields if f.kind == "multi_hot"]
        sizes = [f.vocab for f in cat + mh]
        starts = np.concatenate(([0], np.cumsum(sizes)[:-1])) if sizes else np.zeros(0)
        self.weight = nn.Embedding(int(sum(sizes)), 1) if sizes else None
        if self.weight is not None:
            nn.init.zeros_(self.weight.weight)
        cols = [f.column for f in cat]
        self._select = cols != list(range(n_categorical))
        self._n_cat = len(cat)
        self.register_buffer("cols", torch.tensor(cols, dtype=torch.long), False)
        self.register_buffer(
            "off", torch.tensor(starts[: len(cat)], dtype=torch.long), False
        )
        self._mh = [(f.column, int(s)) for f, s in zip(mh, starts[len(cat) :], strict=True)]
        self.dense = nn.Linear(n_dense, 1, bias=False) if n_dense else None

    def forward(self, batch: Batch, dense: torch.Tensor | None = None) -> torch.Tensor:
        """The first-order logit contribution, ``(batch,)``; ``dense``: the dense inputs."""
        out: torch.Tensor | None = None
        if self._n_cat:
            assert self.weight is not None
            x = batch["categorical"]
            assert isinstance(x, torch.Tensor)
            if self._select:
                x = x.index_select(1, self.cols)
            out = self.weight(x + self.off).sum((1, 2))
        for column, start in self._mh:
            ids = batch["multi_hot"][column]
            assert isinstance(ids, torch.Tensor) and self.weight is not None
            mask = (ids != 0).to(self.weight.weight.dtype)
            w = self.weight(ids + start).squeeze(-1) * mask
            term = w.sum(1) / mask.sum(1).clamp_min(1.0)
            out = term if out is None else out + term
        if self.dense is not None:
            x = batch["numeric"] if dense is None else dense
            assert isinstance(x, torch.Tensor)
            term = self.dense(x).squeeze(-1)
            out = term if out is None else out + term
        if out is None:
            raise AssertionError("LinearTerm with no input")
        return out
