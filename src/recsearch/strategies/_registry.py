"""One registry of search strategies, created by name."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any

import optuna
from ConfigSpace import ConfigurationSpace
from optuna.pruners import BasePruner
from optuna.pruners import HyperbandPruner
from optuna.pruners import NopPruner
from optuna.samplers import BaseSampler

from recsearch.errors import InvalidParameterError
from recsearch.strategies._autoctr import AutoCTRSampler
from recsearch.strategies._evolution import RegularizedEvolutionSampler
from recsearch.strategies._nbtree import NBTreeSampler
from recsearch.strategies._random import RandomConfigSampler
from recsearch.strategies._rl import ReinforceSampler
from recsearch.strategies._smac import SMACSampler


@dataclass(frozen=True)
class Strategy:
    """A search strategy: an Optuna sampler and pruner plus what to log about them.

    Attributes:
        name: Registry name.
        sampler: The Optuna sampler.
        pruner: The Optuna pruner (``NopPruner`` when the strategy does not prune).
        description: One line about the method.
        meta: Name, seed and options, for logging and for re-creating the strategy.
        space: The configuration space the strategy was created for.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"lr": (1e-4, 1e-1)})
        >>> strategy = create("evolution", space, seed=0)
        >>> study = strategy.create_study(direction="maximize")
    """

    name: str
    sampler: BaseSampler
    pruner: BasePruner
    description: str
    meta: dict[str, Any] = field(default_factory=dict)
    space: ConfigurationSpace | None = None

    def create_study(
        self,
        *,
        storage: str | optuna.storages.BaseStorage | None = None,
        study_name: str | None = None,
        direction: str | None = None,
        directions: list[str] | None = None,
        load_if_exists: bool = False,
    ) -> optuna.Study:
        """``optuna.create_study`` with this strategy's sampler and pruner."""
        return optuna.create_study(
            storage=storage,
            sampler=self.sampler,
            pruner=self.pruner,
            study_name=study_name,
            direction=direction,
            directions=directions,
            load_if_exists=load_if_exists,
        )


_PRUNER_OPTIONS = ("min_resource", "max_resource", "reduction_factor", "bootstrap_count")


@dataclass(frozen=True)
class _Entry:
    description: str
    sampler: Callable[..., BaseSampler]
    hyperband: bool = False


def _quiet(factory: Callable[..., BaseSampler]) -> Callable[..., BaseSampler]:
    def build(*args: Any, **kwargs: Any) -> BaseSampler:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return factory(*args, **kwargs)

    build.__wrapped__ = factory  # type: ignore[attr-defined]
    return build


def _tpe(space: ConfigurationSpace, *, seed: int | None = None, **options: Any) -> BaseSampler:
    settings: dict[str, Any] = {
        "multivariate": True,
        "group": True,
        "constant_liar": True,
    }
    settings.update(options)
    return optuna.samplers.TPESampler(seed=seed, **settings)


def _gp(space: ConfigurationSpace, *, seed: int | None = None, **options: Any) -> BaseSampler:
    settings: dict[str, Any] = {"warn_independent_sampling": False}
    settings.update(options)
    return optuna.samplers.GPSampler(seed=seed, **settings)


def _qmc(space: ConfigurationSpace, *, seed: int | None = None, **options: Any) -> BaseSampler:
    settings: dict[str, Any] = {
        "scramble": True,
        "warn_independent_sampling": False,
        "warn_asynchronous_seeding": False,
    }
    settings.update(options)
    return optuna.samplers.QMCSampler(seed=seed, **settings)


def _nsga2(space: ConfigurationSpace, *, seed: int | None = None, **options: Any) -> BaseSampler:
    settings: dict[str, Any] = {"population_size": 20}
    settings.update(options)
    return optuna.samplers.NSGAIISampler(seed=seed, **settings)


def _smac_gp(space: ConfigurationSpace, *, seed: int | None = None, **options: Any) -> BaseSampler:
    return SMACSampler(space, seed=seed, model="gp", **options)


_OPTUNA_OPTIONS: dict[Callable[..., BaseSampler], Callable[..., Any]] = {
    _tpe: optuna.samplers.TPESampler,
    _gp: optuna.samplers.GPSampler,
    _qmc: optuna.samplers.QMCSampler,
    _nsga2: optuna.samplers.NSGAIISampler,
    _smac_gp: SMACSampler,
}

