from __future__ import annotations

import numpy as np
import pytest
from scipy.sparse import csr_matrix
from scipy.sparse import hstack
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.preprocessing import OneHotEncoder

import recsearch.data as rd
from recsearch.errors import InvalidParameterError


def _same(a: rd.Dataset, b: rd.Dataset) -> bool:
    for sa, sb in ((a.train, b.train), (a.valid, b.valid), (a.test, b.test)):
        if not (
            np.array_equal(sa.categorical, sb.categorical)
            and np.array_equal(sa.numeric, sb.numeric)
            and np.array_equal(sa.label, sb.label)
            and all(np.array_equal(x, y) for x, y in zip(sa.multi_hot, sb.multi_hot, strict=True))
        ):
            return False
    return a.info["ground_truth"] == b.info["ground_truth"]


def test_200k_rows_twice_are_identical() -> None:
    a = rd.load("synthetic", n_rows=200_000, seed=1)
    b = rd.load("synthetic", n_rows=200_000, seed=1)
    assert len(a) == 200_000 and _same(a, b)


def test_load_synthetic_is_reproducible_and_seed_dependent() -> None:
    a = rd.load("synthetic", n_rows=3000, seed=1, n_multi_hot=1)
    b = rd.load("synthetic", n_rows=3000, seed=1, n_multi_hot=1)
    c = rd.load("synthetic", n_rows=3000, seed=2, n_multi_hot=1)
    assert _same(a, b)
    assert not _same(a, c)


def test_shapes_kinds_and_default_split() -> None:
    ds = rd.synthetic(2000, n_categorical=5, n_numeric=3, n_multi_hot=2, seed=0)
    assert len(ds) == 2000
    assert (len(ds.train), len(ds.valid), len(ds.test)) == (1600, 200, 200)
    assert [f.kind for f in ds.schema] == ["categorical"] * 5 + ["numeric"] * 3 + ["multi_hot"] * 2
    assert ds.schema.sparse_names == ("c0", "c1", "c2", "c3", "c4", "m0", "m1")
    assert ds.train.categorical.dtype == np.int64 and ds.train.categorical.shape == (1600, 5)
    assert ds.train.numeric.dtype == np.float32 and ds.train.numeric.shape == (1600, 3)
    assert ds.train.label.dtype == np.float32
    assert set(np.unique(ds.train.label)) <= {0.0, 1.0}
    for j, f in enumerate(ds.schema.categorical):
        col = ds.train.categorical[:, j]
        assert col.min() >= 1 and col.max() < f.vocab_size  # index 0 stays OOV
    for m, f in zip(ds.train.multi_hot, ds.schema.multi_hot, strict=True):
        assert m.max() < f.vocab_size
        assert (m[:, 0] > 0).all()  # every row holds at least one value, then 0-padding


def test_vocab_sizes_zipf_and_frequencies_counted_on_train() -> None:
    ds = rd.synthetic(4000, n_categorical=6, max_vocab=600, seed=3)
    sizes = [f.vocab_size for f in ds.schema.categorical]
    assert sizes == sorted(sizes, reverse=True)
    assert sizes[0] == 600 and sizes[1] == 300
    for j, f in enumerate(ds.schema.categorical):
        assert f.frequencies.shape == (f.vocab_size,)
        assert f.frequencies.sum() == len(ds.train)
        expected = np.bincount(ds.train.categorical[:, j], minlength=f.vocab_size)
        assert np.array_equal(f.frequencies, expected)
        # Zipf-like values: the most frequent value is far above the median value's count.
        assert f.frequencies[1] > 5 * max(np.median(f.frequencies[1:]), 1)


