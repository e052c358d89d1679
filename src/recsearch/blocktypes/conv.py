"""``conv``: a 1D convolution along the field axis of the input embeddings, then ReLU."""

from __future__ import annotations

from typing import Any

from recsearch.blocktypes._base import BlockKind
from recsearch.blocktypes._base import Searched
from recsearch.blocktypes._base import ordinal


def _module(b: Any, m: int, dim: int) -> Any:
    from recsearch.objectives.blocks import FieldConv

    return FieldConv(dim, kernel=b.kernel)


KIND = BlockKind(
    "conv", "embedding", (Searched("kernel", "kernel", lambda n, u: ordinal(n, [1, 3, 5], 3)),),
    output=lambda b, m, dim: ("emb", m, dim),
    counts=lambda b, m, dim: (dim * dim * b.kernel + dim, 2 * m * dim * dim * b.kernel + m * dim),
    module=_module,
)
