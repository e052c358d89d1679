"""A generated CTR data set with planted field interactions and a known ground truth.

The label of each row is drawn from a logistic model::

    logit = bias + sum_f w_f * u_f[x_f]                      (main effects, per field)
                 + sum_(a,b) w_ab * <p_a[x_a], p_b[x_b]>      (planted pairs)
                 + sum_(a,b,c) w_abc * sum_k t_a[x_a]_k t_b[x_b]_k t_c[x_c]_k   (planted triples)
                 + sum_n w_n * f(x_n)                                (numeric fields)
                 + sum_s (v_s[last item] + mean_items v_s[item]) / 2  (sequence fields)

with ``f(x) = x`` (``numeric_effect="linear"``) or ``f`` the standardised
``sin(2.5 x) + |x| / 2`` (``"nonlinear"``: no linear function of ``x`` explains it, so a model
must discretise or embed the value to use it).

The per-value tables ``u``, ``p`` and ``t`` are random and standardised under each field's value
distribution (zero mean, unit variance of each term), so a planted pair carries no main effect
and a planted triple carries nothing a model of its pairs could explain: interaction structure
matters. Noise fields have weight 0 and appear in no interaction. Vocabulary sizes fall off like
Zipf's law over the fields (``max_vocab / rank``) and values within a field are Zipf-distributed,
as in real click logs. The bias is set so that the expected positive rate is ``positive_rate``.
"""

from __future__ import annotations

import itertools
from typing import Any
from typing import Literal

import numpy as np

from recsearch.data._assemble import assemble
from recsearch.data.schema import Dataset
from recsearch.data.schema import FieldKind
from recsearch.data.splits import DEFAULT_FRACTIONS
from recsearch.data.splits import random_split
from recsearch.errors import InvalidParameterError

_LATENT_DIM = 4


def _zipf_cdf(n_values: int, exponent: float) -> np.ndarray:
    """CDF over the values ``1..n_values`` with probability proportional to ``rank**-exponent``."""
    p = np.arange(1, n_values + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(p / p.sum())
    cdf[-1] = 1.0
    return cdf


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int | tuple[int, ...]) -> np.ndarray:
    """Indices ``1..len(cdf)`` drawn from a CDF (index 0 stays the OOV index)."""
    idx = np.searchsorted(cdf, rng.random(size), side="right")
    out: np.ndarray = np.minimum(idx, cdf.shape[0] - 1).astype(np.int64) + 1
    return out


def _standardised(
    rng: np.random.Generator, probs: np.ndarray, dim: int, scale: float
) -> np.ndarray:
    """A ``(V, dim)`` table, zero-mean and ``scale``-std per column under ``probs``; row 0 is 0."""
    table = rng.standard_normal((probs.shape[0], dim))
    mean = probs @ table
    table -= mean
    std = np.sqrt(probs @ table**2)
    table *= scale / np.maximum(std, 1e-12)
    table[0] = 0.0
    return table


def _check_positive(name: str, value: int, minimum: int = 0) -> None:
    is_int = isinstance(value, int | np.integer) and not isinstance(value, bool)
    if not is_int or value < minimum:
        raise InvalidParameterError(
            f"The {name!r} parameter of synthetic must be an integer >= {minimum}."
            f" Got {value!r} instead."
        )


