"""Block types of the interaction DAG, one module each: hyperparameters, shape plan, module.

A new block type is a module here with a ``KIND`` (:class:`BlockKind`), its name in
``recsearch.spec.BlockType`` and an entry below; the space builder, ``decode``, the shape plan
(and so the cost model) and the model read it from :data:`KINDS`. Torch-free: the module
factories import torch when called.
"""

from __future__ import annotations

from recsearch.blocktypes import attention
from recsearch.blocktypes import conv
from recsearch.blocktypes import cross
from recsearch.blocktypes import dot
from recsearch.blocktypes import efc
from recsearch.blocktypes import fm
from recsearch.blocktypes import mlp
from recsearch.blocktypes import skip
from recsearch.blocktypes._base import BlockKind
from recsearch.blocktypes._base import Searched
from recsearch.blocktypes._base import Shape
from recsearch.spec import BLOCK_TYPES

__all__ = ["KINDS", "BlockKind", "Searched", "Shape", "kind"]

KINDS: dict[str, BlockKind] = {
    m.KIND.name: m.KIND for m in (mlp, fm, dot, efc, cross, attention, conv, skip)
}

if set(KINDS) != set(BLOCK_TYPES):  # pragma: no cover - a developer mistake
    raise RuntimeError(
        f"recsearch.blocktypes {sorted(KINDS)} and BlockType {BLOCK_TYPES} disagree"
    )


def kind(name: str) -> BlockKind:
    """The descriptor of block type ``name``."""
    return KINDS[name]
