"""The data layer: schemas, loaders, splits and the on-disk cache.

Every loader returns a :class:`Dataset` whose splits are compact numpy arrays, with index 0 of
every categorical and multi-hot field reserved for out-of-vocabulary values. Never imports torch
or search code. The file loaders (pandas/pyarrow) are imported on first use, so importing this
package costs numpy only.

Example:
    >>> import recsearch.data as rd
    >>> ds = rd.load("synthetic", n_rows=1000, seed=0)
    >>> ds.train.categorical.shape
    (800, 8)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING
from typing import Any

from recsearch.data._api import NAMES
from recsearch.data._api import load
from recsearch.data.domains import domain_split
from recsearch.data.schema import Dataset
from recsearch.data.schema import Field
from recsearch.data.schema import Schema
from recsearch.data.schema import Split
from recsearch.data.splits import random_split
from recsearch.data.splits import temporal_split
from recsearch.data.synthetic import synthetic

if TYPE_CHECKING:
    from recsearch.data._avazu import avazu
    from recsearch.data._criteo import criteo
    from recsearch.data._movielens import movielens_100k
    from recsearch.data._movielens import movielens_100k_rows
    from recsearch.data.cache import cache_home
    from recsearch.data.frame import from_frame
    from recsearch.data.frame import read_file

_LAZY = {
    "avazu": "recsearch.data._avazu",
    "cache_home": "recsearch.data.cache",
    "criteo": "recsearch.data._criteo",
    "from_frame": "recsearch.data.frame",
    "read_file": "recsearch.data.frame",
    "movielens_100k": "recsearch.data._movielens",
    "movielens_100k_rows": "recsearch.data._movielens",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'recsearch.data' has no attribute {name!r}")


__all__ = [
    "NAMES",
    "Dataset",
    "Field",
    "Schema",
    "Split",
    "avazu",
    "cache_home",
    "criteo",
    "domain_split",
    "from_frame",
    "load",
    "movielens_100k",
    "movielens_100k_rows",
    "random_split",
    "read_file",
    "synthetic",
    "temporal_split",
]