def test_ground_truth_is_plain_and_consistent() -> None:
    ds = rd.synthetic(1000, n_categorical=8, n_numeric=2, n_triples=2, seed=4)
    gt = ds.info["ground_truth"]
    names = set(ds.schema.names)
    weights = gt["field_weights"]
    assert set(weights) == names
    noise = {f for f, w in weights.items() if w == 0.0}
    assert noise, "some fields must be pure noise"
    assert len({w for w in weights.values() if w > 0}) > 2, "informativeness must differ"
    assert len(gt["pairs"]) == len(gt["pair_weights"]) >= 1
    assert len(gt["triples"]) == len(gt["triple_weights"]) == 2
    for group in list(gt["pairs"]) + list(gt["triples"]):
        assert isinstance(group, tuple)
        assert set(group) <= names and not set(group) & noise
        assert len(set(group)) == len(group)
    assert all(isinstance(w, float) and w > 0 for w in gt["pair_weights"] + gt["triple_weights"])


def test_positive_rate_option() -> None:
    ds = rd.synthetic(20_000, positive_rate=0.5, seed=0)
    rate = float(np.concatenate([ds.train.label, ds.valid.label, ds.test.label]).mean())
    assert abs(rate - 0.5) < 0.03


def _onehot_auc(ds: rd.Dataset, pairs: list[tuple[str, str]]) -> float:
    names = [f.name for f in ds.schema.categorical]

    def cols(split: rd.Split) -> np.ndarray:
        out = [split.categorical[:, j] for j in range(len(names))]
        for a, b in pairs:
            out.append(
                split.categorical[:, names.index(a)] * 10**6 + split.categorical[:, names.index(b)]
            )
        return np.stack(out, axis=1)

    enc = OneHotEncoder(handle_unknown="ignore")
    xtr = hstack([enc.fit_transform(cols(ds.train)), csr_matrix(ds.train.numeric)]).tocsr()
    xva = hstack([enc.transform(cols(ds.valid)), csr_matrix(ds.valid.numeric)]).tocsr()
    model = LogisticRegression(C=0.3, max_iter=1000).fit(xtr, ds.train.label)
    return float(roc_auc_score(ds.valid.label, model.predict_proba(xva)[:, 1]))


def test_signal_is_learnable_and_planted_pairs_matter() -> None:
    ds = rd.synthetic(8000, max_vocab=100, seed=0)
    gt = ds.info["ground_truth"]
    names = [f.name for f in ds.schema.categorical]
    others = [
        (a, b) for i, a in enumerate(names) for b in names[i + 1 :] if (a, b) not in gt["pairs"]
    ][: len(gt["pairs"])]
    main = _onehot_auc(ds, [])
    planted = _onehot_auc(ds, list(gt["pairs"]))
    unplanted = _onehot_auc(ds, others)
    assert main > 0.65
    assert main < planted < ds.info["oracle_auc"]["valid"] + 0.01
    assert planted > main + 0.02
    assert planted > unplanted + 0.02


def test_bad_parameters_raise() -> None:
    with pytest.raises(InvalidParameterError, match="n_rows"):
        rd.synthetic(0)
    with pytest.raises(InvalidParameterError, match="positive_rate"):
        rd.synthetic(100, positive_rate=1.5)
    with pytest.raises(InvalidParameterError, match="fractions"):
        rd.synthetic(100, fractions=(0.5, 0.1, 0.1))


def test_nonlinear_numeric_effect_is_not_linear() -> None:
    import numpy as np

    from recsearch.data.synthetic import synthetic

    lin = synthetic(4000, n_categorical=2, n_numeric=1, noise_fraction=0.0, seed=1)
    non = synthetic(
        4000, n_categorical=2, n_numeric=1, noise_fraction=0.0, numeric_effect="nonlinear", seed=1
    )
    assert np.array_equal(lin.train.numeric, non.train.numeric), "same values, other effect"
    assert non.info["numeric_effect"] == "nonlinear"
    q = non.schema["n0"].quantiles
    assert q.shape == (101,) and np.all(np.diff(q) >= 0)

    def slope(ds):  # the label's linear trend in the numeric value
        x, y = ds.train.numeric[:, 0], ds.train.label
        return abs(np.corrcoef(x, y)[0, 1])

    assert slope(lin) > 0.06 > 0.03 > slope(non)
