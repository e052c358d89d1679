"""``attention``: AutoInt multi-head self-attention over the input embeddings."""

from __future__ import annotations

from typing import Any

from ConfigSpace import Integer

from recsearch.blocktypes._base import BlockKind
from recsearch.blocktypes._base import Searched
from recsearch.blocktypes._base import ordinal


def attention_width(block: Any) -> int:
    """Output width: ``heads`` heads of ``max(1, dim // heads)`` each."""
    return int(block.heads * max(1, block.dim // block.heads))


def _counts(b: Any, m: int, dim: int) -> tuple[int, int]:
    width = attention_width(b)
    params = flops = 0
    a_in = dim
    for _ in range(b.layers):
        params += 4 * a_in * width
        flops += 2 * 4 * m * a_in * width + 2 * 2 * m * m * width
        a_in = width
    return params, flops


def _module(b: Any, m: int, dim: int) -> Any:
    from recsearch.objectives.blocks import SelfAttention

    return SelfAttention(dim, width=attention_width(b), heads=b.heads, layers=b.layers)


KIND = BlockKind(
    "attention",
    "embedding",
    (
        Searched("heads", "heads", lambda n, u: ordinal(n, [1, 2, 4], 2)),
        Searched("attn_layers", "layers", lambda n, u: Integer(n, (1, 3), default=1)),
    ),
    output=lambda b, m, dim: ("emb", m, attention_width(b)),
    counts=_counts,
    module=_module,
)
