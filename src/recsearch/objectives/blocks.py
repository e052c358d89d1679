"""Interaction blocks: MLP, FM, dot product, EFC, cross network, self-attention, 1D conv, skip.

The torch modules of the block types; which one a type uses (and how it is sized) is in its
descriptor, :mod:`recsearch.blocktypes`.

A block reads one of two views of its inputs. ``mlp`` and ``cross`` read the *vector view*: the
dense features, the flattened embeddings and the flattened outputs of earlier blocks, concatenated.
The others read the *embedding view* ``(batch, m, dim)``: the field
embeddings at the common width, the dense features projected to one embedding, each earlier vector
output projected to one embedding and the embeddings of earlier embedding outputs (projected when
their width differs).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from recsearch.blocktypes import KINDS
from recsearch.objectives._plan import BlockPlan
from recsearch.objectives.embeddings import _uniform_
from recsearch.objectives.interactions import bi_interaction
from recsearch.spec import BlockSpec


class MLP(nn.Module):
    """``layers`` fully connected ReLU layers of ``units`` each.

    Example:
        >>> MLP(10, units=8, layers=2)(torch.randn(4, 10)).shape
        torch.Size([4, 8])
    """

    def __init__(self, width: int, *, units: int, layers: int) -> None:
        super().__init__()
        mods: list[nn.Module] = []
        for _ in range(layers):
            mods += [nn.Linear(width, units), nn.ReLU()]
            width = units
        self.net = nn.Sequential(*mods)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(batch, units)``."""
        return self.net(x)


class CrossNetwork(nn.Module):
    """DCN cross layers: v1 ``x0 * (x . w) + b + x``; v2 ``x0 * (W x + b) + x``.

    Example:
        >>> CrossNetwork(10, layers=3, version=2)(torch.randn(4, 10)).shape
        torch.Size([4, 10])
    """

    def __init__(self, width: int, *, layers: int, version: int) -> None:
        super().__init__()
        self.version = version
        if version == 1:
            self.w = nn.Parameter(_uniform_(torch.empty(layers, width), width))
            self.b = nn.Parameter(torch.zeros(layers, width))
            self.linears = nn.ModuleList()
        else:
            self.linears = nn.ModuleList(nn.Linear(width, width) for _ in range(layers))
        self.layers = layers

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        """``(batch, width)``."""
        x = x0
        for i in range(self.layers):
            if self.version == 1:
                x = x0 * (x @ self.w[i]).unsqueeze(1) + self.b[i] + x
            else:
                x = x0 * self.linears[i](x) + x
        return x


