"""Planted data sets and an FM base shared by the one-shot tests."""

from __future__ import annotations

import dataclasses
import functools

from ConfigSpace import ConfigurationSpace

from recsearch.data.schema import Dataset
from recsearch.data.synthetic import synthetic
from recsearch.spaces import default_base
from recsearch.spec import HeadSpec
from recsearch.spec import ModelSpec


@functools.lru_cache(maxsize=4)
def planted(n_rows: int, n_categorical: int, seed: int, noise_fraction: float = 0.25) -> Dataset:
    """Generated data with planted pairs (cached: several tests read the same set)."""
    return synthetic(
        n_rows, n_categorical=n_categorical, max_vocab=100, noise_fraction=noise_fraction,
        seed=seed,
    )


def fm_base(space: ConfigurationSpace, *, batch_size: int = 256) -> ModelSpec:
    """The space's base as an FM (no MLP: pairs are the only interaction path), lr 1e-2."""
    base = default_base(space)
    return dataclasses.replace(
        base,
        head=HeadSpec(widths=()),
        training=dataclasses.replace(base.training, batch_size=batch_size, lr=1e-2),
    )
