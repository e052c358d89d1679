"""SMAC3's Bayesian optimization (random forest or Gaussian process) as an Optuna sampler."""

from __future__ import annotations

import copy
import types
import warnings
from typing import TYPE_CHECKING
from typing import Any
from typing import Literal

import numpy as np
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace
from ConfigSpace import Constant

from recsearch.errors import InvalidParameterError
from recsearch.strategies import _cs
from recsearch.strategies._base import ConfigSpaceSampler
from recsearch.strategies._base import History
from recsearch.strategies._base import scalar_losses

if TYPE_CHECKING:
    from optuna.study import Study
    from optuna.trial import FrozenTrial


def _import_smac() -> Any:
    try:
        import smac
    except ImportError as exc:  # pragma: no cover - smac is a core dependency
        raise ImportError(
            "The 'smac' strategy needs SMAC3: pip install 'smac>=2.2'."
        ) from exc
    return smac


class SMACSampler(ConfigSpaceSampler):
    """SMAC3's model-based search driven from the study's trials.

    Like SMAC3's hyperparameter-optimization facade: after an initial design of ``n_initial``
    configurations (a scrambled Sobol sequence, as the facade's, or uniform random), a
    surrogate (SMAC3's random forest, or its Gaussian process with ``model="gp"``) is fitted on
    every evaluated trial (losses log-scaled as SMAC3's log-scaled encoder does; failed trials get
    the worst loss seen) and expected improvement (for the forest: fitted with ``log_y`` and EI in
    the original scale, as in the facade) is maximised by SMAC3's local-and-sorted random search.
    The ranked challengers are proposed in turn until ``retrain_after`` new trials have finished,
    then the model is refitted; each proposal is random with probability ``random_probability``.
    Trials seen in the study (finished or running in another worker) are skipped.

    Args:
        space: The configuration space.
        seed: Seed of the sequence.
        model: ``"rf"`` (random forest) or ``"gp"`` (Gaussian process).
        n_initial: Configurations of the initial design, before the model is used.
        retrain_after: Finished trials between model refits.
        challengers: Random configurations scored by the acquisition maximiser.
        n_trees: Trees of the random forest.
        random_probability: Share of proposals drawn at random.
        initial_design: ``"sobol"`` (SMAC3's scrambled Sobol design) or ``"random"``.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"lr": (1e-4, 1e-1), "units": (8, 512)})
        >>> sampler = SMACSampler(space, seed=0, n_initial=5)
    """

    def __init__(
        self,
        space: ConfigurationSpace,
        *,
        seed: int | None = None,
        model: Literal["rf", "gp"] = "rf",
        n_initial: int = 10,
        retrain_after: int = 8,
        challengers: int = 10000,
        n_trees: int = 10,
        random_probability: float = 0.2,
        initial_design: Literal["sobol", "random"] = "sobol",
    ) -> None:
        super().__init__(space, seed=seed)
        if model not in ("rf", "gp"):
            raise InvalidParameterError(
                f"The 'model' parameter of SMACSampler must be a str among {{'rf', 'gp'}}. "
                f"Got {model!r} instead."
            )
        if n_initial < 1 or retrain_after < 1 or challengers < 1 or n_trees < 1:
            raise InvalidParameterError(
                "SMACSampler needs n_initial, retrain_after, challengers and n_trees >= 1. Got "
                f"{n_initial}, {retrain_after}, {challengers}, {n_trees}."
            )
        if not 0.0 <= random_probability <= 1.0:
            raise InvalidParameterError(
                f"The 'random_probability' parameter of SMACSampler must be in [0, 1]. Got "
                f"{random_probability!r} instead."
            )
        if initial_design not in ("sobol", "random"):
            raise InvalidParameterError(
                f"The 'initial_design' parameter of SMACSampler must be a str among "
                f"{{'sobol', 'random'}}. Got {initial_design!r} instead."
            )
        _import_smac()
        self._initial_design = initial_design
        self._design: list[np.ndarray] | None = None
        self._model_kind = model
        self._n_initial = n_initial
        self._retrain_after = retrain_after
        self._challengers = challengers
        self._n_trees = n_trees
        self._random_probability = random_probability
        # NOTE: SMAC3's local search samples from the space's own random state; a private copy,
        # reseeded at every refit, keeps the user's space untouched and the sequence seeded.
        self._smac_space = copy.deepcopy(space)
        self._fitted_on: int = -1
        self._queue: list[np.ndarray] = []

    def sample_configuration(self, study: Study, trial: FrozenTrial) -> np.ndarray:
        """The next unseen challenger of the latest model, or a random configuration."""
        history = self.history(study)
        rng = self.rng(trial)
        n = len(history.observations)
        if n < self._n_initial:
            return self._initial(rng, history.seen)
        if not history.evaluated or rng.rand() < self._random_probability:
            return self.random_unseen(rng, history.seen)
        stale = n - self._fitted_on >= self._retrain_after or n < self._fitted_on
        if self._fitted_on < 0 or stale:
            self._refit(history, self.trial_seed(trial))
        while self._queue:
            vector = self._queue.pop(0)
            if _cs.key_of(vector) not in history.seen:
                return vector
        # NOTE: another stream: a refit just made in this call with the same seed would rank the
        # same (all seen) challengers again.
        self._refit(history, self.trial_seed(trial, stream=1))
        while self._queue:
            vector = self._queue.pop(0)
            if _cs.key_of(vector) not in history.seen:
                return vector
        return self.random_unseen(rng, history.seen)

    def _initial(self, rng: np.random.RandomState, seen: frozenset[_cs.ConfigKey]) -> np.ndarray:
        """The first unseen point of the initial design (SMAC3's scrambled Sobol by default).

        The design is a function of the seed alone, so workers and restarts walk the same list
        and skip what the study already holds.
        """
        if self._initial_design == "random":
            return self.random_unseen(rng, seen)
        if self._design is None:
            self._design = _sobol_design(self._smac_space, self._n_initial, self._base_seed)
        for vector in self._design:
            if _cs.key_of(vector) not in seen:
                return vector
        return self.random_unseen(rng, seen)

    def _refit(self, history: History, seed: int) -> None:
        from smac.acquisition.function import EI
        from smac.acquisition.maximizer import LocalAndSortedRandomSearch

        observations = history.observations
        evaluated = [o for o in observations if not o.failed]
        losses = scalar_losses(evaluated)
        worst = float(losses.max())
        y_of = {o.number: float(v) for o, v in zip(evaluated, losses, strict=True)}
        x = np.asarray([o.vector for o in observations], dtype=np.float64)
        y = np.asarray([y_of.get(o.number, worst) for o in observations], dtype=np.float64)
        y = _log_scaled(y)
        model = self._make_model(seed)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            model.train(x, y[:, None])
        # NOTE: the forest is fitted on log losses with ``log_y`` (leaves average exp(y)), so EI
        # is taken in the original scale (``log=True``), as SMAC3's facade pairs them.
        acquisition = EI(log=self._model_kind == "rf")
        acquisition.update(model=model, eta=float(y.min()), num_data=len(y))
        self._smac_space.seed(seed)
        maximizer = LocalAndSortedRandomSearch(
            self._smac_space,
            acquisition_function=acquisition,
            challengers=self._challengers,
            seed=seed,
        )
        _order_start_points(maximizer)
        previous = [Configuration(self._smac_space, vector=v) for v in x]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            ranked = maximizer._maximize(previous, n_points=self._challengers)
        self._queue = [config.get_array() for _, config in ranked[: 4 * self._retrain_after]]
        self._fitted_on = len(observations)

    def _make_model(self, seed: int) -> Any:
        if self._model_kind == "rf":
            from smac.model.random_forest import RandomForest

            return RandomForest(
                self._smac_space,
                n_trees=self._n_trees,
                log_y=True,
                # NOTE: the facade's settings; leaves of 3 and more left a few dozen trials with
                # a handful of flat plateaus, so EI ties broke at random on most hyperparameters.
                ratio_features=1.0,
                min_samples_split=2,
                min_samples_leaf=1,
                seed=seed,
                # NOTE: one thread: a joblib pool per fit and per prediction costs more than the
                # ten small trees it would parallelise.
                n_jobs=1,
                # NOTE: SMAC3's default cap of 2**20 leaves never binds on a few hundred trials,
                # but makes scikit-learn's best-first builder allocate for it on every tree.
                max_leaf_nodes=None,
            )
        from smac.facade.blackbox_facade import BlackBoxFacade

        scenario = types.SimpleNamespace(configspace=self._smac_space, seed=seed)
        return BlackBoxFacade.get_model(scenario)  # type: ignore[arg-type]


