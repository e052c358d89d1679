"""``dot``: the pairwise dot products of the input embeddings."""

from __future__ import annotations

from typing import Any

from recsearch.blocktypes._base import BlockKind


def _module(b: Any, m: int, dim: int) -> Any:
    from recsearch.objectives.blocks import DotBlock

    return DotBlock(m)


KIND = BlockKind(
    "dot", "embedding", (),
    output=lambda b, m, dim: ("vec", m * (m - 1) // 2),
    counts=lambda b, m, dim: (0, 2 * (m * (m - 1) // 2) * dim),
    module=_module,
    min_inputs=2,
)
