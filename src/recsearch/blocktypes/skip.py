"""``skip``: the input embeddings unchanged."""

from __future__ import annotations

from typing import Any

from recsearch.blocktypes._base import BlockKind


def _module(b: Any, m: int, dim: int) -> Any:
    from torch import nn

    return nn.Identity()


KIND = BlockKind(
    "skip", "embedding", (),
    output=lambda b, m, dim: ("emb", m, dim),
    counts=lambda b, m, dim: (0, 0),
    module=_module,
)
