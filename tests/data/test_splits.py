from __future__ import annotations

import numpy as np
import pytest

from recsearch.data import random_split
from recsearch.data import temporal_split
from recsearch.errors import InvalidParameterError


def test_random_split_partitions_rows_reproducibly() -> None:
    a = random_split(1000, seed=3)
    b = random_split(1000, seed=3)
    c = random_split(1000, seed=4)
    assert [len(x) for x in a] == [800, 100, 100]
    assert np.array_equal(np.sort(np.concatenate(a)), np.arange(1000))
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert not np.array_equal(a[0], c[0])


def test_temporal_split_orders_by_time() -> None:
    ts = np.random.default_rng(0).permutation(100)
    train, valid, test = temporal_split(ts, fractions=(0.7, 0.2, 0.1))
    assert ts[train].max() < ts[valid].min() and ts[valid].max() < ts[test].min()
    assert (len(train), len(valid), len(test)) == (70, 20, 10)


@pytest.mark.parametrize(
    "fractions", [(0.5, 0.5), (0.9, 0.2, -0.1), (0.5, 0.1, 0.1), (0, 0.5, 0.5)]
)
def test_bad_fractions(fractions: tuple[float, ...]) -> None:
    with pytest.raises(InvalidParameterError, match="fractions"):
        random_split(10, fractions=fractions)


def test_domain_split_keeps_the_schema_and_partitions_rows() -> None:
    import numpy as np
    import pytest

    from recsearch.data import domain_split
    from recsearch.data.synthetic import synthetic
    from recsearch.errors import InvalidParameterError

    ds = synthetic(600, seed=0)
    src, tgt = domain_split(ds, "c3", source=(1,))
    assert src.schema is ds.schema and tgt.schema is ds.schema
    for a, b, whole in ((src.train, tgt.train, ds.train), (src.test, tgt.test, ds.test)):
        assert len(a) + len(b) == len(whole)
        assert (a.categorical[:, 3] == 1).all() and (b.categorical[:, 3] != 1).all()
    with pytest.raises(InvalidParameterError, match="categorical"):
        domain_split(ds, "n0", source=(1,))
    with pytest.raises(InvalidParameterError, match="no training row"):
        domain_split(ds, "c3", source=(np.int64(10**6),))
