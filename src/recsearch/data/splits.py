"""Row splits: seeded random and temporal, as index arrays."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from recsearch.errors import InvalidParameterError

DEFAULT_FRACTIONS: tuple[float, float, float] = (0.8, 0.1, 0.1)


def _check_fractions(fractions: Sequence[float]) -> tuple[float, float, float]:
    if len(fractions) != 3 or any(f < 0 for f in fractions):
        raise InvalidParameterError(
            f"The 'fractions' parameter must be three non-negative numbers (train, valid, test)."
            f" Got {tuple(fractions)!r} instead."
        )
    total = float(sum(fractions))
    if not np.isclose(total, 1.0) or fractions[0] <= 0:
        raise InvalidParameterError(
            f"The 'fractions' parameter must sum to 1 with a positive train share."
            f" Got {tuple(fractions)!r} instead."
        )
    return (float(fractions[0]), float(fractions[1]), float(fractions[2]))


def _cut(order: np.ndarray, fractions: tuple[float, float, float]) -> tuple[np.ndarray, ...]:
    n = order.shape[0]
    n_train = int(round(fractions[0] * n))
    n_valid = int(round(fractions[1] * n))
    n_valid = min(n_valid, n - n_train)
    return (
        order[:n_train],
        order[n_train : n_train + n_valid],
        order[n_train + n_valid :],
    )


def random_split(
    n: int,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Seeded random train/valid/test row indices (each sorted, so row order is kept).

    Example:
        >>> train, valid, test = random_split(10, seed=0)
        >>> len(train), len(valid), len(test)
        (8, 1, 1)
    """
    fr = _check_fractions(fractions)
    order = np.random.default_rng(seed).permutation(n)
    train, valid, test = _cut(order, fr)
    return np.sort(train), np.sort(valid), np.sort(test)


def temporal_split(
    timestamps: np.ndarray,
    *,
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Train on the earliest rows, validate on the next, test on the latest.

    Indices come in time order; ties keep file order (stable sort), so the split is
    deterministic.

    Example:
        >>> ts = np.array([5, 1, 3, 2, 4])
        >>> train, valid, test = temporal_split(ts, fractions=(0.6, 0.2, 0.2))
        >>> train.tolist(), valid.tolist(), test.tolist()
        ([1, 3, 2], [4], [0])
    """
    fr = _check_fractions(fractions)
    order = np.argsort(np.asarray(timestamps), kind="stable")
    train, valid, test = _cut(order, fr)
    return train, valid, test