def synthetic(
    n_rows: int = 20_000,
    *,
    n_categorical: int = 8,
    n_numeric: int = 2,
    n_multi_hot: int = 0,
    max_vocab: int = 1000,
    min_vocab: int = 4,
    n_pairs: int | None = None,
    n_triples: int = 1,
    noise_fraction: float = 0.25,
    interaction_scale: float = 1.0,
    zipf_exponent: float = 1.1,
    multi_hot_max_len: int = 4,
    n_sequence: int = 0,
    sequence_max_len: int = 8,
    numeric_effect: Literal["linear", "nonlinear"] = "linear",
    positive_rate: float = 0.3,
    fractions: tuple[float, float, float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> Dataset:
    """Generate a CTR data set with planted pairwise and third-order interactions.

    Field names are ``c0, c1, ...`` (categorical), ``n0, ...`` (numeric) and ``m0, ...``
    (multi-hot). ``dataset.info["ground_truth"]`` is a plain dict::

        {"pairs": [("c0", "c3"), ...], "pair_weights": [...],
         "triples": [("c1", "c2", "c5"), ...], "triple_weights": [...],
         "field_weights": {"c0": 1.3, ..., "n1": 0.0}, "bias": -1.2}

    Fields with weight 0 are pure noise and take part in no interaction.
    ``dataset.info["oracle_auc"]`` holds the AUC of the true click probability on each split:
    the ceiling any model can reach.

    Args:
        n_rows: Number of rows before splitting.
        n_categorical: Number of categorical fields.
        n_numeric: Number of standard-normal numeric fields.
        n_multi_hot: Number of multi-hot fields (main effect is the mean over the row's values).
        max_vocab: Vocabulary size (including OOV index 0) of the largest categorical field.
        min_vocab: Smallest vocabulary size.
        n_pairs: Number of planted pairs among informative categorical fields; ``None`` picks
            ``max(1, n_informative // 2 + 1)``.
        n_triples: Number of planted triples.
        noise_fraction: Share of the fields that are pure noise.
        interaction_scale: Multiplies every pair and triple weight.
        zipf_exponent: Exponent of the Zipf law of values within a field.
        multi_hot_max_len: Longest multi-hot row (rows hold 1 to this many values).
        n_sequence: Number of sequence fields ``s0, ...`` (histories of 0 to
            ``sequence_max_len`` items, left-padded; the most recent item and the history's
            mean carry the effect). They are drawn from a stream of their own, so adding them
            leaves every other field and the interactions as they were.
        sequence_max_len: Longest history.
        numeric_effect: How a numeric field enters the logit (module docstring).
        positive_rate: Expected share of positive labels.
        fractions: Train/valid/test shares of the seeded random split.
        seed: Seeds everything: two calls with equal arguments give identical data and truth.

    Example:
        >>> ds = synthetic(1000, seed=0)
        >>> len(ds), ds.schema.sparse_names[:2]
        (1000, ('c0', 'c1'))
    """
    _check_positive("n_rows", n_rows, 1)
    _check_positive("n_categorical", n_categorical)
    _check_positive("n_numeric", n_numeric)
    _check_positive("n_multi_hot", n_multi_hot)
    _check_positive("max_vocab", max_vocab, 2)
    _check_positive("min_vocab", min_vocab, 2)
    _check_positive("n_triples", n_triples)
    _check_positive("multi_hot_max_len", multi_hot_max_len, 1)
    _check_positive("n_sequence", n_sequence)
    _check_positive("sequence_max_len", sequence_max_len, 1)
    if n_categorical + n_numeric + n_multi_hot == 0:
        raise InvalidParameterError("synthetic needs at least one field; all counts are 0.")
    if numeric_effect not in ("linear", "nonlinear"):
        raise InvalidParameterError(
            "The 'numeric_effect' parameter of synthetic must be 'linear' or 'nonlinear'. "
            f"Got {numeric_effect!r} instead."
        )
    if not 0.0 < positive_rate < 1.0:
        raise InvalidParameterError(
            f"The 'positive_rate' parameter of synthetic must be in (0, 1). Got {positive_rate!r}."
        )
    if not 0.0 <= noise_fraction < 1.0:
        raise InvalidParameterError(
            f"The 'noise_fraction' parameter of synthetic must be in [0, 1)."
            f" Got {noise_fraction!r} instead."
        )

    rng = np.random.default_rng(seed)
    cat_names = [f"c{i}" for i in range(n_categorical)]
    num_names = [f"n{i}" for i in range(n_numeric)]
    mh_names = [f"m{i}" for i in range(n_multi_hot)]
    sparse_names = cat_names + mh_names

    # Vocabulary sizes follow Zipf over the field rank (largest first, OOV included).
    vocab: dict[str, int] = {}
    for rank, fname in enumerate(sparse_names, start=1):
        vocab[fname] = max(int(min_vocab), int(round(max_vocab / rank)), 2)

    # Informativeness: noise fields (weight 0) chosen at random, others with decaying weights.
    all_names = cat_names + num_names + mh_names
    n_noise = int(np.floor(noise_fraction * len(all_names)))
    noise = set(rng.choice(all_names, size=n_noise, replace=False).tolist()) if n_noise else set()
    informative = [f for f in all_names if f not in noise]
    strengths = np.linspace(1.2, 0.3, num=max(len(informative), 1))
    order = rng.permutation(len(informative))
    field_weights = {f: 0.0 for f in all_names}
    for f, k in zip(informative, order, strict=True):
        field_weights[f] = round(float(strengths[k]), 4)

    # Planted interactions among informative categorical fields.
    inter_fields = [f for f in cat_names if f not in noise]
    candidates = list(itertools.combinations(inter_fields, 2))
    if n_pairs is None:
        n_pairs = max(1, len(inter_fields) // 2 + 1)
    _check_positive("n_pairs", n_pairs)
    n_pairs = min(n_pairs, len(candidates))
    pick = rng.choice(len(candidates), size=n_pairs, replace=False)
    pairs = sorted(candidates[int(i)] for i in pick)
    pair_weights = [
        round(float(w) * interaction_scale, 4) for w in rng.uniform(0.8, 1.5, size=len(pairs))
    ]
    tri_candidates = list(itertools.combinations(inter_fields, 3))
    n_triples = min(n_triples, len(tri_candidates))
    pick3 = rng.choice(len(tri_candidates), size=n_triples, replace=False)
    triples = sorted(tri_candidates[int(i)] for i in pick3)
    triple_weights = [
        round(float(w) * interaction_scale, 4) for w in rng.uniform(0.8, 1.5, size=len(triples))
    ]

    # Values and per-value tables.
    n = int(n_rows)
    logit = np.zeros(n)
    cat = np.zeros((n, n_categorical), dtype=np.int64)
    pair_lat: dict[str, np.ndarray] = {}
    tri_lat: dict[str, np.ndarray] = {}
    for j, fname in enumerate(cat_names):
        v = vocab[fname]
        cdf = _zipf_cdf(v - 1, zipf_exponent)
        probs = np.concatenate([[0.0], np.diff(cdf, prepend=0.0)])
        cat[:, j] = _draw(rng, cdf, n)
        main = _standardised(rng, probs, 1, 1.0)[:, 0]
        logit += field_weights[fname] * main[cat[:, j]]
        pair_lat[fname] = _standardised(rng, probs, _LATENT_DIM, _LATENT_DIM**-0.25)
        tri_lat[fname] = _standardised(rng, probs, _LATENT_DIM, _LATENT_DIM ** (-1.0 / 6.0))
    col = {f: j for j, f in enumerate(cat_names)}
    for (a, b), w in zip(pairs, pair_weights, strict=True):
        pa = pair_lat[a][cat[:, col[a]]]
        pb = pair_lat[b][cat[:, col[b]]]
        logit += w * np.einsum("ij,ij->i", pa, pb)
    for (a, b, c), w in zip(triples, triple_weights, strict=True):
        ta = tri_lat[a][cat[:, col[a]]]
        tb = tri_lat[b][cat[:, col[b]]]
        tc = tri_lat[c][cat[:, col[c]]]
        logit += w * np.einsum("ij,ij,ij->i", ta, tb, tc)

    num = rng.standard_normal((n, n_numeric)).astype(np.float32)
    for j, fname in enumerate(num_names):
        x = num[:, j].astype(np.float64)
        if numeric_effect == "nonlinear":
            x = np.sin(2.5 * x) + np.abs(x) / 2
            x = (x - x.mean()) / max(float(x.std()), 1e-12)
        logit += field_weights[fname] * x

    mh: list[np.ndarray] = []
    for fname in mh_names:
        v = vocab[fname]
        cdf = _zipf_cdf(v - 1, zipf_exponent)
        probs = np.concatenate([[0.0], np.diff(cdf, prepend=0.0)])
        values = _draw(rng, cdf, (n, multi_hot_max_len))
        lengths = rng.integers(1, multi_hot_max_len + 1, size=n)
        values[np.arange(multi_hot_max_len)[None, :] >= lengths[:, None]] = 0
        main = _standardised(rng, probs, 1, 1.0)[:, 0]
        logit += field_weights[fname] * main[values].sum(axis=1) / lengths
        mh.append(values)

    seq_names = [f"s{i}" for i in range(n_sequence)]
    seq: list[np.ndarray] = []
    seq_rng = np.random.default_rng([int(seed), 1])
    seq_vocab = max(int(min_vocab), int(max_vocab) // 2, 2)
    for _ in seq_names:
        cdf = _zipf_cdf(seq_vocab - 1, zipf_exponent)
        probs = np.concatenate([[0.0], np.diff(cdf, prepend=0.0)])
        values = _draw(seq_rng, cdf, (n, sequence_max_len))
        lengths = seq_rng.integers(0, sequence_max_len + 1, size=n)
        values[np.arange(sequence_max_len)[None, ::-1] >= lengths[:, None]] = 0  # left pad
        main = _standardised(seq_rng, probs, 1, 1.0)[:, 0]
        mean = main[values].sum(axis=1) / np.maximum(lengths, 1)
        logit += (main[values[:, -1]] + mean) / 2
        seq.append(values)

    bias = _bias_for_rate(logit, positive_rate)
    prob = 1.0 / (1.0 + np.exp(-(logit + bias)))
    label = (rng.random(n) < prob).astype(np.float32)

    fields: list[tuple[str, FieldKind, int]] = []
    fields += [(f, "categorical", vocab[f]) for f in cat_names]
    fields += [(f, "numeric", 1) for f in num_names]
    fields += [(f, "multi_hot", vocab[f]) for f in mh_names]
    fields += [(f, "sequence", seq_vocab) for f in seq_names]
    truth: dict[str, Any] = {
        "pairs": pairs,
        "pair_weights": pair_weights,
        "triples": triples,
        "triple_weights": triple_weights,
        "field_weights": field_weights,
        "bias": round(float(bias), 6),
    }
    indices = random_split(n, fractions=fractions, seed=seed)
    oracle = {
        name: _auc(label[idx], prob[idx])
        for name, idx in zip(("train", "valid", "test"), indices, strict=True)
    }
    return assemble(
        "synthetic",
        label_name="label",
        fields=fields,
        categorical=cat,
        numeric=num,
        multi_hot=mh,
        sequence=seq,
        label=label,
        indices=indices,
        info={
            "ground_truth": truth,
            "seed": int(seed),
            "numeric_effect": numeric_effect,
            "logit_std": float(logit.std()),
            "oracle_auc": oracle,
        },
    )


def _auc(label: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC by the rank-sum formula (nan when a class is absent)."""
    pos = label > 0.5
    n_pos = int(pos.sum())
    n_neg = label.shape[0] - n_pos
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    ranks = np.empty(score.shape[0], dtype=np.float64)
    ranks[np.argsort(score, kind="stable")] = np.arange(1, score.shape[0] + 1)
    return round(float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)), 6)


def _bias_for_rate(logit: np.ndarray, rate: float) -> float:
    """The bias ``b`` with ``mean(sigmoid(logit + b)) == rate`` (bisection)."""
    lo, hi = -30.0, 30.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if np.mean(1.0 / (1.0 + np.exp(-(logit + mid)))) < rate:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2