class FMBlock(nn.Module):
    """The FM bi-interaction vector of the input embeddings, projected to ``out_dim``.

    Example:
        >>> FMBlock(4, out_dim=6)(torch.randn(8, 3, 4)).shape
        torch.Size([8, 6])
    """

    def __init__(self, dim: int, *, out_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(dim, out_dim, bias=False) if out_dim != dim else None

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(batch, out_dim)``."""
        v = bi_interaction(e)
        return v if self.proj is None else self.proj(v)


class DotBlock(nn.Module):
    """Pairwise dot products of the input embeddings: ``(batch, m (m - 1) / 2)``.

    Example:
        >>> DotBlock(3)(torch.randn(8, 3, 4)).shape
        torch.Size([8, 3])
    """

    def __init__(self, n: int) -> None:
        super().__init__()
        i, j = torch.triu_indices(n, n, offset=1)
        self.register_buffer("i", i, False)
        self.register_buffer("j", j, False)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(batch, pairs)``."""
        return (e.index_select(1, self.i) * e.index_select(1, self.j)).sum(-1)


class EFCBlock(nn.Module):
    """Embedding fully connected: a learned mix of ``m`` input embeddings into ``out`` new ones.

    Example:
        >>> EFCBlock(3, out=5)(torch.randn(8, 3, 4)).shape
        torch.Size([8, 5, 4])
    """

    def __init__(self, n: int, *, out: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(_uniform_(torch.empty(out, n), n))
        self.bias = nn.Parameter(torch.zeros(out))

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(batch, out, dim)``."""
        return torch.einsum("om,bmd->bod", self.weight, e) + self.bias[:, None]


class SelfAttention(nn.Module):
    """AutoInt: ``layers`` layers of multi-head self-attention with a residual projection, ReLU.

    Example:
        >>> SelfAttention(4, width=8, heads=2, layers=2)(torch.randn(5, 3, 4)).shape
        torch.Size([5, 3, 8])
    """

    def __init__(self, dim: int, *, width: int, heads: int, layers: int) -> None:
        super().__init__()
        self.heads = heads
        self.qkvr = nn.ModuleList()
        for _ in range(layers):
            self.qkvr.append(nn.Linear(dim, 4 * width, bias=False))
            dim = width

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(batch, m, width)``."""
        b, m, _ = e.shape
        for layer in self.qkvr:
            q, k, v, r = layer(e).chunk(4, -1)
            h = self.heads
            split = [t.reshape(b, m, h, -1).transpose(1, 2) for t in (q, k, v)]
            att = F.scaled_dot_product_attention(*split)
            e = torch.relu(att.transpose(1, 2).reshape(b, m, -1) + r)
        return e


class FieldConv(nn.Module):
    """A 1D convolution along the field axis (embedding width as channels), then ReLU.

    Example:
        >>> FieldConv(4, kernel=3)(torch.randn(5, 6, 4)).shape
        torch.Size([5, 6, 4])
    """

    def __init__(self, dim: int, *, kernel: int) -> None:
        super().__init__()
        self.conv = nn.Conv1d(dim, dim, kernel, padding=kernel // 2)

    def forward(self, e: torch.Tensor) -> torch.Tensor:
        """``(batch, m, dim)``."""
        return torch.relu(self.conv(e.transpose(1, 2)).transpose(1, 2))


class Block(nn.Module):
    """One block of the DAG: assembles its input view, then runs its core (from its descriptor).

    Args:
        spec: The block's spec.
        plan: Its planned shapes.
        earlier: Planned shapes of the earlier blocks.
        n_dense: Number of numeric features.
        dim: Common embedding width.

    Example:
        >>> block = Block(BlockSpec("mlp"), plan, (), n_dense=2, dim=16)  # doctest: +SKIP
    """

    def __init__(
        self,
        spec: BlockSpec,
        plan: BlockPlan,
        earlier: tuple[BlockPlan, ...],
        *,
        n_dense: int,
        dim: int,
    ) -> None:
        super().__init__()
        self.spec = spec
        kind = KINDS[spec.type]
        self.embedding_view = kind.view == "embedding"
        self.use_dense = spec.dense_input and n_dense > 0
        self.dense_proj: nn.Module | None = None
        self.input_proj = nn.ModuleDict()
        self._kinds: dict[int, str] = {}
        if self.embedding_view:
            if self.use_dense:
                self.dense_proj = nn.Linear(n_dense, dim, bias=False)
            for j in spec.inputs:
                out = earlier[j].output
                self._kinds[j] = out[0]
                if out[0] == "vec":
                    self.input_proj[str(j)] = nn.Linear(out[1], dim, bias=False)
                elif out[2] != dim:  # type: ignore[misc]
                    width = out[2]  # type: ignore[misc]
                    self.input_proj[str(j)] = nn.Linear(width, dim, bias=False)
        n_in = plan.n_embeddings if self.embedding_view else plan.vector_width
        self.core: nn.Module = kind.module(spec, n_in, dim)

    def forward(
        self,
        dense: torch.Tensor | None,
        flat: torch.Tensor | None,
        stacked: torch.Tensor | None,
        outputs: list[torch.Tensor],
    ) -> torch.Tensor:
        """Run the block on the raw inputs and the outputs of earlier blocks."""
        parts: list[torch.Tensor] = []
        if self.embedding_view:
            if self.spec.sparse_input and stacked is not None:
                parts.append(stacked)
            if self.dense_proj is not None:
                assert dense is not None
                parts.append(self.dense_proj(dense).unsqueeze(1))
            for j in self.spec.inputs:
                o = outputs[j]
                proj = self.input_proj[str(j)] if str(j) in self.input_proj else None
                if self._kinds[j] == "vec":
                    assert proj is not None
                    parts.append(proj(o).unsqueeze(1))
                else:
                    parts.append(o if proj is None else proj(o))
            x = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
        else:
            if self.use_dense:
                assert dense is not None
                parts.append(dense)
            if self.spec.sparse_input and flat is not None:
                parts.append(flat)
            for j in self.spec.inputs:
                o = outputs[j]
                parts.append(o if o.dim() == 2 else o.reshape(o.shape[0], -1))
            x = parts[0] if len(parts) == 1 else torch.cat(parts, 1)
        return self.core(x)
