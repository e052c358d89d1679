"""Two domains of one data set, for transfer between them (AutoFT).

Both domains keep the data set's schema (same fields and vocabularies), so a model trained on
the source domain loads on the target domain. MovieLens-100K's documented rule:
``domain_split(ds, "gender", source=(1,))``: ratings by users of the most frequent gender
(index 1, male in the data) are the source domain, the rest (female) the target domain.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsearch.data.schema import Dataset
from recsearch.errors import InvalidParameterError


def domain_split(
    dataset: Dataset, field: str, *, source: Sequence[int]
) -> tuple[Dataset, Dataset]:
    """Rows whose categorical ``field`` index is in ``source``, and the others.

    Args:
        dataset: The data set.
        field: A categorical field.
        source: Its indices that make up the source domain.

    Returns:
        ``(source domain, target domain)``, each split like ``dataset``.

    Raises:
        InvalidParameterError: ``field`` is not categorical, or a domain has no training row.

    Example:
        >>> from recsearch.data.synthetic import synthetic
        >>> src, tgt = domain_split(synthetic(500, seed=0), "c7", source=(1, 2))
        >>> len(src) + len(tgt)
        500
    """
    names = [f.name for f in dataset.schema.categorical]
    if field not in names:
        raise InvalidParameterError(
            f"domain_split: {field!r} is not a categorical field; categorical fields: {names}"
        )
    column = names.index(field)
    chosen = np.asarray(list(source), dtype=np.int64)
    parts = []
    for keep in (True, False):
        splits = []
        for split in (dataset.train, dataset.valid, dataset.test):
            mask = np.isin(split.categorical[:, column], chosen) == keep
            splits.append(split.take(np.flatnonzero(mask)))
        if len(splits[0]) == 0:
            raise InvalidParameterError(
                f"domain_split: the {'source' if keep else 'target'} domain of {field!r} in "
                f"{tuple(chosen.tolist())} has no training row."
            )
        name = f"{dataset.name}/{field}{'' if keep else '-not'}{tuple(chosen.tolist())}"
        parts.append(Dataset(name, dataset.schema, *splits, info=dict(dataset.info)))
    return parts[0], parts[1]
