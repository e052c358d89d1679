"""The bridge between ConfigSpace spaces and Optuna trials.

Every hyperparameter of a ``ConfigurationSpace`` maps to exactly one Optuna distribution
(:func:`distributions`), and values convert both ways with :func:`to_param` / :func:`from_param`:

========================================  =============================================
ConfigSpace 1.x hyperparameter            Optuna distribution
========================================  =============================================
categorical                               ``CategoricalDistribution(choices)``
ordinal                                   ``CategoricalDistribution(sequence)`` (order kept:
                                          the tuple is the ordinal sequence, see
                                          :func:`ordered_choices`)
uniform / normal / beta float (log too)   ``FloatDistribution(lower, upper, log=log)``
uniform / normal / beta integer (log too) ``IntDistribution(lower, upper, log=log)``
constant                                  ``CategoricalDistribution((value,))``
========================================  =============================================

NOTE: normal and beta priors are not passed to Optuna: the sampler sees only the bounds (and the
log flag), so an Optuna sampler samples them uniformly within the bounds. ConfigSpace-aware
samplers (``recsearch.strategies``) sample the prior themselves and answer each parameter with
:func:`to_param`.

:func:`suggest` walks the space parents first and suggests only the active hyperparameters:
activity is decided on the values suggested so far, with the space's own conditions (equals,
not-equals, less/greater-than, in, and/or conjunctions). The finished configuration is checked
against every forbidden clause (equals, in, less/greater-than, and/or conjunctions, relations);
a forbidden one sets the trial's ``failure`` user attribute and raises
:class:`~recsearch.errors.ForbiddenConfigurationError`, so the objective never trains it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING
from typing import Any

import numpy as np
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace
from ConfigSpace.hyperparameters import CategoricalHyperparameter
from ConfigSpace.hyperparameters import Constant
from ConfigSpace.hyperparameters import FloatHyperparameter
from ConfigSpace.hyperparameters import Hyperparameter
from ConfigSpace.hyperparameters import IntegerHyperparameter
from ConfigSpace.hyperparameters import OrdinalHyperparameter
from ConfigSpace.types import NotSet
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution

from recsearch.errors import ForbiddenConfigurationError
from recsearch.errors import InvalidParameterError
from recsearch.errors import SpaceError
from recsearch.failures import record_failure

if TYPE_CHECKING:
    import optuna
    from optuna.trial import FrozenTrial

__all__ = [
    "configuration_from_params",
    "configuration_from_trial",
    "distribution",
    "distributions",
    "forbidden_reason",
    "from_param",
    "ordered_choices",
    "params_from_configuration",
    "suggest",
    "to_param",
]


def _py(value: Any) -> Any:
    """A plain Python scalar for a numpy scalar (Optuna storages need JSON-able values)."""
    if isinstance(value, np.generic):
        return value.item()
    return value


def distribution(hp: Hyperparameter) -> BaseDistribution:
    """The Optuna distribution :func:`suggest` uses for one hyperparameter.

    Args:
        hp: A ConfigSpace 1.x hyperparameter.

    Returns:
        The matching Optuna distribution (see the module docstring for the table).

    Raises:
        InvalidParameterError: For a hyperparameter type the bridge does not know.
    """
    if isinstance(hp, Constant):
        return CategoricalDistribution((_py(hp.value),))
    if isinstance(hp, OrdinalHyperparameter):
        return CategoricalDistribution(tuple(_py(v) for v in hp.sequence))
    if isinstance(hp, CategoricalHyperparameter):
        return CategoricalDistribution(tuple(_py(v) for v in hp.choices))
    if isinstance(hp, IntegerHyperparameter):
        return IntDistribution(int(hp.lower), int(hp.upper), log=bool(hp.log))
    if isinstance(hp, FloatHyperparameter):
        return FloatDistribution(float(hp.lower), float(hp.upper), log=bool(hp.log))
    raise InvalidParameterError(
        f"Hyperparameter {hp.name!r} has type {type(hp).__name__}, which the Optuna bridge does "
        "not support; use ConfigSpace 1.x Categorical, Float, Integer or Constant."
    )


def distributions(space: ConfigurationSpace) -> dict[str, BaseDistribution]:
    """One Optuna distribution per hyperparameter, exactly those :func:`suggest` passes.

    A ConfigSpace-aware sampler can answer ``sample_independent(study, trial, name, dist)`` by
    ``to_param(space[name], config[name])``; ``dist`` equals ``distributions(space)[name]``.

    Example:
        >>> from ConfigSpace import ConfigurationSpace, Float
        >>> distributions(ConfigurationSpace({"lr": (1e-4, 1e-1)}))["lr"]
        FloatDistribution(high=0.1, log=False, low=0.0001, step=None)
    """
    return {name: distribution(hp) for name, hp in space.items()}


def ordered_choices(hp: Hyperparameter) -> tuple[Any, ...] | None:
    """The ordinal sequence of an ordinal hyperparameter, ``None`` for any other type."""
    if isinstance(hp, OrdinalHyperparameter):
        return tuple(_py(v) for v in hp.sequence)
    return None


def to_param(hp: Hyperparameter, value: Any) -> Any:
    """A ConfigSpace value as the Optuna parameter value of :func:`distribution` ``(hp)``."""
    value = _py(value)
    if isinstance(hp, IntegerHyperparameter):
        return int(value)
    if isinstance(hp, FloatHyperparameter):
        return float(value)
    return value


def from_param(hp: Hyperparameter, value: Any) -> Any:
    """An Optuna parameter value as the legal ConfigSpace value of ``hp``.

    Raises:
        SpaceError: When the value is not legal for ``hp``.
    """
    value = _py(value)
    if isinstance(hp, Constant):
        out = hp.value
    elif isinstance(hp, OrdinalHyperparameter | CategoricalHyperparameter):
        choices = hp.sequence if isinstance(hp, OrdinalHyperparameter) else hp.choices
        matches = [c for c in choices if _py(c) == value and type(_py(c)) is type(value)]
        if not matches:
            matches = [c for c in choices if _py(c) == value]
        if not matches:
            raise SpaceError(
                f"Value {value!r} is not a choice of hyperparameter {hp.name!r}: {choices!r}."
            )
        out = matches[0]
    elif isinstance(hp, IntegerHyperparameter):
        out = int(round(value))
    elif isinstance(hp, FloatHyperparameter):
        # NOTE: log-scale sampling may overshoot a bound by one ulp; clip it back.
        out = float(min(max(float(value), hp.lower), hp.upper))
    else:
        distribution(hp)  # raises for unknown types
        out = value
    if not hp.legal_value(out):
        raise SpaceError(f"Value {value!r} is not legal for hyperparameter {hp.name!r}: {hp}.")
    return out


def _suggest_one(trial: optuna.trial.BaseTrial, name: str, dist: BaseDistribution) -> Any:
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, log=dist.log)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, log=dist.log)
    assert isinstance(dist, CategoricalDistribution)
    return trial.suggest_categorical(name, dist.choices)


def _is_active(space: ConfigurationSpace, name: str, values: Mapping[str, Any]) -> bool:
    return all(cond.satisfied_by_value(values) for cond in space.parent_conditions_of[name])


def _vector(space: ConfigurationSpace, values: Mapping[str, Any]) -> np.ndarray:
    vec = np.full(len(space), np.nan, dtype=np.float64)
    for name, value in values.items():
        if value is not NotSet:
            vec[space.index_of[name]] = space[name].to_vector(value)
    return vec


def forbidden_reason(space: ConfigurationSpace, values: Mapping[str, Any]) -> str | None:
    """Why ``values`` (the active hyperparameters) hit a forbidden clause; ``None`` if none.

    Example:
        >>> from ConfigSpace import ConfigurationSpace, ForbiddenEqualsClause
        >>> cs = ConfigurationSpace({"a": ["x", "y"]})
        >>> cs.add(ForbiddenEqualsClause(cs["a"], "y"))
        >>> forbidden_reason(cs, {"a": "y"})
        "forbidden configuration: it matches the clause (Forbidden: a == 'y')"
    """
    vec = _vector(space, values)
    for clause in space.forbidden_clauses:
        if clause.is_forbidden_vector(vec):
            return f"forbidden configuration: it matches the clause ({clause!r})"
    return None


def suggest(trial: optuna.trial.BaseTrial, space: ConfigurationSpace) -> Configuration:
    """Suggest one configuration of ``space`` through an Optuna trial.

    Walks the hyperparameters parents first; a hyperparameter is suggested only when all its
    conditions hold on the values suggested so far. Works with ``optuna.Trial`` and
    ``optuna.trial.FixedTrial``, and with any sampler.

    Args:
        trial: The Optuna trial.
        space: The ConfigSpace space.

    Returns:
        The validated configuration.

    Raises:
        ForbiddenConfigurationError: The configuration hits a forbidden clause; the trial's
            ``failure`` user attribute says which, before the error is raised.
        SpaceError: The trial returned a value that is not legal in the space.

    Example:
        >>> import optuna
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"lr": (1e-4, 1e-1), "opt": ["adam", "sgd"]})
        >>> config = suggest(optuna.trial.FixedTrial({"lr": 0.01, "opt": "sgd"}), space)
        >>> config["opt"]
        'sgd'
    """
    dists = distributions(space)
    values: dict[str, Any] = {}
    for name, hp in space.items():
        if not _is_active(space, name, values):
            values[name] = NotSet
            continue
        values[name] = from_param(hp, _suggest_one(trial, name, dists[name]))
    active = {k: v for k, v in values.items() if v is not NotSet}
    reason = forbidden_reason(space, active)
    if reason is not None:
        record_failure(trial, "forbidden", reason)
        raise ForbiddenConfigurationError(reason)
    return _configuration(space, active, origin="optuna")


def _configuration(
    space: ConfigurationSpace, values: Mapping[str, Any], *, origin: str
) -> Configuration:
    try:
        # NOTE: the constructor checks legality, activity and forbidden clauses.
        config = Configuration(space, values=dict(values), origin=origin)
    except SpaceError:
        raise
    except Exception as exc:  # ConfigSpace raises plain ValueErrors of several kinds
        raise SpaceError(f"Invalid configuration {dict(values)!r}: {exc}") from exc
    return config


def configuration_from_params(
    params: Mapping[str, Any], space: ConfigurationSpace
) -> Configuration:
    """The configuration of ``space`` whose active hyperparameters take ``params``.

    Parameters that are not in the space or are inactive are ignored (a trial of a composed
    space may carry extra parameters).

    Raises:
        SpaceError: An active hyperparameter is missing, a value is illegal, or the
            configuration is forbidden.
    """
    values: dict[str, Any] = {}
    for name, hp in space.items():
        if not _is_active(space, name, values):
            values[name] = NotSet
            continue
        if name not in params:
            if isinstance(hp, Constant):
                values[name] = hp.value
                continue
            raise SpaceError(
                f"Parameter {name!r} is active in the space but missing from the trial params "
                f"{sorted(params)}."
            )
        values[name] = from_param(hp, params[name])
    active = {k: v for k, v in values.items() if v is not NotSet}
    reason = forbidden_reason(space, active)
    if reason is not None:
        raise ForbiddenConfigurationError(reason)
    return _configuration(space, active, origin="params")


def configuration_from_trial(trial: FrozenTrial, space: ConfigurationSpace) -> Configuration:
    """Rebuild the configuration of a finished (or running) trial from its params.

    Example:
        >>> import optuna
        >>> from ConfigSpace import ConfigurationSpace
        >>> space = ConfigurationSpace({"units": (8, 64)})
        >>> study = optuna.create_study()
        >>> _ = study.optimize(lambda t: suggest(t, space)["units"], n_trials=1)
        >>> configuration_from_trial(study.trials[0], space)["units"] == study.trials[0].value
        True
    """
    return configuration_from_params(trial.params, space)


def params_from_configuration(config: Configuration) -> dict[str, Any]:
    """The Optuna params (``name -> to_param value``) of a configuration's active values."""
    space = config.config_space
    return {name: to_param(space[name], value) for name, value in config.items()}