def _sobol_design(space: ConfigurationSpace, n: int, seed: int) -> list[np.ndarray]:
    """``n`` configurations of a scrambled Sobol sequence, as SMAC3's ``SobolInitialDesign``.

    Points violating a forbidden clause are dropped (SMAC3 drops them too).
    """
    from scipy.stats.qmc import Sobol
    from smac.utils.configspace import transform_continuous_designs

    dim = sum(1 for hp in space.values() if not isinstance(hp, Constant))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # NOTE: scipy warns when n is not a power of two
        points = Sobol(d=dim, scramble=True, seed=seed).random(n)
    configs = transform_continuous_designs(design=points, origin="sobol", configspace=space)
    return [np.asarray(c.get_array(), dtype=np.float64) for c in configs]


def _order_start_points(maximizer: Any) -> None:
    """Make the local search's start points come in an order that does not depend on hashing.

    SMAC3's ``LocalSearch`` deduplicates its start points through a ``set`` of configurations,
    whose order follows string hashing: it changes with ``PYTHONHASHSEED``, so each process
    walked the start points in another order, drew other neighbours and proposed another
    sequence from the same seed and trials (measured: three runs of 30 proposals, three
    sequences; ``PYTHONHASHSEED=0`` made them equal). Sorting the deduplicated points by their
    vector keeps every point and makes the order a function of the points alone.
    """
    local_search = maximizer._local_search
    original = local_search._get_initial_points

    def ordered(*args: Any, **kwargs: Any) -> list[Configuration]:
        points = original(*args, **kwargs)
        return sorted(points, key=lambda c: _cs.key_of(c.get_array()))

    local_search._get_initial_points = ordered


def _log_scaled(y: np.ndarray, *, percentile: float = 5.0) -> np.ndarray:
    """Scale losses to (0, 1] and take the log, the best loss not pushed far below the rest.

    The floor sits below the best loss by the gap between the best and the ``percentile``-th
    loss (SMAC3's log-scaled encoding), so the best trial stays comparable to its close
    neighbours; a fixed tiny floor would make it an outlier that dominates the forest's leaves
    and leaves expected improvement driven by variance alone.
    """
    low, high = float(y.min()), float(y.max())
    if high <= low:
        return np.zeros_like(y)
    gap = float(np.percentile(y, percentile)) - low
    floor = low - max(gap, 1e-3 * (high - low))
    return np.log((y - floor) / (high - floor))
