"""``darts`` over block types: a mixed operation per node of a ``block`` DAG (AutoPI, AutoCTR).

Every node (``block.<i>``) computes every candidate type of its ``block.<i>.type`` side by side on
one input and mixes them, ``sum_t softmax(beta_i)_t BN(op_t(x_i))``; its input is a mixture of
its candidate sources (the ``block.<i>.main`` choices: the dense features, the field embeddings,
earlier nodes), ``x_i = sum_s softmax(alpha_i)_s src_s``. So that the candidates can be summed,
every tensor is the embedding view ``(batch, m, dim)`` of the stacked fields: the dense features
and a vector output are projected to one embedding and broadcast over the ``m`` positions (as an
embedding-view block reads a vector output), a vector of width ``m * dim`` (``cross``) is
reshaped, an embedding output of another width is projected; vector-view types (``mlp``,
``cross``) read the flattened input. The head reads every node's output (DARTS' cell output).
Type settings (``units``, ``heads``, ``kernel``...) are held at the space's defaults.

Derivation: each node takes its ``argmax beta`` type, its ``argmax alpha`` source as ``main`` and
its second source as well (its ``dense`` / ``sparse`` / ``skip<j>`` bit: DARTS' two inputs per
node); the second configuration reads the best source alone; the third is the pick with the node
whose two best types are closest switched to its second type. (On planted third-order data the
two-input cell scored above the one-input one in 4 of 4 measured searches.)
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
from ConfigSpace import ConfigurationSpace
from torch import nn

from recsearch.blocktypes import KINDS
from recsearch.errors import SpaceError
from recsearch.objectives.cost import static_cost
from recsearch.spec import BlockSpec

_TYPE = re.compile(r"^block\.(\d+)\.type$")
_INPUT = re.compile(r"^block\.(\d+)\.(main|dense|sparse|skip\d+)$")


def nodes(space: ConfigurationSpace) -> list[int]:
    """Indices of the space's ``block.<i>.type`` hyperparameters, in order."""
    return sorted(int(m.group(1)) for n in space if (m := _TYPE.match(n)))


def accepts(space: ConfigurationSpace, name: str) -> bool:
    """Whether ``name`` is a node's type or one of its input choices."""
    return bool(_TYPE.match(name) or _INPUT.match(name)) and bool(nodes(space))


def supernet_values(space: ConfigurationSpace) -> dict[str, Any]:
    """Values that make every node an embedding-view block reading the fields (the stacked view).

    Raises:
        SpaceError: A node offers no embedding-view type (the cell needs the stacked view).
    """
    out: dict[str, Any] = {}
    for i in nodes(space):
        choices = list(space[f"block.{i}.type"].choices)
        view = [t for t in choices if KINDS[t].view == "embedding"]
        if not view:
            raise SpaceError(
                f"darts over block types needs an embedding-view type among block.{i}.type "
                f"{choices} (for the stacked field view the mixture is built on)."
            )
        out[f"block.{i}.type"] = view[0]
        out[f"block.{i}.main"] = "sparse"
    return out


def _setting(space: ConfigurationSpace, name: str, fallback: int) -> int:
    return int(space[name].default_value) if name in space else int(fallback)