_REGISTRY: dict[str, _Entry] = {
    "random": _Entry(
        "Uniform random search over the ConfigSpace (conditions and forbidden clauses respected).",
        RandomConfigSampler,
    ),
    "tpe": _Entry(
        "Optuna's TPE, multivariate and grouped (conditional parameters), constant liar for "
        "parallel workers.",
        _tpe,
    ),
    "gp": _Entry(
        "Optuna's GPSampler. Models only the unconditional part of a space (conditional "
        "parameters are sampled independently) and took about 13 s per trial on a 2-core "
        "machine on a 37-parameter space.",
        _gp,
    ),
    "qmc": _Entry("Optuna's scrambled Sobol quasi-Monte Carlo sampler.", _qmc),
    "nsga2": _Entry(
        "Optuna's NSGA-II genetic algorithm (single- and multi-objective).",
        _nsga2,
    ),
    "smac": _Entry(
        "SMAC3 random-forest Bayesian optimization (expected improvement, local and random "
        "search) over the ConfigSpace, refitted every few trials.",
        SMACSampler,
    ),
    "smac-gp": _Entry(
        "SMAC3 Gaussian-process Bayesian optimization over the ConfigSpace.",
        _smac_gp,
    ),
    "hyperband": _Entry(
        "Random search with Optuna's HyperbandPruner (budget: the steps the objective reports).",
        RandomConfigSampler,
        hyperband=True,
    ),
    "bohb": _Entry(
        "TPE (multivariate, grouped) with Optuna's HyperbandPruner, BOHB-style.",
        _tpe,
        hyperband=True,
    ),
    "smac-hb": _Entry(
        "SMAC3 random-forest BO with Optuna's HyperbandPruner.",
        SMACSampler,
        hyperband=True,
    ),
    "evolution": _Entry(
        "Aging (regularized) evolution: tournament selection, one active hyperparameter "
        "mutated respecting conditions, the oldest member removed.",
        RegularizedEvolutionSampler,
    ),
    "autoctr": _Entry(
        "AutoCTR: rank-based parent selection, one-token mutations, a learning-to-rank "
        "surrogate (LightGBM lambdarank) picks the child; survival by performance, complexity "
        "and age; single- or multi-objective.",
        AutoCTRSampler,
    ),
    "nbtree": _Entry(
        "AutoFeature: Naive-Bayes-tree guided evolution (mutation and crossover of good "
        "configurations scored by P(good)), with a share of random configurations.",
        NBTreeSampler,
    ),
    "rl": _Entry(
        "REINFORCE controller (Zoph & Le; NIS, AutoIAS): a factorised softmax policy over the "
        "space's hyperparameters, moving-average baseline, entropy bonus; reward = metric, or "
        "metric - cost_weight * cost.",
        ReinforceSampler,
    ),
}


def available() -> dict[str, str]:
    """Registered strategy names and their one-line descriptions."""
    return {name: entry.description for name, entry in _REGISTRY.items()}


def _sampler_options(factory: Callable[..., BaseSampler]) -> set[str]:
    target = _OPTUNA_OPTIONS.get(factory, factory)
    params = inspect.signature(target).parameters
    return {n for n, p in params.items() if p.kind == p.KEYWORD_ONLY and n != "seed"}


def create(
    name: str, space: ConfigurationSpace, *, seed: int | None = None, **options: Any
) -> Strategy:
    """Create the strategy registered as ``name`` for ``space``.

    Args:
        name: A name from :func:`available`.
        space: The ConfigSpace to search (Optuna's own samplers ignore it: they learn the space
            from the ``suggest_*`` calls).
        seed: Seed of the strategy.
        **options: Keyword arguments of the sampler (e.g. ``population_size``) and, for the
            Hyperband strategies, of ``HyperbandPruner`` (``min_resource``, ``max_resource``,
            ``reduction_factor``).

    Returns:
        The strategy.

    Raises:
        InvalidParameterError: Unknown name or option.

    Example:
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"lr": (1e-4, 1e-1)})
        >>> create("hyperband", space, seed=0, max_resource=9).pruner.__class__.__name__
        'HyperbandPruner'
    """
    entry = _REGISTRY.get(name)
    if entry is None:
        raise InvalidParameterError(
            f"Unknown strategy {name!r}: choose one of {', '.join(sorted(_REGISTRY))}."
        )
    pruner_options = {k: v for k, v in options.items() if entry.hyperband and k in _PRUNER_OPTIONS}
    sampler_options = {k: v for k, v in options.items() if k not in pruner_options}
    allowed = _sampler_options(entry.sampler)
    unknown = sorted(set(sampler_options) - allowed)
    if unknown:
        extra = f" (and {', '.join(_PRUNER_OPTIONS[:3])})" if entry.hyperband else ""
        raise InvalidParameterError(
            f"Unknown option(s) {', '.join(map(repr, unknown))} for strategy {name!r}; it "
            f"accepts {', '.join(sorted(allowed))}{extra}."
        )
    sampler = _quiet(entry.sampler)(space, seed=seed, **sampler_options)
    pruner: BasePruner = HyperbandPruner(**pruner_options) if entry.hyperband else NopPruner()
    meta = {
        "name": name,
        "seed": seed,
        "sampler": type(sampler).__name__,
        "pruner": type(pruner).__name__,
        "options": dict(options),
    }
    return Strategy(name, sampler, pruner, entry.description, meta, space)


def recreate(strategy: Strategy, *, seed: int | None = None) -> Strategy:
    """A fresh strategy with the same name, options and space (``seed`` defaults to the same)."""
    options: Mapping[str, Any] = strategy.meta.get("options", {})
    if strategy.space is None:
        raise InvalidParameterError(f"strategy {strategy.name!r} has no space to recreate it on")
    the_seed = strategy.meta.get("seed") if seed is None else seed
    return create(strategy.name, strategy.space, seed=the_seed, **options)
