"""``cross``: a DCN cross network (v1 vector or v2 matrix layers) over the flattened inputs."""

from __future__ import annotations

from typing import Any

from ConfigSpace import Categorical
from ConfigSpace import Integer

from recsearch.blocktypes._base import BlockKind
from recsearch.blocktypes._base import Searched
from recsearch.spec import CROSS_VERSIONS


def _counts(b: Any, k: int, dim: int) -> tuple[int, int]:
    if b.cross_version == 1:
        return b.layers * 2 * k, b.layers * 5 * k
    return b.layers * (k * k + k), b.layers * (2 * k * k + 3 * k)


def _module(b: Any, k: int, dim: int) -> Any:
    from recsearch.objectives.blocks import CrossNetwork

    return CrossNetwork(k, layers=b.layers, version=b.cross_version)


KIND = BlockKind(
    "cross",
    "vector",
    (
        Searched("cross_layers", "layers", lambda n, u: Integer(n, (1, 4), default=2)),
        Searched(
            "cross_version", "cross_version",
            lambda n, u: Categorical(n, list(CROSS_VERSIONS), default=1),
        ),
    ),
    output=lambda b, k, dim: ("vec", k),
    counts=_counts,
    module=_module,
)