class _Op(nn.Module):
    """One candidate type of one node, its output brought to ``(batch, m, dim)`` and normalised."""

    def __init__(self, block: BlockSpec, m: int, dim: int) -> None:
        super().__init__()
        kind = KINDS[block.type]
        self.vector = kind.view == "vector"
        n_in = m * dim if self.vector else m
        self.core = kind.module(block, n_in, dim)
        out = kind.output(block, n_in, dim)
        self.m, self.dim = m, dim
        self.mode = "same"
        width = out[1] if out[0] == "vec" else out[1] * out[2]  # type: ignore[misc]
        self.proj: nn.Module | None = None
        if out[0] == "emb" and out[1] == m:
            if out[2] != dim:  # type: ignore[misc]
                self.mode = "width"
                self.proj = nn.Linear(out[2], dim, bias=False)  # type: ignore[misc]
        elif out[0] == "vec" and out[1] == m * dim:
            self.mode = "reshape"
        else:
            self.mode = "one"
            self.proj = nn.Linear(width, dim, bias=False)
        self.norm = nn.BatchNorm1d(dim if self.mode == "one" else m * dim, affine=False)
        self.flops = int(kind.counts(block, n_in, dim)[1]) + 6 * m * dim + (
            2 * width * dim if self.proj is not None else 0
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, m, dim)``."""
        b = x.shape[0]
        y = self.core(x.flatten(1) if self.vector else x)
        if self.mode == "one":
            one = self.norm(self.proj(y.flatten(1)))  # type: ignore[misc]
            return one.unsqueeze(1).expand(b, self.m, self.dim)
        if self.mode == "width":
            y = self.proj(y)  # type: ignore[misc]
        return self.norm(y.reshape(b, -1)).reshape(b, self.m, self.dim)


class MixedCell(nn.Module):
    """Every node under every candidate type on a softmax mixture of its candidate sources.

    Called as a block of :class:`~recsearch.objectives.model.CTRModel` (``block(dense, flat,
    stacked, outputs)``); returns every node's output, flattened and concatenated.

    Args:
        space: The space (``block.<i>.type`` / ``.main`` choices and the type settings).
        m: Embeddings in the stacked view.
        dim: Their width.
        n_dense: Dense features.
    """

    def __init__(self, space: ConfigurationSpace, *, m: int, dim: int, n_dense: int) -> None:
        super().__init__()
        self.index = nodes(space)
        self.types: list[list[str]] = []
        self.sources: list[list[str]] = []
        self.ops = nn.ModuleList()
        self.m, self.dim = m, dim
        for i in self.index:
            p = f"block.{i}."
            kept = [t for t in space[f"{p}type"].choices if KINDS[t].min_inputs <= m]
            ops = nn.ModuleList()
            for t in kept:
                settings = {
                    s.attr: _setting(space, f"{p}{s.local}", getattr(BlockSpec(t), s.attr))
                    for s in KINDS[t].searched
                }
                ops.append(_Op(BlockSpec(t, **settings), m, dim))
            self.ops.append(ops)
            self.types.append(kept)
            self.sources.append(list(space[f"{p}main"].choices))
        self.dense_proj = (
            nn.Linear(n_dense, dim, bias=False)
            if n_dense and any("dense" in s for s in self.sources)
            else None
        )
        self.alpha = nn.ParameterList(nn.Parameter(torch.zeros(len(s))) for s in self.sources)
        self.beta = nn.ParameterList(nn.Parameter(torch.zeros(len(t))) for t in self.types)
        self.out_width = len(self.index) * m * dim
        self.flops = sum(int(op.flops) for ops in self.ops for op in ops) + sum(
            2 * len(s) * m * dim for s in self.sources
        ) + (2 * n_dense * dim if self.dense_proj is not None else 0)

    def arch_parameters(self) -> list[nn.Parameter]:
        """The source weights ``alpha`` and the type weights ``beta`` of every node."""
        return [*self.alpha, *self.beta]

    def forward(self, dense: torch.Tensor | None, flat: Any, stacked: torch.Tensor | None,
                outputs: Any) -> torch.Tensor:  # fmt: skip
        """``(batch, nodes * m * dim)``; called as a block (``flat`` and ``outputs`` unread)."""
        del flat, outputs
        assert stacked is not None
        b = stacked.shape[0]
        shape = (b, self.m, self.dim)
        found: dict[str, torch.Tensor] = {"sparse": stacked}
        if self.dense_proj is not None and dense is not None:
            found["dense"] = self.dense_proj(dense).unsqueeze(1).expand(shape)
        outs: list[torch.Tensor] = []
        for k, ops in enumerate(self.ops):
            w = torch.softmax(self.alpha[k], 0)
            x = sum(w[s] * found[src] for s, src in enumerate(self.sources[k]) if src in found)
            v = torch.softmax(self.beta[k], 0)
            y = sum(v[t] * op(x) for t, op in enumerate(ops))
            found[f"b{k}"] = y  # type: ignore[assignment]
            outs.append(y)  # type: ignore[arg-type]
        return torch.cat([o.flatten(1) for o in outs], 1)


def attach(model: Any, space: ConfigurationSpace) -> MixedCell:
    """Put a :class:`MixedCell` in place of the supernet model's blocks and widen its head."""
    from recsearch.objectives.model import Head

    plan = model.plan
    m = int(plan.blocks[0].n_embeddings)
    cell = MixedCell(space, m=m, dim=int(plan.embedding.common_dim), n_dense=int(plan.n_dense))
    model.blocks = nn.ModuleList([cell])
    model.head_reads = (0,)
    model.head = Head(cell.out_width, model.spec.head)
    return cell


def flops(cell: MixedCell, spec: Any, schema: Any) -> int:
    """FLOPs per sample of the supernet: embeddings and head over every node, plus the cell."""
    every = spec.replace(blocks=tuple(BlockSpec("skip") for _ in cell.index))
    return int(static_cost(every, schema).flops_per_sample + cell.flops)


def derive(cell: MixedCell, n_configs: int) -> list[dict[str, Any]]:
    """Values of the derived configurations (module docstring), the pick first."""
    alpha = [a.detach().cpu().numpy().astype(float) for a in cell.alpha]
    beta = [b.detach().cpu().numpy().astype(float) for b in cell.beta]
    one: dict[str, Any] = {}
    for k, i in enumerate(cell.index):
        one[f"block.{i}.type"] = cell.types[k][int(beta[k].argmax())]
        one[f"block.{i}.main"] = cell.sources[k][int(alpha[k].argmax())]
    pick = dict(one)
    for k, i in enumerate(cell.index):
        if len(cell.sources[k]) > 1:
            src = cell.sources[k][int(np.argsort(-alpha[k], kind="stable")[1])]
            pick[f"block.{i}.{'skip' + src[1:] if src.startswith('b') else src}"] = True
    margins = [
        (float(np.diff(np.sort(b)[-2:])[0]), k) for k, b in enumerate(beta) if len(b) > 1
    ]
    out = [pick, one]
    if margins:
        k = min(margins)[1]
        switched = dict(pick)
        switched[f"block.{cell.index[k]}.type"] = cell.types[k][
            int(np.argsort(-beta[k], kind="stable")[1])
        ]
        out.append(switched)
    return out[: max(1, n_configs)]


def weights(cell: MixedCell) -> dict[str, Any]:
    """The learned softmax weights by hyperparameter name, per choice."""
    out: dict[str, Any] = {}
    for k, i in enumerate(cell.index):
        for name, labels, logits in (
            ("type", cell.types[k], cell.beta[k]), ("main", cell.sources[k], cell.alpha[k])
        ):
            p = torch.softmax(logits.detach().cpu(), 0).numpy()
            out[f"block.{i}.{name}"] = dict(zip(labels, np.round(p, 4).tolist(), strict=True))
    return out
