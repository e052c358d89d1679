"""``mlp``: ``layers`` fully connected ReLU layers of ``units`` over the flattened inputs."""

from __future__ import annotations

from typing import Any

from ConfigSpace import Integer

from recsearch.blocktypes._base import BlockKind
from recsearch.blocktypes._base import Searched
from recsearch.blocktypes._base import nearest
from recsearch.blocktypes._base import ordinal


def _counts(b: Any, k: int, dim: int) -> tuple[int, int]:
    params = flops = 0
    prev = k
    for _ in range(b.layers):
        params += prev * b.units + b.units
        flops += 2 * prev * b.units
        prev = b.units
    return params, flops


def _module(b: Any, k: int, dim: int) -> Any:
    from recsearch.objectives.blocks import MLP

    return MLP(k, units=b.units, layers=b.layers)


KIND = BlockKind(
    "mlp",
    "vector",
    (
        Searched("units", "units", lambda n, u: ordinal(n, u, nearest(u, 256))),
        Searched("depth", "layers", lambda n, u: Integer(n, (1, 3), default=1)),
    ),
    output=lambda b, k, dim: ("vec", b.units if b.layers else k),
    counts=_counts,
    module=_module,
)
