"""The base of every ConfigSpace-aware strategy: one whole configuration per trial.

A :class:`ConfigSpaceSampler` samples one complete, valid ``Configuration`` in ``before_trial``,
stores it on the trial (system attribute ``recsearch:config``, so other workers see pending
configurations) and answers each ``suggest_*`` call from it. Parameters it cannot answer (outside
its space, inactive in its configuration, or with a different distribution) fall back to an
independent :class:`optuna.samplers.RandomSampler`.

All state that matters is rebuilt from ``study.get_trials()``: several processes sharing one
storage cooperate and a restarted study continues. Randomness is drawn from a generator seeded by
``(seed, trial.number)``, so one worker with one seed replays the same sequence, and workers that
share a seed still draw differently.
"""

from __future__ import annotations

import abc
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from dataclasses import field
from typing import TYPE_CHECKING
from typing import Any

import numpy as np
import optuna
from ConfigSpace import Configuration
from ConfigSpace import ConfigurationSpace
from optuna.distributions import BaseDistribution
from optuna.distributions import CategoricalDistribution
from optuna.distributions import FloatDistribution
from optuna.distributions import IntDistribution
from optuna.samplers import BaseSampler
from optuna.samplers import RandomSampler
from optuna.study import StudyDirection
from optuna.trial import FrozenTrial
from optuna.trial import TrialState

from recsearch._internals import storage_of
from recsearch._internals import study_id_of
from recsearch._internals import trial_id_of
from recsearch.errors import InvalidParameterError
from recsearch.strategies import _cs

if TYPE_CHECKING:
    from optuna.study import Study

CONFIG_ATTR = "recsearch:config"
"""Trial system attribute holding the sampled configuration (active values, JSON)."""

_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_OPEN = (TrialState.RUNNING, TrialState.WAITING)


@dataclass(frozen=True)
class Observation:
    """One finished trial as a strategy sees it.

    Attributes:
        number: The trial number (its age: smaller is older).
        vector: The configuration as a ConfigSpace vector (NaN where inactive).
        state: COMPLETE, PRUNED or FAIL.
        losses: Objective values turned into losses to minimise (``-value`` for maximised
            objectives); a pruned trial's last intermediate value; None for a failed trial
            or one without any value.
        user_attrs: The trial's user attributes (cost measures, ``fidelity``...).

    Example:
        >>> obs = Observation(0, np.array([0.5]), TrialState.COMPLETE, (0.3,), {})
        >>> obs.failed
        False
    """

    number: int
    vector: np.ndarray
    state: TrialState
    losses: tuple[float, ...] | None
    user_attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        """Whether the trial has no usable value (failed, or pruned before any report)."""
        return self.losses is None


@dataclass(frozen=True)
class History:
    """What a strategy knows about a study: finished trials and configurations in flight.

    Example:
        >>> history = History((), (), frozenset())
        >>> len(history.evaluated)
        0
    """

    observations: tuple[Observation, ...]
    pending: tuple[np.ndarray, ...]
    seen: frozenset[_cs.ConfigKey]

    @property
    def evaluated(self) -> tuple[Observation, ...]:
        """Finished trials with a value (complete, or pruned after a report), oldest first."""
        return tuple(o for o in self.observations if o.losses is not None)

    @property
    def key(self) -> tuple[int, ...]:
        """Identity of the evaluated set (trial numbers), for caching fitted models."""
        return tuple(o.number for o in self.evaluated)


def scalar_losses(observations: Sequence[Observation]) -> np.ndarray:
    """One loss per evaluated observation.

    The loss itself, or for several objectives the Pareto layer (0 = non-dominated) plus the mean
    normalised loss in [0, 1) as a tie-break.
    """
    if not observations:
        return np.empty(0)
    losses = np.asarray([o.losses for o in observations], dtype=np.float64)
    if losses.shape[1] == 1:
        return losses[:, 0]
    span = losses.max(axis=0) - losses.min(axis=0)
    span[span == 0] = 1.0
    norm = (losses - losses.min(axis=0)) / span
    layer = np.full(len(losses), -1)
    remaining = np.arange(len(losses))
    rank = 0
    while len(remaining):
        sub = losses[remaining]
        dominated = np.zeros(len(sub), dtype=bool)
        for i in range(len(sub)):
            dominated[i] = np.any(np.all(sub <= sub[i], axis=1) & np.any(sub < sub[i], axis=1))
        layer[remaining[~dominated]] = rank
        remaining = remaining[dominated]
        rank += 1
    return layer + 0.999 * norm.mean(axis=1)


