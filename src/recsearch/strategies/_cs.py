"""ConfigSpace helpers shared by the strategies: seeded sampling, mutation, crossover, encoding.

Everything works on ConfigSpace's vector representation (one float per hyperparameter, NaN where
inactive) with a caller-owned ``numpy.random.RandomState``, so a strategy's sequence depends on its
own seed only, never on the space's internal random state.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from ConfigSpace import CategoricalHyperparameter
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Constant
from ConfigSpace import OrdinalHyperparameter
from ConfigSpace.configuration import ROUND_PLACES
from ConfigSpace.hyperparameters import FloatHyperparameter
from ConfigSpace.util import check_configuration

from recsearch.spaces.bridge import _py as plain  # NOTE: the one numpy-to-Python scalar rule

ConfigKey = tuple[float, ...]
"""A hashable identity of a configuration: its vector rounded, NaN mapped to -1."""

_ROUND = 6  # NOTE: values round-trip through ConfigSpace with ~1e-10 noise


def key_of(vector: np.ndarray) -> ConfigKey:
    """Return the identity of a configuration vector (used to avoid duplicate proposals)."""
    filled = np.where(np.isfinite(vector), np.round(vector, _ROUND), -1.0)
    return tuple(filled.tolist())


def values_of(space: ConfigurationSpace, vector: np.ndarray) -> dict[str, Any]:
    """The active values of a configuration vector as a JSON-safe dict (fast path by type)."""
    out: dict[str, Any] = {}
    for (name, hp), v in zip(space.items(), vector.tolist(), strict=True):
        if v != v:  # NaN: inactive
            continue
        if isinstance(hp, CategoricalHyperparameter):
            out[name] = plain(hp.choices[int(round(v))])
        elif isinstance(hp, OrdinalHyperparameter):
            out[name] = plain(hp.sequence[int(round(v))])
        elif isinstance(hp, Constant):
            out[name] = plain(hp.value)
        elif isinstance(hp, FloatHyperparameter):
            # NOTE: rounded as ConfigSpace rounds values, so stored and rebuilt configs agree.
            out[name] = float(np.round(hp.to_value(v), ROUND_PLACES))
        else:
            out[name] = plain(hp.to_value(v))
    return out


def _apply_conditions(space: ConfigurationSpace, matrix: np.ndarray) -> np.ndarray:
    """NaN out the inactive entries of ``matrix`` (hyperparameters x samples) in place."""
    for cnode in space._dag.minimum_conditions:
        satisfied = cnode.condition.satisfied_by_vector_array(matrix)
        matrix[np.ix_(cnode.children_indices, ~satisfied)] = np.nan
    return matrix


def _forbidden_mask(space: ConfigurationSpace, matrix: np.ndarray) -> np.ndarray:
    mask = np.zeros(matrix.shape[1], dtype=bool)
    for clause in space._dag.unconditional_forbiddens:
        mask |= clause.is_forbidden_vector_array(matrix)
    for clause in space._dag.conditional_forbiddens:
        mask |= clause.is_forbidden_vector_array(matrix)
    return mask


def _full_random(space: ConfigurationSpace, n: int, rng: np.random.RandomState) -> np.ndarray:
    matrix = np.empty((len(space), n), dtype=np.float64)
    for i, hp in enumerate(space.values()):
        matrix[i] = hp._vector_dist.sample_vector(n=n, seed=rng)
    return matrix


def random_vectors(
    space: ConfigurationSpace, n: int, rng: np.random.RandomState, *, max_rounds: int = 100
) -> np.ndarray:
    """Sample ``n`` valid configuration vectors uniformly (conditions and forbiddens respected).

    Returns:
        An array of shape ``(n, len(space))`` with NaN for inactive hyperparameters.
    """
    if len(space) == 0:
        return np.empty((n, 0))
    accepted: list[np.ndarray] = []
    count = 0
    for _ in range(max_rounds):
        batch = max(2 * (n - count), 4)
        matrix = _apply_conditions(space, _full_random(space, batch, rng))
        matrix = matrix[:, ~_forbidden_mask(space, matrix)]
        accepted.append(matrix.T)
        count += matrix.shape[1]
        if count >= n:
            break
    result = np.concatenate(accepted, axis=0)[:n]
    if len(result) < n:
        from recsearch.errors import SpaceError

        raise SpaceError(
            f"could not sample {n} valid configurations in {max_rounds} rounds: the forbidden "
            "clauses of the space exclude almost everything"
        )
    return result


def is_valid(space: ConfigurationSpace, vector: np.ndarray) -> bool:
    """Whether ``vector`` is a valid (active-consistent, legal, not forbidden) configuration."""
    try:
        check_configuration(space, vector)
    except (ValueError, TypeError):
        return False
    return True


def _kind(hp: Any) -> str:
    if isinstance(hp, CategoricalHyperparameter):
        return "categorical"
    if isinstance(hp, OrdinalHyperparameter):
        return "ordinal"
    if isinstance(hp, Constant):
        return "constant"
    return "numeric"


def _new_values(hp: Any, current: np.ndarray, rng: np.random.RandomState) -> np.ndarray:
    """Different vector values for ``hp`` (one per entry of ``current``).

    Categorical: another choice uniformly. Ordinal: the next or previous step. Numeric: half
    the time a fresh uniform sample, else a Gaussian step (sd 0.2) in the normalised range.
    """
    kind = _kind(hp)
    n = len(current)
    if kind == "categorical":
        k = len(hp.choices)
        shift = rng.randint(1, k, size=n) if k > 1 else np.zeros(n, dtype=np.int64)
        return (np.round(current).astype(np.int64) + shift) % max(k, 1) * 1.0
    if kind == "ordinal":
        k = len(hp.sequence)
        step = np.where(rng.rand(n) < 0.5, -1, 1)
        new = np.round(current) + step
        new = np.where((new < 0) | (new > k - 1), np.round(current) - step, new)
        return np.clip(new, 0, k - 1).astype(np.float64)
    if kind == "constant":
        return current.copy()
    fresh = hp._vector_dist.sample_vector(n=n, seed=rng)
    local = np.clip(current + 0.2 * rng.randn(n), 0.0, 1.0)
    proposal = np.where(rng.rand(n) < 0.5, fresh, local)
    out = np.asarray(hp.to_vector(hp.to_value(proposal)), dtype=np.float64)
    # NOTE: integers can round back to the current value; take a ConfigSpace neighbour then.
    for i in np.flatnonzero(np.abs(out - current) < 1e-12):
        out[i] = float(hp.neighbors_vectorized(current[i], n=1, seed=rng)[0])
    return out


def _finish(space: ConfigurationSpace, full: np.ndarray, parents: np.ndarray) -> np.ndarray:
    """Apply conditions to children (rows), drop forbidden ones and copies of their parent."""
    matrix = _apply_conditions(space, full.T.copy())
    keep = ~_forbidden_mask(space, matrix)
    children = matrix.T
    same = np.all(
        np.where(np.isfinite(children), children, -1.0) == np.where(
            np.isfinite(parents), parents, -1.0
        ),
        axis=1,
    )
    return children[keep & ~same]


def mutate_batch(
    space: ConfigurationSpace, parents: np.ndarray, rng: np.random.RandomState
) -> np.ndarray:
    """One child per parent row, each changing one active hyperparameter.

    Children that the change activates are sampled at random; those it deactivates are dropped.
    Children that are forbidden or equal to their parent are left out, so fewer rows may return.
    """
    parents = np.atleast_2d(np.asarray(parents, dtype=np.float64))
    n, d = parents.shape
    if n == 0 or d == 0:
        return np.empty((0, d))
    hps = list(space.values())
    sizes = np.asarray([1.0 if isinstance(hp, Constant) else float(hp.size) for hp in hps])
    mutable = np.isfinite(parents) & (sizes[None, :] > 1)
    counts = mutable.sum(axis=1)
    ok = counts > 0
    parents = parents[ok]
    mutable = mutable[ok]
    if len(parents) == 0:
        return np.empty((0, d))
    # NOTE: pick the k-th mutable column of each row, k uniform.
    pick = np.floor(rng.rand(len(parents)) * mutable.sum(axis=1)).astype(np.int64)
    cum = np.cumsum(mutable, axis=1) - 1
    chosen = np.argmax((cum == pick[:, None]) & mutable, axis=1)
    full = np.where(np.isfinite(parents), parents, _full_random(space, len(parents), rng).T)
    for j in np.unique(chosen):
        rows = np.flatnonzero(chosen == j)
        full[rows, j] = _new_values(hps[j], parents[rows, j], rng)
    return _finish(space, full, parents)


def mutate(
    space: ConfigurationSpace,
    vector: np.ndarray,
    rng: np.random.RandomState,
    *,
    max_tries: int = 20,
) -> np.ndarray | None:
    """Change one active hyperparameter of ``vector``; None if no valid change was found."""
    for _ in range(max_tries):
        children = mutate_batch(space, vector[None, :], rng)
        if len(children):
            return children[0]
    return None


def crossover_batch(
    space: ConfigurationSpace, a: np.ndarray, b: np.ndarray, rng: np.random.RandomState
) -> np.ndarray:
    """Uniform crossover of row pairs (inactive genes filled at random); invalid ones left out."""
    a = np.atleast_2d(a)
    b = np.atleast_2d(b)
    filler = _full_random(space, len(a), rng).T
    fa = np.where(np.isfinite(a), a, filler)
    fb = np.where(np.isfinite(b), b, filler)
    full = np.where(rng.rand(*a.shape) < 0.5, fa, fb)
    return _finish(space, full, a)


def vector_from_params(space: ConfigurationSpace, params: Mapping[str, Any]) -> np.ndarray | None:
    """The vector of the configuration behind a trial's params; None if they form no valid one.

    Params outside the space, or inactive given the others, are ignored.
    """
    vector = np.full(len(space), np.nan)
    for i, (name, hp) in enumerate(space.items()):
        if name not in params:
            continue
        value = plain(params[name])
        try:
            if isinstance(hp, (CategoricalHyperparameter, OrdinalHyperparameter)):
                choices = hp.choices if isinstance(hp, CategoricalHyperparameter) else hp.sequence
                index = next(
                    (
                        k
                        for k, c in enumerate(choices)
                        if plain(c) == value and type(plain(c)) is type(value)
                    ),
                    None,
                )
                if index is None:
                    index = next((k for k, c in enumerate(choices) if plain(c) == value), None)
                if index is None:
                    return None
                vector[i] = float(index)
            elif isinstance(hp, Constant):
                if plain(hp.value) != value:
                    return None
                vector[i] = 0.0
            else:
                if not hp.legal_value(value):
                    return None
                vector[i] = float(hp.to_vector(value))
        except (TypeError, ValueError):
            return None
    vector = _apply_conditions(space, vector[:, None])[:, 0]
    return vector if is_valid(space, vector) else None


def cardinalities(space: ConfigurationSpace, *, bins: int) -> np.ndarray:
    """Number of categories per hyperparameter in :func:`encode_categorical` (with 'inactive')."""
    out = []
    for hp in space.values():
        if isinstance(hp, CategoricalHyperparameter):
            out.append(len(hp.choices) + 1)
        elif isinstance(hp, OrdinalHyperparameter):
            out.append(len(hp.sequence) + 1)
        elif isinstance(hp, Constant):
            out.append(2)
        else:
            out.append(bins + 1)
    return np.asarray(out, dtype=np.int64)


def encode_categorical(space: ConfigurationSpace, vectors: np.ndarray, *, bins: int) -> np.ndarray:
    """Encode configuration vectors as small non-negative integers (numerics binned).

    Category 0 means inactive; a categorical choice ``k`` is ``k + 1``; a numeric value falls in
    one of ``bins`` equal-width bins of its (log-)normalised range, ``1..bins``.
    """
    vectors = np.atleast_2d(vectors)
    out = np.zeros(vectors.shape, dtype=np.int64)
    for j, hp in enumerate(space.values()):
        col = vectors[:, j]
        active = np.isfinite(col)
        if isinstance(hp, (CategoricalHyperparameter, OrdinalHyperparameter)):
            out[active, j] = np.round(col[active]).astype(np.int64) + 1
        elif isinstance(hp, Constant):
            out[active, j] = 1
        else:
            binned = np.clip(np.floor(col[active] * bins), 0, bins - 1).astype(np.int64)
            out[active, j] = binned + 1
    return out


def distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamming distances ``(len(a), len(b))`` between configuration vectors.

    The number of hyperparameters whose value (or activity) differs, values compared as
    :func:`key_of` does.
    """
    fa = np.where(np.isfinite(a), np.round(a, _ROUND), -1.0)
    fb = np.where(np.isfinite(b), np.round(b, _ROUND), -1.0)
    return (fa[:, None, :] != fb[None, :, :]).sum(axis=2)


def encode_numeric(vectors: np.ndarray) -> np.ndarray:
    """Encode configuration vectors for tree models: inactive entries become -1."""
    vectors = np.atleast_2d(vectors)
    return np.where(np.isfinite(vectors), vectors, -1.0)
