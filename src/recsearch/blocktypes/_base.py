"""The descriptor of one block type: its hyperparameters, its shape plan and its module."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

from ConfigSpace import Categorical

if TYPE_CHECKING:
    from recsearch.spec import BlockSpec

Shape = tuple[Literal["vec"], int] | tuple[Literal["emb"], int, int]
"""A block output: ``("vec", width)`` or ``("emb", n_embeddings, width)``."""


def ordinal(name: str, values: Sequence[Any], default: Any) -> Any:
    """An ordered categorical hyperparameter."""
    return Categorical(name, list(values), ordered=True, default=default)


def nearest(values: Sequence[int], target: int) -> int:
    """The value closest to ``target`` (the smaller one on a tie)."""
    return min(values, key=lambda v: (abs(v - target), v))


@dataclass(frozen=True)
class Searched:
    """One searched setting of a block type.

    Attributes:
        local: Hyperparameter name after ``block.<i>.`` (shared names, such as ``dim`` of
            ``fm`` and ``efc``, are one hyperparameter active for each type that has it).
        attr: The :class:`~recsearch.spec.BlockSpec` attribute it sets (an int).
        make: ``make(full name, mlp widths)`` builds the ConfigSpace hyperparameter.
    """

    local: str
    attr: str
    make: Callable[[str, Sequence[int]], Any]


@dataclass(frozen=True)
class BlockKind:
    """Everything one block type means, in one place.

    Attributes:
        name: The ``BlockSpec.type``.
        view: ``vector`` (reads the flattened inputs, ``n_in`` their width) or ``embedding``
            (reads ``n_in`` input embeddings at the interaction width ``dim``).
        searched: Its hyperparameters in the ``blocks`` space.
        output: ``output(block, n_in, dim)``: the output shape.
        counts: ``counts(block, n_in, dim)``: parameters and FLOPs per sample of its core (the
            input projections of the embedding view are counted by the plan).
        module: ``module(block, n_in, dim)``: the torch module of its core (imports torch).
        min_inputs: Fewest input embeddings it works on (``dot``: 2).
    """

    name: str
    view: Literal["vector", "embedding"]
    searched: tuple[Searched, ...]
    output: Callable[[BlockSpec, int, int], Shape]
    counts: Callable[[BlockSpec, int, int], tuple[int, int]]
    module: Callable[[BlockSpec, int, int], Any]
    min_inputs: int = 1
