"""``efc``: a learned linear mix of the input embeddings into ``dim`` new embeddings."""

from __future__ import annotations

from typing import Any

from recsearch.blocktypes._base import BlockKind
from recsearch.blocktypes.fm import DIM


def _module(b: Any, m: int, dim: int) -> Any:
    from recsearch.objectives.blocks import EFCBlock

    return EFCBlock(m, out=b.dim)


KIND = BlockKind(
    "efc", "embedding", (DIM,),
    output=lambda b, m, dim: ("emb", b.dim, dim),
    counts=lambda b, m, dim: (b.dim * m + b.dim, 2 * b.dim * m * dim),
    module=_module,
)
