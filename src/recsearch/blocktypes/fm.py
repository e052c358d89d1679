"""``fm``: the FM bi-interaction vector of the input embeddings, projected to ``dim``."""

from __future__ import annotations

from typing import Any

from recsearch.blocktypes._base import BlockKind
from recsearch.blocktypes._base import Searched
from recsearch.blocktypes._base import ordinal

DIM = Searched("dim", "dim", lambda n, u: ordinal(n, [2, 4, 8, 16, 32], 8))
"""Output width of ``fm``, number of output embeddings of ``efc`` (one hyperparameter)."""


def _counts(b: Any, m: int, dim: int) -> tuple[int, int]:
    params, flops = 0, 3 * m * dim
    if b.dim != dim:
        params += dim * b.dim
        flops += 2 * dim * b.dim
    return params, flops


def _module(b: Any, m: int, dim: int) -> Any:
    from recsearch.objectives.blocks import FMBlock

    return FMBlock(dim, out_dim=b.dim)


KIND = BlockKind(
    "fm", "embedding", (DIM,),
    output=lambda b, m, dim: ("vec", b.dim),
    counts=_counts,
    module=_module,
)
