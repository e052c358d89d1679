"""AutoCTR's search (Song et al., KDD 2020) as an Optuna sampler over any ConfigSpace.

Rank-based parent selection from an age- and complexity-aware population, K one-token mutations of
the parent, and a learning-to-rank surrogate that picks which child to evaluate.
"""

from __future__ import annotations

from math import comb
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

import numpy as np
from ConfigSpace import ConfigurationSpace

from recsearch._internals import storage_of
from recsearch._internals import trial_id_of
from recsearch.errors import InvalidParameterError
from recsearch.hooks import COST_PREFIX
from recsearch.hooks import USER_ATTR_FIDELITY
from recsearch.strategies import _cs
from recsearch.strategies._base import ConfigSpaceSampler
from recsearch.strategies._base import Observation
from recsearch.strategies._base import scalar_losses

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


def _ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 0 (smallest) with ties sharing their mean rank."""
    order = np.argsort(values, kind="stable")
    ranks = np.empty(len(values), dtype=np.float64)
    ranks[order] = np.arange(len(values), dtype=np.float64)
    for v in np.unique(values):
        mask = values == v
        if mask.sum() > 1:
            ranks[mask] = ranks[mask].mean()
    return ranks


class _PairwiseRanker:
    """scikit-learn fallback: gradient boosting on pairwise differences (x_a - x_b -> a better)."""

    def __init__(self, seed: int) -> None:
        self._seed = seed
        self._model: Any = None
        self._references = np.empty((0, 0))

    def fit(self, x: np.ndarray, relevance: np.ndarray) -> _PairwiseRanker:
        from sklearn.ensemble import GradientBoostingClassifier

        rng = np.random.RandomState(self._seed)
        n = len(x)
        a = rng.randint(n, size=min(20 * n, 4000))
        b = rng.randint(n, size=len(a))
        keep = relevance[a] != relevance[b]
        a, b = a[keep], b[keep]
        if len(a) < 2 or len(np.unique(relevance[a] > relevance[b])) < 2:
            self._model = None
            return self
        self._model = GradientBoostingClassifier(
            n_estimators=50, max_depth=3, random_state=self._seed
        ).fit(x[a] - x[b], relevance[a] > relevance[b])
        self._references = x[rng.choice(n, size=min(n, 16), replace=False)]
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if self._model is None:
            return np.zeros(len(x))
        # NOTE: a candidate's score is its mean win probability against evaluated references.
        refs = self._references
        diffs = x[:, None, :] - refs[None, :, :]
        proba = self._model.predict_proba(diffs.reshape(-1, x.shape[1]))[:, 1]
        return proba.reshape(len(x), len(refs)).mean(axis=1)


class AutoCTRSampler(ConfigSpaceSampler):
    """AutoCTR's evolutionary search with a learning-to-rank surrogate.

    The first ``population_size`` trials are random (at ``low_fidelity`` when that is set). Then,
    for each trial: the population is the ``population_size`` best of the ``2 *
    population_size`` youngest evaluated trials by a weighted sum of performance rank, complexity
    rank (the objective's ``cost.<complexity>`` user attribute) and age rank; a parent of rank
    ``r`` (1 = best) is drawn with probability proportional to ``C(P - r + c, c)``;
    ``n_candidates``
    unseen children each change one active hyperparameter of the parent; a gradient-boosted
    ranking model (LightGBM lambdarank, or scikit-learn boosting on pairwise differences), refitted
    on every evaluated trial whenever the history changed, picks the child to evaluate. Failed
    trials only ever rank last; pruned ones count with their last reported value. With several
    objectives the performance rank is the Pareto layer.

    Args:
        space: The configuration space (natural on the ``autoctr`` preset; works on any).
        seed: Seed of the sequence.
        population_size: P.
        n_candidates: K, children scored by the surrogate per trial.
        c: Selection pressure constant of the rank-based parent choice.
        performance_weight: Weight of the performance rank in survival.
        complexity_weight: Weight of the complexity rank in survival.
        age_weight: Weight of the age rank in survival.
        complexity: Which cost measure gives complexity.
        surrogate: ``"lightgbm"``, ``"sklearn"`` or ``"auto"`` (LightGBM when installed).
        low_fidelity: Training fraction for the first ``low_fidelity_trials`` trials (sets the
            ``fidelity`` user attribute the objective reads); None trains them fully.
        low_fidelity_trials: How many early trials run at low fidelity; None means P.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"block.type": ["mlp", "fm", "dot"], "units": (8, 512)})
        >>> sampler = AutoCTRSampler(space, seed=0, population_size=10, n_candidates=20)
    """

    def __init__(
        self,
        space: ConfigurationSpace,
        *,
        seed: int | None = None,
        population_size: int = 20,
        n_candidates: int = 100,
        c: int = 10,
        performance_weight: float = 1.0,
        complexity_weight: float = 0.2,
        age_weight: float = 0.2,
        complexity: Literal["params", "flops"] = "params",
        surrogate: Literal["auto", "lightgbm", "sklearn"] = "auto",
        low_fidelity: float | None = None,
        low_fidelity_trials: int | None = None,
    ) -> None:
        super().__init__(space, seed=seed)
        if population_size < 2 or n_candidates < 1 or c < 0:
            raise InvalidParameterError(
                "AutoCTRSampler needs population_size >= 2, n_candidates >= 1 and c >= 0. Got "
                f"{population_size}, {n_candidates}, {c}."
            )
        if complexity not in ("params", "flops"):
            raise InvalidParameterError(
                "The 'complexity' parameter of AutoCTRSampler must be a str among "
                f"{{'params', 'flops'}}. Got {complexity!r} instead."
            )
        if surrogate not in ("auto", "lightgbm", "sklearn"):
            raise InvalidParameterError(
                "The 'surrogate' parameter of AutoCTRSampler must be a str among "
                f"{{'auto', 'lightgbm', 'sklearn'}}. Got {surrogate!r} instead."
            )
        if low_fidelity is not None and not 0.0 < low_fidelity <= 1.0:
            raise InvalidParameterError(
                "The 'low_fidelity' parameter of AutoCTRSampler must be in (0, 1] or None. Got "
                f"{low_fidelity!r} instead."
            )
        self._population_size = population_size
        self._n_candidates = n_candidates
        self._c = c
        self._weights = (performance_weight, complexity_weight, age_weight)
        self._complexity_attr = COST_PREFIX + complexity
        self._surrogate = surrogate
        self._low_fidelity = low_fidelity
        self._low_fidelity_trials = (
            population_size if low_fidelity_trials is None else low_fidelity_trials
        )
        self._model_key: tuple[int, ...] | None = None
        self._model: Any = None

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Sample the configuration; mark early trials low-fidelity when configured."""
        if self._low_fidelity is not None and trial.number < self._low_fidelity_trials:
            storage_of(study).set_trial_user_attr(
                trial_id_of(trial), USER_ATTR_FIDELITY, float(self._low_fidelity)
            )
        super().before_trial(study, trial)

    def population(self, evaluated: tuple[Observation, ...]) -> list[Observation]:
        """The current population, best survival score first."""
        youngest = sorted(evaluated, key=lambda o: o.number)[-2 * self._population_size :]
        perf = _ranks(scalar_losses(youngest))
        cost = np.asarray(
            [float(o.user_attrs.get(self._complexity_attr, 0.0) or 0.0) for o in youngest]
        )
        age = _ranks(-np.asarray([o.number for o in youngest], dtype=np.float64))
        wp, wc, wa = self._weights
        score = wp * perf + wc * _ranks(cost) + wa * age
        order = np.argsort(score, kind="stable")[: self._population_size]
        return [youngest[i] for i in order]

    def parent_probabilities(self, size: int) -> np.ndarray:
        """p(r) proportional to C(P - r + c, c) for ranks r = 1..P."""
        weights = np.asarray(
            [comb(size - r + self._c, self._c) for r in range(1, size + 1)], dtype=np.float64
        )
        return weights / weights.sum()

    def sample_configuration(self, study: Study, trial: FrozenTrial) -> np.ndarray:
        """Mutate a rank-selected parent K times and evaluate the surrogate's favourite."""
        history = self.history(study)
        rng = self.rng(trial)
        evaluated = history.evaluated
        if len(evaluated) < self._population_size:
            return self.random_unseen(rng, history.seen)
        population = self.population(evaluated)
        p = self.parent_probabilities(len(population))
        parent = population[rng.choice(len(population), p=p)]
        children: dict[_cs.ConfigKey, np.ndarray] = {}
        for _ in range(5):
            batch = _cs.mutate_batch(
                self.space, np.repeat(parent.vector[None, :], self._n_candidates, axis=0), rng
            )
            for child in batch:
                key = _cs.key_of(child)
                if key not in history.seen:
                    children.setdefault(key, child)
            if len(children) >= self._n_candidates:
                break
        if not children:
            return self.random_unseen(rng, history.seen)
        candidates = np.asarray(list(children.values()))
        scores = self._score(history.observations, candidates, self.trial_seed(trial))
        return candidates[int(np.argmax(scores))]

    def _score(
        self, observations: tuple[Observation, ...], candidates: np.ndarray, seed: int
    ) -> np.ndarray:
        key = tuple(o.number for o in observations)
        if key != self._model_key:
            self._model = self._fit(observations, seed)
            self._model_key = key
        return np.asarray(self._model.predict(_cs.encode_numeric(candidates)), dtype=np.float64)

    def _fit(self, observations: tuple[Observation, ...], seed: int) -> Any:
        good = [o for o in observations if not o.failed]
        failed = [o for o in observations if o.failed]
        ranks = _ranks(scalar_losses(good))
        # NOTE: relevance 1..10 by performance decile (higher is better); failed trials get 0.
        relevance = np.concatenate(
            [10 - np.floor(10 * ranks / max(len(good), 1)), np.zeros(len(failed))]
        ).astype(np.int64)
        x = _cs.encode_numeric(np.asarray([o.vector for o in good + failed]))
        kind = self._surrogate
        if kind == "auto":
            try:
                import lightgbm  # noqa: F401

                kind = "lightgbm"
            except ImportError:
                kind = "sklearn"
        if kind == "sklearn":
            return _PairwiseRanker(seed).fit(x, relevance)
        try:
            import lightgbm
        except ImportError as exc:
            raise ImportError(
                "AutoCTRSampler(surrogate='lightgbm') needs LightGBM: pip install "
                "'recsearch[lightgbm]', or use surrogate='sklearn'."
            ) from exc
        ranker = lightgbm.LGBMRanker(
            objective="lambdarank",
            n_estimators=50,
            num_leaves=7,
            learning_rate=0.1,
            min_child_samples=2,
            random_state=seed,
            n_jobs=1,
            deterministic=True,
            force_col_wise=True,
            verbose=-1,
            label_gain=list(range(11)),
            lambdarank_truncation_level=len(x),
        )
        return ranker.fit(x, relevance, group=[len(x)])