def _trial_losses(trial: FrozenTrial, directions: Sequence[StudyDirection]) -> tuple[float, ...]:
    if trial.state == TrialState.COMPLETE and trial.values is not None:
        values = list(trial.values)
    elif trial.state == TrialState.PRUNED and trial.intermediate_values and len(directions) == 1:
        values = [trial.intermediate_values[max(trial.intermediate_values)]]
    else:
        return ()
    if any(not np.isfinite(v) for v in values):
        return ()
    return tuple(
        float(v) if d == StudyDirection.MINIMIZE else -float(v)
        for v, d in zip(values, directions, strict=True)
    )


def _derive_seed(*parts: int) -> int:
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=4).digest()
    return int.from_bytes(digest, "little") & 0x7FFFFFFF


class ConfigSpaceSampler(BaseSampler, abc.ABC):
    """Samples one configuration of a ConfigSpace per trial and answers each suggest from it.

    Subclasses implement :meth:`sample_configuration`; they read the study through
    :meth:`history` and draw randomness from :meth:`rng`.

    Args:
        space: The configuration space.
        seed: Seed of the sequence; None draws one.

    Example:
        >>> import optuna
        >>> from ConfigSpace import ConfigurationSpace, Float
        >>> from recsearch.strategies import RandomConfigSampler
        >>> space = ConfigurationSpace({"lr": (1e-4, 1e-1)})
        >>> study = optuna.create_study(sampler=RandomConfigSampler(space, seed=0))
        >>> study.optimize(lambda t: t.suggest_float("lr", 1e-4, 1e-1), n_trials=3)
    """

    def __init__(self, space: ConfigurationSpace, *, seed: int | None = None) -> None:
        if not isinstance(space, ConfigurationSpace):
            raise InvalidParameterError(
                f"The 'space' parameter of {type(self).__name__} must be a ConfigSpace "
                f"ConfigurationSpace. Got {type(space).__name__!r} instead."
            )
        self._space = space
        self._seed = seed
        self._base_seed = int(np.random.randint(0, 2**31 - 1)) if seed is None else int(seed)
        self._fallback = RandomSampler(seed=seed)
        self._configs: dict[int, dict[str, Any]] = {}
        self._parsed: dict[tuple[int, int], tuple[Observation, _cs.ConfigKey] | None] = {}
        self._study_key: object = None

    # ------------------------------------------------------------------ public helpers
    @property
    def space(self) -> ConfigurationSpace:
        """The configuration space sampled."""
        return self._space

    @property
    def seed(self) -> int | None:
        """The seed given at construction."""
        return self._seed

    def rng(self, trial: FrozenTrial, *, stream: int = 0) -> np.random.RandomState:
        """A random state determined by the seed, the trial number and ``stream``."""
        return np.random.RandomState(_derive_seed(self._base_seed, trial.number, stream))

    def trial_seed(self, trial: FrozenTrial, *, stream: int = 0) -> int:
        """An integer seed determined by the seed, the trial number and ``stream``."""
        return _derive_seed(self._base_seed, trial.number, stream, 7)

    def history(self, study: Study) -> History:
        """Rebuild what the study knows from its storage (parsed trials are cached)."""
        if self._study_key != (id(storage_of(study)), study_id_of(study)):
            self._parsed.clear()
            self._study_key = (id(storage_of(study)), study_id_of(study))
        trials = study.get_trials(deepcopy=False, states=_FINISHED + _OPEN)
        directions = study.directions
        numbers = {t.number for t in trials}
        others: list[FrozenTrial] = []
        if type(study) is not optuna.Study:
            # NOTE: HyperbandPruner hands samplers a study of one bracket's trials (BOHB-style
            # models per bracket); duplicates are still avoided against the whole study.
            others = [
                t
                for t in storage_of(study).get_all_trials(
                    study_id_of(study), deepcopy=False, states=_FINISHED + _OPEN
                )
                if t.number not in numbers
            ]
        observations: list[Observation] = []
        pending: list[np.ndarray] = []
        seen: set[_cs.ConfigKey] = set()
        for t in trials:
            if t.state in _OPEN:
                vector = self._vector_of(t)
                if vector is not None:
                    pending.append(vector)
                    seen.add(_cs.key_of(vector))
                continue
            cache_key = (trial_id_of(t), int(t.state))
            if cache_key not in self._parsed:
                vector = self._vector_of(t)
                entry = None
                if vector is not None:
                    losses = _trial_losses(t, directions)
                    obs = Observation(
                        number=t.number,
                        vector=vector,
                        state=t.state,
                        losses=losses or None,
                        user_attrs=dict(t.user_attrs),
                    )
                    entry = (obs, _cs.key_of(vector))
                self._parsed[cache_key] = entry
            entry = self._parsed[cache_key]
            if entry is not None:
                observations.append(entry[0])
                seen.add(entry[1])
        for t in others:
            vector = self._vector_of(t)
            if vector is not None:
                seen.add(_cs.key_of(vector))
        return History(tuple(observations), tuple(pending), frozenset(seen))

    def random_unseen(
        self, rng: np.random.RandomState, seen: frozenset[_cs.ConfigKey], *, tries: int = 20
    ) -> np.ndarray:
        """A uniformly random configuration vector not in ``seen`` (if one is found quickly)."""
        vector = _cs.random_vectors(self._space, 1, rng)[0]
        for _ in range(tries):
            if _cs.key_of(vector) not in seen:
                break
            vector = _cs.random_vectors(self._space, 1, rng)[0]
        return vector

    # ------------------------------------------------------------------ to implement
    @abc.abstractmethod
    def sample_configuration(self, study: Study, trial: FrozenTrial) -> Configuration | np.ndarray:
        """Return the configuration (or its vector) to evaluate in ``trial``."""

    # ------------------------------------------------------------------ optuna interface
    def infer_relative_search_space(
        self, study: Study, trial: FrozenTrial
    ) -> dict[str, BaseDistribution]:
        """No relative search space: the configuration is sampled in ``before_trial``."""
        return {}

    def sample_relative(
        self, study: Study, trial: FrozenTrial, search_space: dict[str, BaseDistribution]
    ) -> dict[str, Any]:
        """Nothing to sample relatively."""
        return {}

    def before_trial(self, study: Study, trial: FrozenTrial) -> None:
        """Sample the trial's configuration and store it on the trial."""
        self._ensure_config(study, trial)

    def sample_independent(
        self,
        study: Study,
        trial: FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        """Answer from the trial's configuration, or sample independently at random."""
        if param_name in self._space:
            value = self._ensure_config(study, trial).get(param_name)
            if value is not None:
                answer = _as_distribution_value(value, param_distribution)
                if answer is not _NO_VALUE:
                    return answer
        return self._fallback.sample_independent(study, trial, param_name, param_distribution)

    def after_trial(
        self,
        study: Study,
        trial: FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        """Forget the process-local copy of the trial's configuration."""
        self._configs.pop(trial_id_of(trial), None)

    def reseed_rng(self) -> None:
        """Draw a new base seed (Optuna calls this for parallel threads)."""
        self._base_seed = int(np.random.randint(0, 2**31 - 1))
        self._fallback.reseed_rng()

    # ------------------------------------------------------------------ internals
    def _vector_of(self, trial: FrozenTrial) -> np.ndarray | None:
        vector = None
        if trial.params and any(name in self._space for name in trial.params):
            vector = _cs.vector_from_params(self._space, trial.params)
        if vector is None:
            stored = trial.system_attrs.get(CONFIG_ATTR)
            if isinstance(stored, dict):
                vector = _cs.vector_from_params(self._space, stored)
        return vector

    def _ensure_config(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        values = self._configs.get(trial_id_of(trial))
        if values is not None:
            return values
        stored = trial.system_attrs.get(CONFIG_ATTR)
        fixed = trial.system_attrs.get("fixed_params")
        if isinstance(stored, dict) and _cs.vector_from_params(self._space, stored) is not None:
            values = dict(stored)
        elif isinstance(fixed, dict) and (
            vector := _cs.vector_from_params(self._space, fixed)
        ) is not None:
            # NOTE: an enqueued trial (base first) answers with its own params, unsampled.
            values = _cs.values_of(self._space, vector)
            storage_of(study).set_trial_system_attr(trial_id_of(trial), CONFIG_ATTR, values)
        else:
            values = self._claim(study, trial)
        self._configs[trial_id_of(trial)] = values
        return values

    def _claim(self, study: Study, trial: FrozenTrial) -> dict[str, Any]:
        """Sample a configuration, store it, and give it up if a racing trial holds it.

        Two workers sampling at the same moment cannot see each other's configuration, and a
        fast trial may even finish between another worker's read of the history and its
        proposal. Once ours is stored, it is given up (and sampled again, the racing
        configuration now in the history it skips) when another trial holds it that the
        history did not show as finished: one finished since, one already committed to it
        (it passed this check), or one with a smaller number (its check gives way to nobody
        still deciding). A configuration the history showed as finished was proposed on
        purpose (a space with nothing unseen left) and stands. After ``_CLAIM_TRIES`` tries the
        last proposal stands.
        """
        storage = storage_of(study)
        known = {
            t.number
            for t in storage.get_all_trials(study_id_of(study), deepcopy=False, states=_FINISHED)
        }
        values: dict[str, Any] = {}
        for _ in range(_CLAIM_TRIES):
            proposal = self.sample_configuration(study, trial)
            if isinstance(proposal, Configuration):
                proposal = proposal.get_array()
            vector = np.asarray(proposal, dtype=np.float64)
            values = _cs.values_of(self._space, vector)
            storage.set_trial_system_attr(trial_id_of(trial), CONFIG_ATTR, values)
            if not self._held_by_racing_trial(study, trial, _cs.key_of(vector), known):
                break
        storage.set_trial_system_attr(trial_id_of(trial), _COMMITTED_ATTR, True)
        return values

    def _held_by_racing_trial(
        self, study: Study, trial: FrozenTrial, key: _cs.ConfigKey, known: set[int]
    ) -> bool:
        for other in storage_of(study).get_all_trials(study_id_of(study), deepcopy=False):
            if other.number == trial.number or other.number in known:
                continue
            racing = (
                other.state in _FINISHED
                or other.number < trial.number
                or bool(other.system_attrs.get(_COMMITTED_ATTR))
            )
            if racing:
                vector = self._vector_of(other)
                if vector is not None and _cs.key_of(vector) == key:
                    return True
        return False


_CLAIM_TRIES = 3
"""Samples per trial at most when racing workers proposed the same configuration."""
_COMMITTED_ATTR = "recsearch:committed"
"""Trial system attribute set once the trial's configuration survived the race check."""


class _NoValue:
    pass


_NO_VALUE = _NoValue()


def _as_distribution_value(value: Any, distribution: BaseDistribution) -> Any:
    """Convert a ConfigSpace value to ``distribution``'s representation, or ``_NO_VALUE``."""
    value = _cs.plain(value)
    if isinstance(distribution, CategoricalDistribution):
        for choice in distribution.choices:
            if type(choice) is type(value) and choice == value:
                return choice
        for choice in distribution.choices:
            if str(choice) == str(value):
                return choice
        return _NO_VALUE
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return _NO_VALUE
    if isinstance(distribution, IntDistribution):
        if float(value) != int(value):
            return _NO_VALUE
        v = int(value)
        if distribution.low <= v <= distribution.high and (v - distribution.low) % (
            distribution.step
        ) == 0:
            return v
        return _NO_VALUE
    if isinstance(distribution, FloatDistribution):
        v = float(value)
        span = distribution.high - distribution.low
        tol = 1e-9 * max(abs(span), 1.0)
        if not distribution.low - tol <= v <= distribution.high + tol:
            return _NO_VALUE
        v = min(max(v, distribution.low), distribution.high)
        if distribution.step is not None:
            k = round((v - distribution.low) / distribution.step)
            v = min(distribution.low + k * distribution.step, distribution.high)
        return float(v)
    return _NO_VALUE
